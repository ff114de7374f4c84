//! The operator's knowledge commands (`chat-local admin add-source | sources | sync |
//! pages | qna …`): the same code the knowledge routes run, against any DynamoDB and S3 the
//! configuration names. With `KNOWLEDGE_QUEUE_URL` set, jobs go to that queue (the crawl
//! function runs them); without it, this process runs them itself and waits, so the
//! commands work against a local engine too.

use std::sync::Arc;

use chat_domain::ApiError;
use chat_domain::ids::{Caller, ProjectId};
use chat_domain::input::knowledge::{DocumentFields, QnaFields, SourceFields, WebsiteFields};
use chat_domain::knowledge::{DocumentType, PageStatus, Qna, Schedule, Source, SourceKind};
use chat_edge::{Base, StartupError};
use chat_knowledge::blobs::S3Blobs;
use chat_knowledge::crawl::fetch::Fetcher;
use chat_knowledge::jobs::{JobQueue, QueueError, SqsQueue, SyncJob};
use chat_knowledge::sync::Worker;
use chat_storage::DynamoStore;
use chat_storage::ports::{PageStore, SourceStore};
use knowledge_api::Knowledge;
use uuid::Uuid;

use crate::app::LocalSettings;
use crate::jobs::LocalQueue;

/// Where the commands' jobs go: the deployment's queue, or a worker in this process.
#[derive(Clone, Debug)]
pub enum AdminQueue {
    /// `KNOWLEDGE_QUEUE_URL`'s queue.
    Sqs(SqsQueue),
    /// This process's worker.
    InProcess(LocalQueue),
}

impl JobQueue for AdminQueue {
    async fn enqueue(&self, job: &SyncJob) -> Result<(), QueueError> {
        match self {
            Self::Sqs(queue) => queue.enqueue(job).await,
            Self::InProcess(queue) => queue.enqueue(job).await,
        }
    }
}

/// The knowledge function's state over the configured store, bucket and queue.
pub struct AdminKnowledge {
    /// The routes' code.
    pub knowledge: Knowledge<DynamoStore, S3Blobs, AdminQueue>,
}

impl AdminKnowledge {
    /// Built from `settings`, as a Lambda would be (S3 at `S3_ENDPOINT_URL` when set).
    pub async fn build(settings: &LocalSettings) -> Result<Self, StartupError> {
        let base = Base::build(settings.base.clone()).await?;
        let knowledge = &settings.knowledge;
        let blobs = S3Blobs::new(knowledge.s3_client(&base.sdk), knowledge.bucket.clone());
        let embeddings = Arc::new(knowledge_api::embeddings(knowledge, &base.sdk).await?);
        let queue = if knowledge.queue_url.is_empty() {
            let fetcher = Fetcher::new(knowledge.fetch())
                .map_err(|e| StartupError::Other(format!("the crawler's HTTP client: {e}")))?;
            AdminQueue::InProcess(crate::jobs::start(Arc::new(Worker {
                store: base.store.clone(),
                blobs: blobs.clone(),
                embeddings: embeddings.clone(),
                fetcher,
                settings: knowledge.sync(),
            })))
        } else {
            AdminQueue::Sqs(SqsQueue::new(
                aws_sdk_sqs::Client::new(&base.sdk),
                knowledge.queue_url.clone(),
            ))
        };
        Ok(Self {
            knowledge: Knowledge::with(&base, blobs, queue, knowledge, embeddings),
        })
    }

    /// Waits for the jobs this process runs (none to wait for with a queue).
    pub async fn settle(&self) {
        if let AdminQueue::InProcess(queue) = &self.knowledge.queue {
            queue.idle().await;
        }
    }

    /// Adds a website source.
    pub async fn add_website(
        &self,
        project: ProjectId,
        url: &str,
        max_pages: Option<u32>,
        schedule: Option<Schedule>,
        include: Vec<String>,
        exclude: Vec<String>,
    ) -> Result<Source, ApiError> {
        let fields = SourceFields {
            kind: Some(SourceKind::Website),
            name: None,
            schedule,
            website: WebsiteFields {
                url: Some(url.to_owned()),
                sitemap_urls: None,
                include: Some(include),
                exclude: Some(exclude),
                max_pages,
            },
            document: DocumentFields::default(),
        };
        self.add(project, fields).await
    }

    /// Adds a document source with `content` of `kind`.
    pub async fn add_document(
        &self,
        project: ProjectId,
        title: &str,
        content: String,
        kind: DocumentType,
        url: Option<String>,
    ) -> Result<Source, ApiError> {
        let fields = SourceFields {
            kind: Some(SourceKind::Document),
            name: None,
            schedule: None,
            website: WebsiteFields::default(),
            document: DocumentFields {
                title: Some(title.to_owned()),
                content: Some(content),
                content_type: Some(kind),
                url: Some(url),
            },
        };
        self.add(project, fields).await
    }

    async fn add(&self, project: ProjectId, fields: SourceFields) -> Result<Source, ApiError> {
        let source = self
            .knowledge
            .add_source(Caller::project_scope(project), fields)
            .await?;
        self.settle().await;
        self.source(project, source.id).await
    }

    /// Source `id` as stored.
    pub async fn source(&self, project: ProjectId, id: Uuid) -> Result<Source, ApiError> {
        self.knowledge
            .store
            .source(project, id)
            .await
            .map_err(|_| ApiError::NotFound {
                resource: "source",
                id: id.to_string(),
            })
    }

    /// The project's sources, oldest first.
    pub async fn sources(&self, project: ProjectId) -> Result<Vec<Source>, ApiError> {
        let state = self.knowledge.store.knowledge(project).await;
        Ok(state.map_err(chat_edge::store_errors::api_error)?.sources)
    }

    /// Syncs source `id` (queued, or run here and waited for).
    pub async fn sync(&self, project: ProjectId, id: Uuid) -> Result<Source, ApiError> {
        self.knowledge
            .request_sync(Caller::project_scope(project), id)
            .await?;
        self.settle().await;
        self.source(project, id).await
    }

    /// The pages of source `id`, with `status` only when given.
    pub async fn pages(
        &self,
        project: ProjectId,
        id: Uuid,
        status: Option<PageStatus>,
    ) -> Result<Vec<chat_domain::knowledge::PageRecord>, ApiError> {
        self.source(project, id).await?;
        let pages = self.knowledge.store.pages(project, id).await;
        Ok(pages
            .map_err(chat_edge::store_errors::api_error)?
            .into_iter()
            .filter(|p| status.is_none_or(|s| p.status == s))
            .collect())
    }

    /// Adds a Q&A pair and publishes the index with it.
    pub async fn add_qna(
        &self,
        project: ProjectId,
        question: &str,
        answer: &str,
    ) -> Result<Qna, ApiError> {
        let body = serde_json::json!({ "question": question, "answer": answer }).to_string();
        let fields = QnaFields::parse_new(body.as_bytes())?;
        let qna = self
            .knowledge
            .add_qna(Caller::project_scope(project), fields)
            .await?;
        self.settle().await;
        Ok(qna)
    }

    /// The project's Q&A pairs, oldest first.
    pub async fn qnas(&self, project: ProjectId) -> Result<Vec<Qna>, ApiError> {
        let state = self.knowledge.store.knowledge(project).await;
        Ok(state.map_err(chat_edge::store_errors::api_error)?.qnas)
    }

    /// Removes Q&A pair `id` and publishes the index without it.
    pub async fn delete_qna(&self, project: ProjectId, id: Uuid) -> Result<(), ApiError> {
        self.knowledge
            .remove_qna(Caller::project_scope(project), id)
            .await?;
        self.settle().await;
        Ok(())
    }
}
