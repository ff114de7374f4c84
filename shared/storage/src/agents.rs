//! The DynamoDB adapter of [`AgentStore`]. A handoff and a release are each one conditional
//! UpdateItem returning the item as written (`ALL_NEW`), and on a failed condition the item
//! as it was (`ALL_OLD`), which tells the refusals apart with no further read. An agent
//! message is one strongly consistent GetItem (its `humanAgent` is the conversation's,
//! which only a read knows: a transaction returns nothing) and one TransactWriteItems,
//! conditioned on that very agent, so a handoff to someone else in between cannot put the
//! wrong name on the message.

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
};
use chat_domain::Spelling;
use chat_domain::conversation::{Conversation, ConversationStatus};
use chat_domain::human_agent::HumanAgent;
use chat_domain::ids::{Caller, new_id};
use chat_domain::message::{Message, MessageRole, MessageStatus};
use chat_domain::timestamp::Timestamp;
use uuid::Uuid;

use crate::dynamo::{DynamoStore, backoff};
use crate::error::{StoreError, cancellation_reasons, classify};
use crate::items::conversation::{
    self as conversation_item, HUMAN_AGENT, IS_HUMAN_HANDLED, LAST_INTERACTION_AT, STATUS,
    UPDATED_AT, VISITOR_ID,
};
use crate::items::{
    Item, human_agent_value, key, message as message_item, message_pointer, string as s,
};
use crate::keys::{
    CONVERSATION_SK, PARTITION_KEY, PROJECT_INDEX_PK, VISITOR_INDEX_SK, conversation_pk,
    project_gsi_pk,
};
use crate::ports::AgentStore;

/// Attempts of an agent message that lost a race (another transaction on the conversation,
/// a newer time stored, a new agent).
const MAX_ATTEMPTS: u32 = 6;

/// What a failed update's condition found, from the item as it was.
fn old_item(error: UpdateItemError) -> Option<Item> {
    match error {
        UpdateItemError::ConditionalCheckFailedException(failure) => failure.item,
        _ => None,
    }
}

impl AgentStore for DynamoStore {
    async fn hand_off(
        &self,
        caller: Caller,
        id: Uuid,
        agent: &HumanAgent,
        now: Timestamp,
    ) -> Result<Conversation, StoreError> {
        let mut update = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(
                conversation_pk(caller.project, id),
                CONVERSATION_SK,
            )))
            .update_expression(
                "SET #handled = :true, #agent = :agent, #updatedAt = :now, #projectIndex = :projectIndex",
            )
            .expression_attribute_names("#projectIndex", PROJECT_INDEX_PK)
            .expression_attribute_values(":projectIndex", s(project_gsi_pk(caller.project)))
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#handled", IS_HUMAN_HANDLED)
            .expression_attribute_names("#agent", HUMAN_AGENT)
            .expression_attribute_names("#updatedAt", UPDATED_AT)
            .expression_attribute_values(":open", s(ConversationStatus::Open.as_str()))
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":agent", human_agent_value(agent))
            .expression_attribute_values(":now", s(now.to_string()))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        update = conversation_item::update_if_owned(update, caller, "#status = :open");
        match update.send().await {
            Ok(output) => conversation_item::from_item(&output.attributes.unwrap_or_default()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                let old = old_item(error.into_service_error()).ok_or(StoreError::NotFound)?;
                conversation_item::check_access(caller, &old)?;
                match conversation_item::status_of(&old)? {
                    ConversationStatus::Closed => Err(StoreError::Closed),
                    ConversationStatus::Open => Err(StoreError::Corrupt(
                        "handoff condition failed on an open conversation".into(),
                    )),
                }
            }
            Err(error) => Err(classify(error)),
        }
    }

    async fn release(
        &self,
        caller: Caller,
        id: Uuid,
        now: Timestamp,
    ) -> Result<Conversation, StoreError> {
        let mut update = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(
                conversation_pk(caller.project, id),
                CONVERSATION_SK,
            )))
            .update_expression(
                "SET #handled = :false, #updatedAt = :now, #projectIndex = :projectIndex REMOVE #agent",
            )
            .expression_attribute_names("#projectIndex", PROJECT_INDEX_PK)
            .expression_attribute_values(":projectIndex", s(project_gsi_pk(caller.project)))
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#handled", IS_HUMAN_HANDLED)
            .expression_attribute_names("#agent", HUMAN_AGENT)
            .expression_attribute_names("#updatedAt", UPDATED_AT)
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .expression_attribute_values(":now", s(now.to_string()))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        // Only a handed-off conversation is written: releasing one the AI has already
        // changes nothing, `updatedAt` included.
        update = conversation_item::update_if_owned(update, caller, "#handled = :true");
        match update.send().await {
            Ok(output) => conversation_item::from_item(&output.attributes.unwrap_or_default()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                let old = old_item(error.into_service_error()).ok_or(StoreError::NotFound)?;
                conversation_item::check_access(caller, &old)?;
                if conversation_item::human_handled_of(&old)? {
                    return Err(StoreError::Corrupt(
                        "release condition failed on a handed-off conversation".into(),
                    ));
                }
                conversation_item::from_item(&old)
            }
            Err(error) => Err(classify(error)),
        }
    }

    async fn conversation(&self, caller: Caller, id: Uuid) -> Result<Conversation, StoreError> {
        let output = self
            .client()
            .get_item()
            .table_name(self.table())
            .set_key(Some(key(
                conversation_pk(caller.project, id),
                CONVERSATION_SK,
            )))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        let item = output.item.ok_or(StoreError::NotFound)?;
        conversation_item::check_access(caller, &item)?;
        conversation_item::from_item(&item)
    }

    async fn write_agent_message(
        &self,
        caller: Caller,
        conversation: &Conversation,
        content: &str,
        now: Timestamp,
    ) -> Result<Message, StoreError> {
        let mut state = AgentState::of(conversation)?;
        let mut message = Message::text(
            new_id(),
            conversation.id,
            MessageRole::HumanAgent,
            content,
            MessageStatus::Complete,
            now,
        );
        let mut moving = vec![UPDATED_AT, LAST_INTERACTION_AT];
        for attempt in 1..=MAX_ATTEMPTS {
            message.human_agent = state.agent.clone();
            match self
                .try_agent_message(caller, conversation.visitor_id, &message, &moving)
                .await?
            {
                Attempt::Written => return Ok(message),
                Attempt::Conflict => tokio::time::sleep(backoff(attempt)).await,
                Attempt::Refused(old) => {
                    let now_text = now.to_string();
                    state = AgentState::of(&conversation_item::from_item(&old)?)?;
                    // Open and handed off still: only the agent or a time changed.
                    moving = [UPDATED_AT, LAST_INTERACTION_AT]
                        .into_iter()
                        .filter(|name| match old.get(*name) {
                            Some(AttributeValue::S(stored)) => *stored <= now_text,
                            _ => true,
                        })
                        .collect();
                }
            }
        }
        Err(StoreError::Throttled(
            "agent message kept losing races on its conversation".into(),
        ))
    }
}

/// The part of a conversation an agent message depends on, refused when it cannot take one.
struct AgentState {
    agent: Option<HumanAgent>,
}

impl AgentState {
    fn of(conversation: &Conversation) -> Result<Self, StoreError> {
        if conversation.status == ConversationStatus::Closed {
            return Err(StoreError::Closed);
        }
        if !conversation.is_human_handled {
            return Err(StoreError::NotHumanHandled);
        }
        Ok(Self {
            agent: conversation.human_agent.clone(),
        })
    }
}

/// How one attempt at an agent message ended.
enum Attempt {
    /// Stored (now, or by an earlier attempt the SDK retried).
    Written,
    /// Lost a race with another transaction: try again.
    Conflict,
    /// The conversation's condition failed: the item as it was.
    Refused(Item),
}

impl DynamoStore {
    /// One TransactWriteItems: the conversation's times (those in `moving`, each only if
    /// not past the message's), on the condition that it is open and handled by the
    /// message's agent; the message; its pointer, so feedback finds it by id.
    async fn try_agent_message(
        &self,
        caller: Caller,
        owner: Uuid,
        message: &Message,
        moving: &[&'static str],
    ) -> Result<Attempt, StoreError> {
        let other = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Other(Box::new(e));
        let now = s(message.created_at.to_string());
        let mut set = Vec::new();
        let mut condition = vec![
            "attribute_exists(#pk)".to_owned(),
            "#status = :open".to_owned(),
            "#handled = :true".to_owned(),
        ];
        let mut update = Update::builder()
            .table_name(self.table())
            .set_key(Some(key(
                conversation_pk(caller.project, message.chat_id),
                CONVERSATION_SK,
            )))
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#handled", IS_HUMAN_HANDLED)
            .expression_attribute_names("#agent", HUMAN_AGENT)
            .expression_attribute_values(":open", s(ConversationStatus::Open.as_str()))
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        condition.push(match &message.human_agent {
            Some(agent) => {
                update = update.expression_attribute_values(":agent", human_agent_value(agent));
                "#agent = :agent".to_owned()
            }
            None => "attribute_not_exists(#agent)".to_owned(),
        });
        for (index, name) in moving.iter().enumerate() {
            set.push(format!("#t{index} = :now"));
            condition.push(format!("#t{index} <= :now"));
            update = update.expression_attribute_names(format!("#t{index}"), *name);
            if *name == LAST_INTERACTION_AT {
                // The visitor index sorts by the newest message's time too.
                set.push("#gsi1sk = :now".to_owned());
                update = update.expression_attribute_names("#gsi1sk", VISITOR_INDEX_SK);
            }
        }
        if let Some(owner) = conversation_item::owner_condition(caller) {
            condition.push(owner.to_owned());
            update = update
                .expression_attribute_names("#visitor", VISITOR_ID)
                .expression_attribute_values(":visitor", s(caller.visitor.0.to_string()));
        }
        let conversation = if set.is_empty() {
            // (Only this rare case leaves the project index attribute to the next write.)
            // Both times are already past the message's (a later message committed first):
            // the condition alone guards the write.
            let mut check = aws_sdk_dynamodb::types::ConditionCheck::builder()
                .table_name(self.table())
                .set_key(Some(key(
                    conversation_pk(caller.project, message.chat_id),
                    CONVERSATION_SK,
                )))
                .condition_expression(condition.join(" AND "))
                .expression_attribute_names("#pk", PARTITION_KEY)
                .expression_attribute_names("#status", STATUS)
                .expression_attribute_names("#handled", IS_HUMAN_HANDLED)
                .expression_attribute_names("#agent", HUMAN_AGENT)
                .expression_attribute_values(":open", s(ConversationStatus::Open.as_str()))
                .expression_attribute_values(":true", AttributeValue::Bool(true))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                );
            if let Some(agent) = &message.human_agent {
                check = check.expression_attribute_values(":agent", human_agent_value(agent));
            }
            if conversation_item::owner_condition(caller).is_some() {
                check = check
                    .expression_attribute_names("#visitor", VISITOR_ID)
                    .expression_attribute_values(":visitor", s(caller.visitor.0.to_string()));
            }
            TransactWriteItem::builder()
                .condition_check(check.build().map_err(other)?)
                .build()
        } else {
            set.push("#projectIndex = :projectIndex".to_owned());
            let update = update
                .expression_attribute_names("#projectIndex", PROJECT_INDEX_PK)
                .expression_attribute_values(":projectIndex", s(project_gsi_pk(caller.project)))
                .update_expression(format!("SET {}", set.join(", ")))
                .condition_expression(condition.join(" AND "))
                .expression_attribute_values(":now", now);
            TransactWriteItem::builder()
                .update(update.build().map_err(other)?)
                .build()
        };
        let put = |item: Item| -> Result<TransactWriteItem, StoreError> {
            let put = Put::builder()
                .table_name(self.table())
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PARTITION_KEY)
                .build()
                .map_err(other)?;
            Ok(TransactWriteItem::builder().put(put).build())
        };
        let writes = vec![
            conversation,
            put(message_item::attributes(caller.project, message))?,
            put(message_pointer::attributes(caller.project, owner, message))?,
        ];
        let result = self
            .client()
            .transact_write_items()
            .set_transact_items(Some(writes))
            .send()
            .await;
        let reasons = match result {
            Ok(_) => return Ok(Attempt::Written),
            Err(error) => cancellation_reasons(error)?,
        };
        let code = |index: usize| reasons.get(index).and_then(|r| r.code.as_deref());
        if reasons
            .iter()
            .any(|r| r.code.as_deref() == Some("TransactionConflict"))
        {
            return Ok(Attempt::Conflict);
        }
        if code(1) == Some("ConditionalCheckFailed") || code(2) == Some("ConditionalCheckFailed") {
            // The message exists: an earlier attempt of this very write was applied.
            return Ok(Attempt::Written);
        }
        if code(0) == Some("ConditionalCheckFailed") {
            let old = reasons[0].item.clone().ok_or(StoreError::NotFound)?;
            conversation_item::check_access(caller, &old)?;
            // Refused for good unless it is still open and handed off.
            AgentState::of(&conversation_item::from_item(&old)?)?;
            return Ok(Attempt::Refused(old));
        }
        Err(StoreError::Other(
            format!("agent message canceled: {reasons:?}").into(),
        ))
    }
}
