//! The DynamoDB adapter of [`CompletionStore`]: one BatchGetItem before the model, one
//! TransactWriteItems for the turn, one UpdateItem to finish the assistant message.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
};
use uuid::Uuid;

use crate::domain::{Caller, ConversationStatus, VisitorId};
use crate::storage::dynamo::{DynamoStore, classify};
use crate::storage::items::string as s;
use crate::storage::items::{
    self, CONVERSATION_SK, Item, PROJECT_SK, assistant_sk, conversation_pk, message_item,
    message_sk, project_pk,
};
use crate::storage::{
    CompletionStore, ConversationState, MessageOutcome, NewTurn, StoreError, TurnContext,
};

/// Attempts of a turn write that lost a race with another transaction on the same
/// conversation (DynamoDB cancels one of two concurrent transactions on an item).
const MAX_TURN_ATTEMPTS: u32 = 8;

/// Attempts at reading keys a batch left unprocessed under load.
const MAX_BATCH_ATTEMPTS: u32 = 5;

fn key(pk: String, sk: String) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

fn sort_key(item: &Item) -> Option<&str> {
    match item.get("sk") {
        Some(AttributeValue::S(sk)) => Some(sk),
        _ => None,
    }
}

/// Backoff with jitter between retries of conflicting or unprocessed work.
fn backoff(attempt: u32) -> Duration {
    let base = 10u64 << attempt.min(5);
    let jitter = u64::from(Uuid::new_v4().as_bytes()[0]) % base.max(1);
    Duration::from_millis(base + jitter)
}

impl CompletionStore for DynamoStore {
    async fn turn_context(
        &self,
        caller: Caller,
        conversation_id: Uuid,
        assistant_id: Option<Uuid>,
    ) -> Result<TurnContext, StoreError> {
        let mut keys = vec![
            key(project_pk(caller.project), PROJECT_SK.to_owned()),
            key(
                conversation_pk(caller.project, conversation_id),
                CONVERSATION_SK.to_owned(),
            ),
        ];
        if let Some(id) = assistant_id {
            keys.push(key(project_pk(caller.project), assistant_sk(id)));
        }
        let mut request = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build()
                .map_err(|e| StoreError::Other(Box::new(e)))?,
        );
        let mut found: Vec<Item> = Vec::new();
        let mut attempt = 0;
        while let Some(keys) = request.take() {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            attempt += 1;
            let output = self
                .client()
                .batch_get_item()
                .request_items(self.table(), keys)
                .send()
                .await
                .map_err(classify)?;
            if let Some(mut responses) = output.responses {
                found.extend(responses.remove(self.table()).unwrap_or_default());
            }
            request = output
                .unprocessed_keys
                .and_then(|mut left| left.remove(self.table()))
                .filter(|left| !left.keys().is_empty());
            if request.is_some() && attempt >= MAX_BATCH_ATTEMPTS {
                return Err(StoreError::Throttled(
                    "keys left unprocessed after retries".into(),
                ));
            }
        }
        let mut context = TurnContext::default();
        for item in &found {
            match sort_key(item) {
                Some(PROJECT_SK) => context.project = Some(items::project_from_item(item)?),
                Some(CONVERSATION_SK) => {
                    context.conversation = Some(ConversationState {
                        owner: items::owner_of(item)?,
                        status: items::status_of(item)?,
                    })
                }
                Some(sk) if sk.starts_with(items::ASSISTANT_SK_PREFIX) => {
                    context.assistant = Some(items::assistant_from_item(item)?)
                }
                _ => {}
            }
        }
        Ok(context)
    }

    async fn write_turn(&self, caller: Caller, turn: &NewTurn) -> Result<(), StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_write_turn(caller, turn).await {
                Err(TurnWriteError::Conflict) if attempt < MAX_TURN_ATTEMPTS => {
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(TurnWriteError::Conflict) => {
                    return Err(StoreError::Throttled(
                        "turn write kept conflicting with concurrent turns".into(),
                    ));
                }
                Err(TurnWriteError::Store(error)) => return Err(error),
                Ok(()) => return Ok(()),
            }
        }
    }

    async fn finish_message(
        &self,
        caller: Caller,
        conversation_id: Uuid,
        message_id: Uuid,
        outcome: &MessageOutcome,
    ) -> Result<(), StoreError> {
        let parts = crate::domain::text_parts(&outcome.text);
        let mut update = self
            .client()
            .update_item()
            .table_name(self.table())
            .key("pk", s(conversation_pk(caller.project, conversation_id)))
            .key("sk", s(message_sk(message_id)))
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", s(outcome.status.as_str()))
            .expression_attribute_values(":parts", s(parts.as_str()));
        let mut set = vec!["#status = :status", "parts = :parts"];
        let mut remove = Vec::new();
        match &outcome.metadata {
            Some(metadata) => {
                set.push("metadata = :metadata");
                update = update.expression_attribute_values(":metadata", s(metadata.to_string()));
            }
            None => remove.push("metadata"),
        }
        match &outcome.error {
            Some(error) => {
                set.push("#error = :error");
                update = update
                    .expression_attribute_names("#error", "error")
                    .expression_attribute_values(":error", s(error.clone()));
            }
            None => {
                remove.push("#error");
                update = update.expression_attribute_names("#error", "error");
            }
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        update
            .update_expression(expression)
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }
}

/// Why one attempt at a turn write failed.
enum TurnWriteError {
    /// Lost a race with another transaction: try again.
    Conflict,
    /// Anything else, final.
    Store(StoreError),
}

impl DynamoStore {
    async fn try_write_turn(&self, caller: Caller, turn: &NewTurn) -> Result<(), TurnWriteError> {
        let now = s(turn.assistant_message.created_at.to_string());
        let visitor = VisitorId(caller.visitor.0);
        let conversation = Update::builder()
            .table_name(self.table())
            .key("pk", s(conversation_pk(caller.project, turn.conversation_id)))
            .key("sk", s(CONVERSATION_SK))
            .update_expression(
                "SET id = :id, visitorId = if_not_exists(visitorId, :visitor), \
                 #status = if_not_exists(#status, :open), createdAt = if_not_exists(createdAt, :now), \
                 isHumanHandled = if_not_exists(isHumanHandled, :false), updatedAt = :now, \
                 lastInteractionAt = :now, gsi1pk = :gsi1pk, gsi1sk = :now",
            )
            // Created here, or the caller's and still open: one condition, race-free.
            .condition_expression(
                "attribute_not_exists(pk) OR (visitorId = :visitor AND #status = :open)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":id", s(turn.conversation_id.to_string()))
            .expression_attribute_values(":visitor", s(caller.visitor.0.to_string()))
            .expression_attribute_values(":open", s(ConversationStatus::Open.as_str()))
            .expression_attribute_values(":now", now)
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .expression_attribute_values(
                ":gsi1pk",
                s(items::visitor_gsi_pk(caller.project, visitor)),
            )
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| TurnWriteError::Store(StoreError::Other(Box::new(e))))?;
        let put = |message: &crate::domain::Message| {
            Put::builder()
                .table_name(self.table())
                .set_item(Some(message_item(caller.project, message)))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(|e| TurnWriteError::Store(StoreError::Other(Box::new(e))))
        };
        let writes = vec![
            TransactWriteItem::builder().update(conversation).build(),
            TransactWriteItem::builder()
                .put(put(&turn.user_message)?)
                .build(),
            TransactWriteItem::builder()
                .put(put(&turn.assistant_message)?)
                .build(),
        ];
        let result = self
            .client()
            .transact_write_items()
            .set_transact_items(Some(writes))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(failure))
                if failure.err().is_transaction_canceled_exception() =>
            {
                let TransactWriteItemsError::TransactionCanceledException(canceled) =
                    failure.into_err()
                else {
                    unreachable!("checked above");
                };
                let reasons = canceled.cancellation_reasons.unwrap_or_default();
                let code = |index: usize| reasons.get(index).and_then(|r| r.code.as_deref());
                if reasons
                    .iter()
                    .any(|r| r.code.as_deref() == Some("TransactionConflict"))
                {
                    return Err(TurnWriteError::Conflict);
                }
                if code(0) == Some("ConditionalCheckFailed") {
                    let old = reasons[0].item.clone().unwrap_or_default();
                    if items::owner_of(&old).map_err(TurnWriteError::Store)? != caller.visitor.0 {
                        return Err(TurnWriteError::Store(StoreError::NotOwner));
                    }
                    return Err(TurnWriteError::Store(StoreError::Closed));
                }
                if code(1) == Some("ConditionalCheckFailed")
                    || code(2) == Some("ConditionalCheckFailed")
                {
                    // The messages exist: an earlier attempt of this very turn was applied.
                    return Ok(());
                }
                Err(TurnWriteError::Store(StoreError::Other(
                    format!("turn write canceled: {reasons:?}").into(),
                )))
            }
            Err(error) => Err(TurnWriteError::Store(classify(error))),
        }
    }
}
