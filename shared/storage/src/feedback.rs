//! The DynamoDB adapter of [`FeedbackStore`]: the message's pointer (one strongly consistent
//! GetItem), then one conditional UpdateItem of the message alone. The condition makes a
//! repeat a no-op, so `feedbackAt` keeps the time the feedback was first given.

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use chat_domain::Spelling;
use chat_domain::ids::Caller;
use chat_domain::message::Feedback;
use chat_domain::timestamp::Timestamp;
use uuid::Uuid;

use crate::dynamo::DynamoStore;
use crate::error::{StoreError, classify};
use crate::items::message::{FEEDBACK, FEEDBACK_AT};
use crate::items::message_pointer::{self, MessagePointer};
use crate::items::{key, string as s};
use crate::keys::{
    MESSAGE_POINTER_SK, PARTITION_KEY, conversation_pk, message_pointer_pk, message_sk,
};
use crate::ports::FeedbackStore;

impl FeedbackStore for DynamoStore {
    async fn message_pointer(
        &self,
        caller: Caller,
        id: Uuid,
    ) -> Result<MessagePointer, StoreError> {
        let output = self
            .client()
            .get_item()
            .table_name(self.table())
            .set_key(Some(key(
                message_pointer_pk(caller.project, id),
                MESSAGE_POINTER_SK,
            )))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        let item = output.item.ok_or(StoreError::NotFound)?;
        message_pointer::from_item(&item)
    }

    async fn set_feedback(
        &self,
        caller: Caller,
        conversation_id: Uuid,
        id: Uuid,
        feedback: Option<Feedback>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let update = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(
                conversation_pk(caller.project, conversation_id),
                message_sk(id),
            )))
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#feedback", FEEDBACK)
            .expression_attribute_names("#feedbackAt", FEEDBACK_AT)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let update = match feedback {
            Some(value) => update
                .condition_expression(
                    "attribute_exists(#pk) AND (attribute_not_exists(#feedback) OR #feedback <> :feedback)",
                )
                .update_expression("SET #feedback = :feedback, #feedbackAt = :now")
                .expression_attribute_values(":feedback", s(value.as_str()))
                .expression_attribute_values(":now", s(now.to_string())),
            None => update
                .condition_expression("attribute_exists(#pk) AND attribute_exists(#feedback)")
                .update_expression("REMOVE #feedback, #feedbackAt"),
        };
        match update.send().await {
            Ok(_) => Ok(()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                let exists = match error.into_service_error() {
                    UpdateItemError::ConditionalCheckFailedException(failure) => {
                        failure.item.is_some()
                    }
                    _ => false,
                };
                // The message is there and already says so: nothing to change.
                if exists {
                    Ok(())
                } else {
                    Err(StoreError::NotFound)
                }
            }
            Err(error) => Err(classify(error)),
        }
    }
}
