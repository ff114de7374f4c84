//! The DynamoDB adapter of the ports, each operation shaped to the fewest round trips (see
//! DESIGN.md): get is one Query, close one conditional UpdateItem. The completion's
//! operations are in `turns.rs`, the rate-limit counters' in `counters.rs`.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use chat_domain::Spelling;
use chat_domain::conversation::{Conversation, ConversationStatus};
use chat_domain::ids::Caller;
use chat_domain::timestamp::Timestamp;
use uuid::Uuid;

use crate::error::{StoreError, classify};
use crate::items::conversation::{
    self as conversation_item, CLOSE_REASON, CLOSED_AT, STATUS, UPDATED_AT,
};
use crate::items::message as message_item;
use crate::items::{Item, key, string as s};
use crate::keys::{
    CONVERSATION_SK, PARTITION_KEY, PROJECT_INDEX_PK, conversation_pk, project_gsi_pk,
};
use crate::ports::{CloseOutcome, ConversationCloser, ConversationReader, MAX_MESSAGES_RETURNED};

/// Backoff with jitter before retrying DynamoDB work that conflicted with a concurrent
/// transaction or was left unprocessed: 20 ms doubling to 320 ms, plus up to as much again.
pub(crate) fn backoff(attempt: u32) -> std::time::Duration {
    let base = 10u64 << attempt.min(5);
    let jitter = u64::from(Uuid::new_v4().as_bytes()[0]) % base;
    std::time::Duration::from_millis(base + jitter)
}

/// The production storage: one table, one client shared by every request.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    /// A store over `table` through `client`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The SDK client, for the operations the port does not cover (seeding, admin).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }
}

impl ConversationReader for DynamoStore {
    async fn conversation_with_messages(
        &self,
        caller: Caller,
        id: Uuid,
    ) -> Result<Conversation, StoreError> {
        let pk = conversation_pk(caller.project, id);
        // Newest first: the messages (`M#<uuidv7>`) sort after `C`, so a descending
        // query yields the newest messages and then, last, the conversation item.
        let mut messages: Vec<Item> = Vec::new();
        let mut conversation: Option<Item> = None;
        let mut start_key: Option<Item> = None;
        loop {
            let wanted = MAX_MESSAGES_RETURNED + 1 - messages.len();
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", PARTITION_KEY)
                .expression_attribute_values(":pk", s(&pk))
                .scan_index_forward(false)
                .consistent_read(true)
                .limit(wanted as i32)
                .set_exclusive_start_key(start_key.take())
                .send()
                .await
                .map_err(classify)?;
            for item in page.items.unwrap_or_default() {
                if conversation_item::is_conversation(&item) {
                    conversation = Some(item);
                } else if message_item::is_message(&item) && messages.len() < MAX_MESSAGES_RETURNED
                {
                    messages.push(item);
                }
            }
            start_key = page.last_evaluated_key;
            let done = conversation.is_some()
                || messages.len() >= MAX_MESSAGES_RETURNED
                || start_key.is_none();
            if done {
                break;
            }
        }
        let found = match conversation {
            Some(item) => item,
            // More messages than are returned: the conversation item was not reached.
            None if !messages.is_empty() => self
                .client
                .get_item()
                .table_name(&self.table)
                .set_key(Some(key(pk, CONVERSATION_SK)))
                .consistent_read(true)
                .send()
                .await
                .map_err(classify)?
                .item
                .ok_or(StoreError::NotFound)?,
            None => return Err(StoreError::NotFound),
        };
        conversation_item::check_access(caller, &found)?;
        let mut conversation = conversation_item::from_item(&found)?;
        let mut parsed = messages
            .iter()
            .rev()
            .map(|item| message_item::from_item(id, item))
            .collect::<Result<Vec<_>, _>>()?;
        parsed.shrink_to_fit();
        conversation.messages = Some(parsed);
        Ok(conversation)
    }
}

impl ConversationCloser for DynamoStore {
    async fn close_conversation(
        &self,
        caller: Caller,
        id: Uuid,
        reason: Option<&str>,
        now: Timestamp,
    ) -> Result<CloseOutcome, StoreError> {
        let now = s(now.to_string());
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                conversation_pk(caller.project, id),
                CONVERSATION_SK,
            )))
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#closedAt", CLOSED_AT)
            .expression_attribute_names("#updatedAt", UPDATED_AT)
            .expression_attribute_names("#reason", CLOSE_REASON)
            .expression_attribute_names("#projectIndex", PROJECT_INDEX_PK)
            .expression_attribute_values(":projectIndex", s(project_gsi_pk(caller.project)))
            .expression_attribute_values(":open", s(ConversationStatus::Open.as_str()))
            .expression_attribute_values(":closed", s(ConversationStatus::Closed.as_str()))
            .expression_attribute_values(":now", now)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        // One condition covers the three refusals; ALL_OLD tells them apart.
        update = conversation_item::update_if_owned(update, caller, "#status = :open");
        update = match reason {
            Some(reason) => update
                .update_expression(
                    "SET #status = :closed, #closedAt = :now, #updatedAt = :now, #reason = :reason, #projectIndex = :projectIndex",
                )
                .expression_attribute_values(":reason", s(reason)),
            None => update.update_expression(
                "SET #status = :closed, #closedAt = :now, #updatedAt = :now, #projectIndex = :projectIndex REMOVE #reason",
            ),
        };
        match update.send().await {
            Ok(_) => Ok(CloseOutcome::Closed),
            Err(SdkError::ServiceError(failure))
                if failure.err().is_conditional_check_failed_exception() =>
            {
                let old = match failure.into_err() {
                    UpdateItemError::ConditionalCheckFailedException(e) => e.item,
                    _ => None,
                };
                let Some(old) = old else {
                    return Err(StoreError::NotFound);
                };
                conversation_item::check_access(caller, &old)?;
                match conversation_item::status_of(&old)? {
                    ConversationStatus::Closed => Ok(CloseOutcome::AlreadyClosed),
                    // The condition failed although the item now matches it: it cannot
                    // have been open and ours, so the item is not what this code writes.
                    ConversationStatus::Open => Err(StoreError::Corrupt(
                        "close condition failed on an open conversation".into(),
                    )),
                }
            }
            Err(error) => Err(classify(error)),
        }
    }
}
