//! The crawl worker (DESIGN.md "Knowledge"): the consumer of the knowledge's FIFO queue and
//! the target of its schedule.
//! - A batch of the queue: each message is one job ([`SyncJob`]), run by the same
//!   [`Worker`] the local server runs. A job that fails is named in the answer's
//!   `batchItemFailures`, so SQS gives it again, and after the queue's `maxReceiveCount`
//!   moves it to the dead-letter queue; every step of a job is idempotent.
//! - A schedule tick: the sources whose scheduled sync is due are marked queued and queued
//!   (a source with a sync queued or running already is passed over).

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use chat_domain::timestamp::Timestamp;
use chat_knowledge::blobs::BlobStore;
use chat_knowledge::jobs::{JobQueue, SyncJob};
use chat_knowledge::sync::Worker;
use chat_storage::StoreError;
use chat_storage::ports::{IndexVersionStore, PageStore, SourceStore};

/// The most due sources one tick queues (the next tick takes the rest).
pub const MAX_DUE_PER_TICK: usize = 500;

/// The worker function's state.
pub struct CrawlWorker<S, B, Q> {
    /// Runs the jobs.
    pub worker: Worker<S, B>,
    /// Where the schedule's jobs go.
    pub queue: Q,
}

/// What one tick of the schedule did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tick {
    /// Sources queued.
    pub queued: usize,
    /// Due sources passed over (a sync queued or running, or removed meanwhile).
    pub passed_over: usize,
}

impl<S, B, Q> CrawlWorker<S, B, Q>
where
    S: SourceStore + PageStore + IndexVersionStore,
    B: BlobStore,
    Q: JobQueue,
{
    /// Runs each message of `event` as a job; the ones that failed, to be given again.
    pub async fn batch(&self, event: SqsEvent) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        for message in event.records {
            let id = message.message_id.clone().unwrap_or_default();
            let job = message
                .body
                .as_deref()
                .and_then(|body| serde_json::from_str::<SyncJob>(body).ok());
            let Some(job) = job else {
                // Retrying cannot make it readable: logged, and let go.
                tracing::error!(message = %id, "a queue message that is not a job is dropped");
                continue;
            };
            if let Err(error) = self.worker.run(&job).await {
                tracing::error!(?job, %error, "a knowledge job failed; SQS gives it again");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
        response
    }

    /// Queues every source due at `now`.
    pub async fn tick(&self, now: Timestamp) -> Result<Tick, StoreError> {
        let mut tick = Tick::default();
        for (project, source) in self.worker.store.due_sources(now, MAX_DUE_PER_TICK).await? {
            match self.worker.store.queue_sync(project, source, now).await {
                Ok(_) => {}
                Err(StoreError::Busy | StoreError::NotFound) => {
                    tick.passed_over += 1;
                    continue;
                }
                Err(error) => return Err(error),
            }
            let job = SyncJob::Sync {
                project: project.0,
                source,
            };
            if let Err(error) = self.queue.enqueue(&job).await {
                // Marked queued but not queued: the next tick cannot see it (it is not
                // due until its sync records a time), so undo the mark by failing loudly.
                tracing::error!(?job, %error, "a due source could not be queued");
                return Err(StoreError::Unavailable(Box::new(error)));
            }
            tick.queued += 1;
        }
        Ok(tick)
    }
}
