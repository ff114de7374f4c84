//! The knowledge's work queue: what the management routes and the schedule ask of the
//! crawl worker, off every request's path. On AWS a FIFO SQS queue whose message group is
//! the project, so one project's jobs run one at a time, in order; locally an in-process
//! channel.

use std::future::Future;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One job of the worker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "camelCase")]
pub enum SyncJob {
    /// Sync a source (crawl a website, read a document), then publish the index.
    Sync {
        /// The project.
        project: Uuid,
        /// The source.
        source: Uuid,
    },
    /// A removed source: forget its pages and blobs, then publish the index without it.
    Forget {
        /// The project.
        project: Uuid,
        /// The source.
        source: Uuid,
    },
    /// Build and publish the project's index again (its Q&A pairs changed).
    Rebuild {
        /// The project.
        project: Uuid,
    },
}

impl SyncJob {
    /// The project it is about.
    pub fn project(&self) -> Uuid {
        match self {
            Self::Sync { project, .. }
            | Self::Forget { project, .. }
            | Self::Rebuild { project } => *project,
        }
    }
}

/// Why a job could not be queued.
#[derive(Debug, thiserror::Error)]
#[error("the job queue failed: {0}")]
pub struct QueueError(pub String);

/// Queues jobs for the worker.
pub trait JobQueue: Send + Sync {
    /// Queues `job`.
    fn enqueue(&self, job: &SyncJob) -> impl Future<Output = Result<(), QueueError>> + Send;
}

/// The SQS adapter of [`JobQueue`]: a FIFO queue, grouped by project.
#[derive(Clone, Debug)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsQueue {
    /// The queue at `url` through `client`.
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }
}

impl JobQueue for SqsQueue {
    async fn enqueue(&self, job: &SyncJob) -> Result<(), QueueError> {
        let body = serde_json::to_string(job).map_err(|e| QueueError(e.to_string()))?;
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .message_group_id(job.project().to_string())
            .message_deduplication_id(Uuid::new_v4().to_string())
            .send()
            .await
            .map_err(|e| QueueError(aws_sdk_sqs::error::DisplayErrorContext(&e).to_string()))?;
        Ok(())
    }
}
