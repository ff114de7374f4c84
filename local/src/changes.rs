//! The local server's event source mapping: follows the table's stream from the moment the
//! server starts, as Lambda follows it on AWS, and hands each batch of records to the push
//! function's own handler ([`chat_push::Push`]), which posts to the server's sockets. So a
//! write's answer never waits for a socket here either, and what is pushed is decided by
//! the one code that decides it on AWS.
//!
//! Like the mapping: records go in the stream's order (read every 50 ms while changes come,
//! backing off to 400 ms when none do), a batch whose handler names a first
//! failure is told again from that record (at most [`MAX_RETRIES`] times), and a shard that
//! ends is followed by its children.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_sdk_dynamodbstreams::Client;
use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};
use chat_domain::error::DisplayChain;
use chat_push::Push;
use chat_storage::DynamoStore;
use tokio::sync::{mpsc, oneshot};

/// How soon the stream is read again after a read that brought records: the latency of a
/// push, locally, while the server is busy.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The longest wait between reads of an idle stream (each read without records doubles the
/// wait up to this): the embedded engine scans every record of the stream on each read.
pub const IDLE_POLL_INTERVAL: Duration = Duration::from_millis(400);

/// How many times a batch is told again after its handler names a failure.
pub const MAX_RETRIES: u32 = 2;

/// Records per read, as a mapping's batch size.
const BATCH_SIZE: i32 = 100;

/// Why the stream could not be followed.
#[derive(Debug, thiserror::Error)]
#[error("following the table's stream: {0}")]
pub struct FollowError(String);

/// The error of a step of following the stream that failed with `error`.
pub(crate) fn follow_error(error: impl std::error::Error + 'static) -> FollowError {
    FollowError(DisplayChain(&error).to_string())
}

/// The running follower: ask it to catch up with [`ChangeFollower::caught_up`].
#[derive(Clone)]
pub struct ChangeFollower {
    catch_up: mpsc::Sender<oneshot::Sender<()>>,
}

impl ChangeFollower {
    /// Starts following `stream_arn` from its newest record, pushing through `push`: every
    /// change committed after this returns is pushed.
    pub async fn start(
        client: Client,
        stream_arn: String,
        push: Arc<Push<DynamoStore>>,
    ) -> Result<Self, FollowError> {
        let mut stream = Stream {
            client,
            arn: stream_arn,
            push,
            shards: HashMap::new(),
            seen: HashSet::new(),
        };
        stream.add_shards(ShardIteratorType::Latest).await?;
        let (catch_up, mut requests) = mpsc::channel::<oneshot::Sender<()>>(16);
        tokio::spawn(async move {
            let mut wait = POLL_INTERVAL;
            loop {
                let waiting = tokio::select! {
                    request = requests.recv() => match request {
                        Some(request) => Some(request),
                        None => return,
                    },
                    () = tokio::time::sleep(wait) => None,
                };
                // Read until a round brings nothing: what was committed is pushed.
                let mut brought = false;
                while stream.read_round().await {
                    brought = true;
                }
                wait = if brought {
                    POLL_INTERVAL
                } else {
                    (wait * 2).min(IDLE_POLL_INTERVAL)
                };
                if let Some(waiting) = waiting {
                    let _ = waiting.send(());
                }
            }
        });
        Ok(Self { catch_up })
    }

    /// Returns once every change committed before the call has been pushed.
    pub async fn caught_up(&self) {
        let (done, wait) = oneshot::channel();
        if self.catch_up.send(done).await.is_ok() {
            let _ = wait.await;
        }
    }
}

struct Stream {
    client: Client,
    arn: String,
    push: Arc<Push<DynamoStore>>,
    /// Each open shard's next iterator.
    shards: HashMap<String, String>,
    /// Every shard followed so far (a closed one is not read again).
    seen: HashSet<String>,
}

impl Stream {
    /// Starts reading the shards not followed yet, at `position`.
    async fn add_shards(&mut self, position: ShardIteratorType) -> Result<(), FollowError> {
        let described = self
            .client
            .describe_stream()
            .stream_arn(&self.arn)
            .send()
            .await
            .map_err(follow_error)?;
        let shards = described
            .stream_description()
            .map(|d| d.shards().to_vec())
            .unwrap_or_default();
        for shard in shards {
            let Some(id) = shard.shard_id() else { continue };
            // Every shard, even one that reads as closed: the embedded engine gives its one
            // open shard an ending sequence number as soon as it holds a record, and a shard
            // that has really ended answers its first read with no next iterator.
            if self.seen.contains(id) {
                continue;
            }
            let iterator = self.iterator(id, position.clone(), None).await?;
            self.seen.insert(id.to_owned());
            self.shards.insert(id.to_owned(), iterator);
        }
        Ok(())
    }

    async fn iterator(
        &self,
        shard: &str,
        position: ShardIteratorType,
        sequence_number: Option<&str>,
    ) -> Result<String, FollowError> {
        self.client
            .get_shard_iterator()
            .stream_arn(&self.arn)
            .shard_id(shard)
            .shard_iterator_type(position)
            .set_sequence_number(sequence_number.map(str::to_owned))
            .send()
            .await
            .map_err(follow_error)?
            .shard_iterator()
            .map(str::to_owned)
            .ok_or_else(|| FollowError(format!("no iterator for shard {shard}")))
    }

    /// One read of every open shard, each batch pushed; whether any brought records.
    async fn read_round(&mut self) -> bool {
        let mut brought = false;
        let shards: Vec<(String, String)> = self.shards.drain().collect();
        let mut closed = false;
        for (shard, iterator) in shards {
            match self.read_shard(&shard, iterator).await {
                Ok((next, count)) => {
                    brought |= count > 0;
                    match next {
                        Some(next) => {
                            self.shards.insert(shard, next);
                        }
                        None => closed = true,
                    }
                }
                Err((error, iterator)) => {
                    tracing::warn!(%shard, %error, "reading the table's stream failed");
                    self.shards.insert(shard, iterator);
                }
            }
        }
        if closed && let Err(error) = self.add_shards(ShardIteratorType::TrimHorizon).await {
            tracing::warn!(%error, "finding the stream's new shards failed");
        }
        brought
    }

    /// Reads one batch of `shard` and pushes it: the shard's next iterator (`None` once it
    /// has ended) and how many records it brought; on an error, the iterator to try again.
    async fn read_shard(
        &self,
        shard: &str,
        iterator: String,
    ) -> Result<(Option<String>, usize), (FollowError, String)> {
        let read = self
            .client
            .get_records()
            .shard_iterator(&iterator)
            .limit(BATCH_SIZE)
            .send()
            .await
            .map_err(|e| (follow_error(e), iterator.clone()))?;
        let records = read.records();
        let next = read.next_shard_iterator().map(str::to_owned);
        if records.is_empty() {
            return Ok((next, 0));
        }
        let mut batch: Vec<EventRecord> =
            records.iter().map(|r| event_record(r, &self.arn)).collect();
        for attempt in 0..=MAX_RETRIES {
            let answer = self.push.handle(event(batch.clone())).await;
            let Some(first) = answer
                .batch_item_failures
                .first()
                .and_then(|f| f.item_identifier.clone())
            else {
                break;
            };
            let Some(at) = batch
                .iter()
                .position(|r| r.change.sequence_number.as_deref() == Some(first.as_str()))
            else {
                break;
            };
            if attempt == MAX_RETRIES {
                tracing::warn!(%shard, sequence_number = %first, "changes not pushed after their retries were dropped");
                break;
            }
            batch.drain(..at);
            tokio::time::sleep(POLL_INTERVAL).await;
        }
        Ok((next, records.len()))
    }
}

/// The event Lambda hands the push function.
fn event(records: Vec<EventRecord>) -> Event {
    let mut event = Event::default();
    event.records = records;
    event
}

/// A record of the stream as the event source mapping writes it into the event.
fn event_record(record: &Record, stream_arn: &str) -> EventRecord {
    let mut event = EventRecord::default();
    event.event_id = record.event_id().unwrap_or_default().to_owned();
    event.event_name = record
        .event_name()
        .map(|name| name.as_str().to_owned())
        .unwrap_or_default();
    event.event_source = record.event_source().map(str::to_owned);
    event.event_version = record.event_version().map(str::to_owned);
    event.event_source_arn = Some(stream_arn.to_owned());
    event.aws_region = record.aws_region().unwrap_or_default().to_owned();
    if let Some(change) = record.dynamodb() {
        event.change.keys = change.keys().cloned().unwrap_or_default().into();
        event.change.new_image = change.new_image().cloned().unwrap_or_default().into();
        event.change.old_image = change.old_image().cloned().unwrap_or_default().into();
        event.change.sequence_number = change.sequence_number().map(str::to_owned);
        event.change.size_bytes = change.size_bytes().unwrap_or_default();
    }
    event
}
