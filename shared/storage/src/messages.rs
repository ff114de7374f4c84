//! The DynamoDB adapter of [`MessageLister`]: a conversation's messages, oldest first, from
//! one ascending Query of its partition (the conversation item `C` sorts before every
//! `M#<uuidv7>`, so the first page tells not-found and another visitor's apart), and the
//! conditional repair of generations that died.

use aws_sdk_dynamodb::types::AttributeValue;
use chat_domain::Spelling;
use chat_domain::ids::Caller;
use chat_domain::input::conversations::MessageQuery;
use chat_domain::interrupted::{INTERRUPTED_TEXT, InterruptPolicy};
use chat_domain::message::MessageStatus;
use chat_domain::timestamp::Timestamp;
use futures_util::future::join_all;
use uuid::Uuid;

use crate::dynamo::DynamoStore;
use crate::error::{StoreError, classify};
use crate::items::conversation as conversation_item;
use crate::items::message::{self as message_item, ERROR, STATUS};
use crate::items::{Item, key, string as s};
use crate::keys::{MESSAGE_SK_PREFIX, PARTITION_KEY, SORT_KEY, conversation_pk, message_sk};
use crate::ports::{MessageLister, MessagePage};

/// The most 1 MB pages one message list reads: enough for a page of 1,000 messages past
/// an offset of some thousands, and a bound on what any request costs.
pub const MAX_MESSAGE_PAGES: usize = 8;

impl MessageLister for DynamoStore {
    async fn list_messages(
        &self,
        caller: Caller,
        id: Uuid,
        query: &MessageQuery,
        policy: InterruptPolicy,
        now: Timestamp,
    ) -> Result<MessagePage, StoreError> {
        let pk = conversation_pk(caller.project, id);
        let wanted = query.offset.saturating_add(query.limit);
        let mut matched: u64 = 0;
        let mut found_conversation = false;
        let mut page_out = MessagePage {
            messages: Vec::new(),
            interrupted: Vec::new(),
        };
        let mut start_key: Option<Item> = None;
        for _ in 0..MAX_MESSAGE_PAGES {
            let page = self
                .client()
                .query()
                .table_name(self.table())
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", PARTITION_KEY)
                .expression_attribute_values(":pk", s(&pk))
                .scan_index_forward(true)
                .consistent_read(true)
                .set_exclusive_start_key(start_key.take())
                .send()
                .await
                .map_err(classify)?;
            for item in page.items.unwrap_or_default() {
                if conversation_item::is_conversation(&item) {
                    conversation_item::check_access(caller, &item)?;
                    found_conversation = true;
                    continue;
                }
                if !message_item::is_message(&item) || matched >= wanted {
                    continue;
                }
                let mut message = message_item::from_item(id, &item)?;
                if policy.apply(&mut message, now) {
                    page_out.interrupted.push(message.id);
                }
                let keep = query.role.is_none_or(|role| role == message.role)
                    && query
                        .status
                        .is_none_or(|status| Some(status) == message.status);
                if keep {
                    matched += 1;
                    if matched > query.offset {
                        page_out.messages.push(message);
                    }
                }
            }
            if !found_conversation {
                // The conversation item sorts first: without it there is no conversation.
                return Err(StoreError::NotFound);
            }
            start_key = page.last_evaluated_key;
            if start_key.is_none() || matched >= wanted {
                break;
            }
        }
        Ok(page_out)
    }

    async fn repair_interrupted(
        &self,
        caller: Caller,
        id: Uuid,
        messages: &[Uuid],
    ) -> Result<(), StoreError> {
        let pk = conversation_pk(caller.project, id);
        let repairs = messages.iter().map(|message| {
            self.client()
                .update_item()
                .table_name(self.table())
                .set_key(Some(key(pk.clone(), message_sk(*message))))
                // Only a message still streaming: one that finished meanwhile keeps its end.
                .condition_expression("#status = :streaming")
                .update_expression("SET #status = :error, #error = :text")
                .expression_attribute_names("#status", STATUS)
                .expression_attribute_names("#error", ERROR)
                .expression_attribute_values(":streaming", s(MessageStatus::Streaming.as_str()))
                .expression_attribute_values(":error", s(MessageStatus::Error.as_str()))
                .expression_attribute_values(":text", AttributeValue::S(INTERRUPTED_TEXT.into()))
                .send()
        });
        for result in join_all(repairs).await {
            match result {
                Ok(_) => {}
                Err(error)
                    if error
                        .as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) => {}
                Err(error) => return Err(classify(error)),
            }
        }
        Ok(())
    }
}

impl DynamoStore {
    /// The newest `limit` messages of conversation `id`, newest first, in one Query page
    /// (strongly consistent when `consistent`): the send route's history and a listed
    /// conversation's last message.
    pub(crate) async fn newest_messages(
        &self,
        caller: Caller,
        id: Uuid,
        limit: usize,
        consistent: bool,
    ) -> Result<Vec<chat_domain::message::Message>, StoreError> {
        let page = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :m)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#sk", SORT_KEY)
            .expression_attribute_values(
                ":pk",
                AttributeValue::S(conversation_pk(caller.project, id)),
            )
            .expression_attribute_values(":m", AttributeValue::S(MESSAGE_SK_PREFIX.to_owned()))
            .scan_index_forward(false)
            .consistent_read(consistent)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(classify)?;
        page.items
            .unwrap_or_default()
            .iter()
            .map(|item| message_item::from_item(id, item))
            .collect()
    }
}
