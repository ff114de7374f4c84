//! The DynamoDB adapter of [`ConversationStarter`] and [`ConversationLister`].
//!
//! Starting is one conditional PutItem through the conversation item's one writer.
//!
//! Listing reads the visitor's partition of the index `gsi1` (`gsi1pk` = the visitor,
//! `gsi1sk` = `lastInteractionAt`), newest first, and sorts in memory: the contract's
//! orders (ties by id, nulls last both ways, `open` before `closed`, titles by code point)
//! and its `total` need every conversation of the visitor anyway, and an index per order
//! could not break ties by id nor put nulls last in both directions. Conversation items are
//! small (about 400 bytes), so a 1 MB page of the index holds some 2,500: a visitor with
//! 10,000 conversations costs 4 sequential Query pages (eventually consistent: about 500
//! read units) and some 4 MB held briefly in memory; reading stops after
//! [`MAX_INDEX_PAGES`] pages, so a visitor beyond some 60,000 conversations is listed from
//! their newest 60,000. The page's newest messages are then read beside each other (one
//! Query of `Limit` 1 per conversation on the page, all at once: one more round trip, at
//! most 100 reads of one item).
//!
//! The project's list (`scope=project`, a secret key) is the same, served from the project's
//! partition of the index `gsi2` (`gsi2pk` = the project, sorted by the same `gsi1sk`),
//! which every writer of a conversation item fills. Index items are about 450 bytes, so a
//! 1 MB page holds some 2,300. A project with 100,000 conversations (45 MB of index) costs,
//! per page of the list, the [`MAX_INDEX_PAGES`] sequential Query pages the bound allows
//! (24 MB read eventually consistent: about 3,000 read units, $0.0004 at on-demand prices,
//! and some 24 round trips of a few milliseconds each) plus the page's newest messages, and
//! lists the newest 55,000 or so by `lastInteractionAt` (`total` counts those): a bound of
//! what one request may cost rather than an exact count past it. Paging stays exact below
//! the bound, in every order, since every page sorts the same items the same way. One index
//! partition takes some 1,000 writes a second, which bounds a project's turns per second.
//!
//! Why not a copy of the newest message on the conversation item: every list reads the
//! visitor's whole index partition to sort it, so a copy would travel in every page of it.
//! An answer of a few KB would make each conversation item ten times larger, and a visitor
//! with 10,000 conversations would cost some 20 index pages instead of 4 (and more read
//! units than the 100 small reads it saves), besides making every writer of a message
//! (finishing, feedback, repairs) write the conversation too.

use chat_domain::conversation::Conversation;
use chat_domain::ids::Caller;
use chat_domain::input::conversations::{ListQuery, ListScope};
use chat_domain::listing::sort;
use chat_domain::message::Message;
use futures_util::future::try_join_all;

use crate::dynamo::DynamoStore;
use crate::error::{StoreError, classify};
use crate::items::conversation as conversation_item;
use crate::items::string as s;
use crate::keys::{
    PARTITION_KEY, PROJECT_INDEX, PROJECT_INDEX_PK, VISITOR_INDEX, VISITOR_INDEX_PK,
    project_gsi_pk, visitor_gsi_pk,
};
use crate::ports::{ConversationLister, ConversationStarter, ListedPage};

/// The most pages of the index one list reads (each up to 1 MB).
pub const MAX_INDEX_PAGES: usize = 24;

impl ConversationStarter for DynamoStore {
    async fn start_conversation(
        &self,
        caller: Caller,
        conversation: &Conversation,
    ) -> Result<(), StoreError> {
        let put = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(conversation_item::attributes(
                caller.project,
                conversation,
            )))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .send()
            .await;
        match put {
            Ok(_) => Ok(()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::Exists)
            }
            Err(error) => Err(classify(error)),
        }
    }
}

impl ConversationLister for DynamoStore {
    async fn list_conversations(
        &self,
        caller: Caller,
        query: &ListQuery,
    ) -> Result<ListedPage, StoreError> {
        let (index, index_pk, partition) = match query.scope {
            ListScope::Own => (
                VISITOR_INDEX,
                VISITOR_INDEX_PK,
                visitor_gsi_pk(caller.project, caller.visitor),
            ),
            // The caller's right to it is the edge's to check (a secret key only).
            ListScope::Project => (
                PROJECT_INDEX,
                PROJECT_INDEX_PK,
                project_gsi_pk(caller.project),
            ),
        };
        let mut all: Vec<Conversation> = Vec::new();
        let mut start_key = None;
        for _ in 0..MAX_INDEX_PAGES {
            let page = self
                .client()
                .query()
                .table_name(self.table())
                .index_name(index)
                .key_condition_expression("#g = :g")
                .expression_attribute_names("#g", index_pk)
                .expression_attribute_values(":g", s(partition.as_str()))
                .scan_index_forward(false)
                .set_exclusive_start_key(start_key.take())
                .send()
                .await
                .map_err(classify)?;
            for item in page.items.unwrap_or_default() {
                let conversation = conversation_item::from_item(&item)?;
                if query
                    .status
                    .is_none_or(|status| status == conversation.status)
                {
                    all.push(conversation);
                }
            }
            start_key = page.last_evaluated_key;
            if start_key.is_none() {
                break;
            }
        }
        sort(&mut all, query.order_by, query.order_dir);
        let total = all.len() as u64;
        let from = usize::try_from(query.offset)
            .unwrap_or(usize::MAX)
            .min(all.len());
        let to = from.saturating_add(query.limit as usize).min(all.len());
        let page: Vec<Conversation> = all.drain(from..to).collect();
        let newest = try_join_all(page.iter().map(|c| self.newest_message(caller, c.id))).await?;
        Ok(ListedPage {
            total,
            data: page.into_iter().zip(newest).collect(),
        })
    }
}

impl DynamoStore {
    /// The newest message of conversation `id`, if it has one: one Query of one item.
    async fn newest_message(
        &self,
        caller: Caller,
        id: uuid::Uuid,
    ) -> Result<Option<Message>, StoreError> {
        Ok(self
            .newest_messages(caller, id, 1, false)
            .await?
            .into_iter()
            .next())
    }
}
