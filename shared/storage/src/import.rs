//! Writing a whole conversation at once, through the same item writers production uses: how
//! the local server's demo data, the tests and the benchmark make conversations with a
//! history (and how a history from elsewhere would be brought in).

use std::time::Duration;

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use chat_domain::conversation::Conversation;
use chat_domain::ids::ProjectId;
use chat_domain::message::Message;

use crate::dynamo::DynamoStore;
use crate::error::{StoreError, classify};
use crate::items::{conversation, message, message_pointer};
use crate::keys::PARTITION_KEY;

/// DynamoDB's limit on the writes of one BatchWriteItem.
const BATCH_WRITE_LIMIT: usize = 25;

/// Attempts at writes a batch left unprocessed under load.
const MAX_BATCH_ATTEMPTS: u32 = 8;

/// What an import did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Imported {
    /// The conversation and its messages were written.
    Written,
    /// A conversation with that id exists already: nothing was written.
    Exists,
}

impl DynamoStore {
    /// Writes `conversation` and then `messages` (each `chat_id` is the conversation's),
    /// unless a conversation with its id exists already. Not one transaction: a history may
    /// be larger than one allows; a failure part-way leaves the conversation with the
    /// messages written so far.
    pub async fn import_conversation(
        &self,
        project: ProjectId,
        conversation: &Conversation,
        messages: &[Message],
    ) -> Result<Imported, StoreError> {
        let put = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(conversation::attributes(project, conversation)))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .send()
            .await;
        match put {
            Ok(_) => {}
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                return Ok(Imported::Exists);
            }
            Err(error) => return Err(classify(error)),
        }
        // Each message with its pointer, as a turn writes them.
        let items: Vec<_> = messages
            .iter()
            .flat_map(|m| {
                [
                    message::attributes(project, m),
                    message_pointer::attributes(project, conversation.visitor_id, m),
                ]
            })
            .collect();
        for chunk in items.chunks(BATCH_WRITE_LIMIT) {
            let writes = chunk
                .iter()
                .map(|item| {
                    let put = PutRequest::builder()
                        .set_item(Some(item.clone()))
                        .build()
                        .map_err(|e| StoreError::Other(Box::new(e)))?;
                    Ok(WriteRequest::builder().put_request(put).build())
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            self.batch_write(writes).await?;
        }
        Ok(Imported::Written)
    }

    async fn batch_write(&self, mut writes: Vec<WriteRequest>) -> Result<(), StoreError> {
        for attempt in 0..MAX_BATCH_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(20 << attempt.min(5))).await;
            }
            let output = self
                .client()
                .batch_write_item()
                .request_items(self.table(), writes)
                .send()
                .await
                .map_err(classify)?;
            writes = output
                .unprocessed_items
                .and_then(|mut left| left.remove(self.table()))
                .unwrap_or_default();
            if writes.is_empty() {
                return Ok(());
            }
        }
        Err(StoreError::Throttled(
            "writes left unprocessed after retries".into(),
        ))
    }
}
