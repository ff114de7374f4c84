//! The knowledge's queue without AWS: an in-process channel that one worker task drains,
//! one job at a time (as the FIFO queue's project groups do on AWS), each job run by the
//! same [`Worker`] the crawl function runs. A failed job is tried again a few times with a
//! growing pause, then dropped with an error in the log (the dead-letter queue's part).
//! [`schedule`] ticks as the EventBridge rule does, queueing the sources that are due.

use std::sync::Arc;
use std::time::Duration;

use chat_knowledge::blobs::S3Blobs;
use chat_knowledge::jobs::{JobQueue, QueueError, SyncJob};
use chat_knowledge::sync::Worker;
use chat_storage::DynamoStore;
use tokio::sync::{mpsc, watch};

/// Attempts of one job before it is given up.
pub const MAX_ATTEMPTS: u32 = 3;

/// The in-process queue: cheap to clone, every clone feeding the one worker.
#[derive(Clone, Debug)]
pub struct LocalQueue {
    jobs: mpsc::UnboundedSender<SyncJob>,
    pending: Arc<watch::Sender<usize>>,
}

impl JobQueue for LocalQueue {
    async fn enqueue(&self, job: &SyncJob) -> Result<(), QueueError> {
        self.pending.send_modify(|n| *n += 1);
        self.jobs.send(job.clone()).map_err(|_| {
            self.pending.send_modify(|n| *n -= 1);
            QueueError("the local worker has stopped".into())
        })
    }
}

impl LocalQueue {
    /// Resolves once every job queued so far (and every job they queued) has run.
    pub async fn idle(&self) {
        let mut pending = self.pending.subscribe();
        let _ = pending.wait_for(|n| *n == 0).await;
    }
}

/// Starts the worker task over `worker`; the queue that feeds it.
pub fn start(worker: Arc<Worker<DynamoStore, S3Blobs>>) -> LocalQueue {
    let (jobs, mut received) = mpsc::unbounded_channel::<SyncJob>();
    let pending = Arc::new(watch::Sender::new(0usize));
    let done = pending.clone();
    tokio::spawn(async move {
        while let Some(job) = received.recv().await {
            for attempt in 1..=MAX_ATTEMPTS {
                // Each attempt on a task of its own: a panic fails that job, not the worker.
                let (worker, attempted) = (worker.clone(), job.clone());
                let run = tokio::spawn(async move { worker.run(&attempted).await });
                let result = match run.await {
                    Ok(result) => result.map_err(|e| e.to_string()),
                    Err(panicked) => Err(format!("the job panicked: {panicked}")),
                };
                match result {
                    Ok(()) => break,
                    Err(error) if attempt < MAX_ATTEMPTS => {
                        tracing::warn!(?job, %error, attempt, "a knowledge job failed; retrying");
                        tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                    }
                    Err(error) => {
                        tracing::error!(?job, %error, "a knowledge job failed for good");
                    }
                }
            }
            done.send_modify(|n| *n -= 1);
        }
    });
    LocalQueue { jobs, pending }
}

/// How often the local schedule ticks (the template's rule: every 15 minutes).
pub const TICK: Duration = Duration::from_secs(15 * 60);

/// Queues the sources due on their schedule every [`TICK`], as the crawl function does for
/// EventBridge's rule, for as long as the process runs.
pub fn schedule(worker: Arc<Worker<DynamoStore, S3Blobs>>, queue: LocalQueue) {
    let crawl = crawl_worker::CrawlWorker {
        worker: worker.as_ref().clone(),
        queue,
    };
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(TICK);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            match crawl.tick(chat_domain::timestamp::Timestamp::now()).await {
                Ok(tick) => tracing::info!(queued = tick.queued, "schedule tick"),
                Err(error) => tracing::warn!(%error, "the schedule tick failed"),
            }
        }
    });
}
