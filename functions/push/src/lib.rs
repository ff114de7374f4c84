//! The push function (DESIGN.md "Live updates"): the consumer of the table's stream. Each
//! change the widget's sockets are told of (a `user` or `human_agent` message stored, a
//! handoff: [`chat_storage::changes::live_change`] decides) goes to every socket of its
//! conversation through the Management API, in the stream's order, so the writes that
//! caused them never wait for a socket. The local server follows the same stream and hands
//! its batches to this same handler.
//!
//! Failure: a change whose sockets could not be listed reached nobody, so the batch is
//! answered with that record as its first failure (`ReportBatchItemFailures`) and the event
//! source mapping tells it, and what came after it, again. A post that failed for one socket
//! is logged and not retried (the others got it); a record that does not read is logged and
//! skipped, so that it cannot hold up its shard.

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use chat_domain::env::Env;
use chat_edge::{Base, StartupError};
use chat_sockets::Publisher;
use chat_sockets::settings::{ENDPOINT_VAR, LiveSettings};
use chat_storage::StoreError;
use chat_storage::changes::{ChangeKind, LiveChange, live_change};
use chat_storage::items::Item;
use chat_storage::ports::ConnectionStore;

/// The stream filters of the event source mapping (`template.yaml`, checked against these
/// by `scripts/check_template_matches_code.py`): the records [`live_change`] can tell,
/// so that no other change starts this function. The handler decides again on its own.
pub const STREAM_FILTERS: [&str; 2] = [
    r#"{"eventName":["INSERT"],"dynamodb":{"Keys":{"sk":{"S":[{"prefix":"M#"}]}},"NewImage":{"role":{"S":["user","human_agent"]}}}}"#,
    r#"{"eventName":["MODIFY"],"dynamodb":{"Keys":{"sk":{"S":["C"]}},"NewImage":{"isHumanHandled":{"BOOL":[true]}}}}"#,
];

/// The push function's state: the publisher that reaches the sockets.
pub struct Push<S> {
    /// Lists a conversation's sockets and posts to them.
    pub publisher: Publisher<S>,
}

impl Push<chat_storage::DynamoStore> {
    /// The state of a process built from `base`, posting through the Management API that
    /// `env` names (required: this function exists only beside the WebSocket API).
    pub fn build(base: &Base, env: &Env<'_>) -> Result<Self, StartupError> {
        let live = LiveSettings::from_env(env)?;
        let publisher = Publisher::through_management_api(base.store.clone(), &base.sdk, &live)
            .ok_or(chat_domain::env::ConfigError::Missing(ENDPOINT_VAR))?;
        Ok(Self { publisher })
    }
}

impl<S: ConnectionStore> Push<S> {
    /// A function posting through `publisher`.
    pub fn new(publisher: Publisher<S>) -> Self {
        Self { publisher }
    }

    /// Pushes every change of `event` that the sockets are told of, in order; the answer
    /// names the first record to be told again, if any.
    pub async fn handle(&self, event: Event) -> DynamoDbEventResponse {
        let mut response = DynamoDbEventResponse::default();
        for record in event.records {
            let change = match change_of(&record) {
                Ok(Some(change)) => change,
                Ok(None) => continue,
                Err(error) => {
                    tracing::warn!(event_id = %record.event_id, %error, "a stream record that does not read was skipped");
                    continue;
                }
            };
            if self.publisher.announce(change).await.unlisted {
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = record.change.sequence_number.clone();
                response.batch_item_failures.push(failure);
                break;
            }
        }
        response
    }
}

/// What one stream record tells the sockets.
fn change_of(record: &EventRecord) -> Result<Option<LiveChange>, StoreError> {
    let Some(kind) = ChangeKind::from_event_name(&record.event_name) else {
        return Ok(None);
    };
    let old: Item = record.change.old_image.clone().into();
    let new: Item = record.change.new_image.clone().into();
    live_change(kind, &old, &new)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    /// Whether `record` matches a Lambda event filter `pattern`, in the part of the filter
    /// language [`STREAM_FILTERS`] use: objects match field by field, a list matches a value
    /// equal to one of its items or starting with an item's `prefix`.
    fn matches(pattern: &Value, record: &Value) -> bool {
        match (pattern, record) {
            (Value::Object(fields), Value::Object(_)) => fields
                .iter()
                .all(|(name, want)| record.get(name).is_some_and(|got| matches(want, got))),
            (Value::Array(options), got) => options.iter().any(|option| match option {
                Value::Object(rule) => rule
                    .get("prefix")
                    .and_then(Value::as_str)
                    .zip(got.as_str())
                    .is_some_and(|(prefix, got)| got.starts_with(prefix)),
                value => value == got,
            }),
            _ => false,
        }
    }

    fn filtered(record: &Value) -> bool {
        STREAM_FILTERS
            .iter()
            .any(|filter| matches(&serde_json::from_str(filter).unwrap(), record))
    }

    fn sample(name: &str) -> Vec<Value> {
        let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
        let event: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        event["Records"].as_array().unwrap().clone()
    }

    #[test]
    fn the_filters_pass_every_record_the_handler_tells_and_no_other() {
        let told = [
            sample("push-message-stored.json"),
            sample("push-handoff-and-agent-message.json"),
        ]
        .concat();
        for record in &told {
            assert!(filtered(record), "{record}");
            let record: EventRecord = serde_json::from_value(record.clone()).unwrap();
            assert!(change_of(&record).unwrap().is_some());
        }
        // What the handler does not tell: an assistant's answer, a conversation's update
        // that hands nothing off, a message's later update, a deletion.
        let mut answer = told[0].clone();
        answer["dynamodb"]["NewImage"]["role"] = json!({"S": "assistant"});
        let mut not_handed = told[1].clone();
        not_handed["dynamodb"]["NewImage"]["isHumanHandled"] = json!({"BOOL": false});
        let mut updated = told[0].clone();
        updated["eventName"] = json!("MODIFY");
        let mut removed = told[0].clone();
        removed["eventName"] = json!("REMOVE");
        for record in [answer, not_handed, updated, removed] {
            assert!(!filtered(&record), "{record}");
            let record: EventRecord = serde_json::from_value(record).unwrap();
            assert_eq!(change_of(&record).unwrap(), None);
        }
    }
}
