//! The knowledge function (API.md Part 3): a project's sources, their pages, its
//! question-and-answer pairs (secret key), and `GET /v2/search` (publishable key, session
//! token or secret key). Crawling never runs here: a change queues a job for the worker
//! (`chat_knowledge::sync`), and search reads the project's current index snapshot, kept
//! open while warm.
//!
//! - `sources`: the sources' routes, one source, its sync and its pages;
//! - `qnas`: the project's question-and-answer pairs;
//! - `search`: `GET /v2/search`.

use std::sync::Arc;

use chat_domain::ApiError;
use chat_domain::ids::Caller;
use chat_domain::knowledge::PageCaps;
use chat_domain::timestamp::Timestamp;
use chat_edge::limits::count_reads;
use chat_edge::{Base, Edge, Handler, StartupError};
use chat_knowledge::blobs::{BlobStore, S3Blobs};
use chat_knowledge::cache::IndexCache;
use chat_knowledge::embeddings::Embeddings;
use chat_knowledge::jobs::{JobQueue, SqsQueue};
use chat_knowledge::settings::KnowledgeSettings;
use chat_storage::ports::{
    IndexVersionStore, KeyStore, LimitStore, PageStore, QnaStore, SourceStore,
};
use http::HeaderMap;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};

pub mod qnas;
pub mod search;
pub mod sources;

/// What a session token or a publishable key on a secret-key route is told.
pub const SECRET_KEY_REQUIRED: &str =
    "The knowledge routes take a secret key of the project, not a visitor's session token";

/// The knowledge function's state.
pub struct Knowledge<S, B, Q> {
    /// Sources, pairs, pages, the index version, keys and limits.
    pub store: S,
    /// Documents and index snapshots.
    pub blobs: B,
    /// The worker's queue.
    pub queue: Q,
    /// Auth, limits, CORS.
    pub edge: Arc<Edge>,
    /// The open indexes.
    pub cache: IndexCache,
    /// The plans' page caps.
    pub caps: PageCaps,
    /// Embeds a question for an index with vectors.
    pub embeddings: Arc<Embeddings>,
}

impl Knowledge<chat_storage::DynamoStore, S3Blobs, SqsQueue> {
    /// The state of a Lambda process built from `base` and `env` (the OpenAI key read from
    /// its secret when it is one).
    pub async fn new(base: &Base, env: &chat_domain::env::Env<'_>) -> Result<Self, StartupError> {
        let settings = KnowledgeSettings::from_env(env)?;
        let blobs = S3Blobs::new(settings.s3_client(&base.sdk), settings.bucket.clone());
        let queue = SqsQueue::new(
            aws_sdk_sqs::Client::new(&base.sdk),
            settings.queue_url.clone(),
        );
        let embeddings = embeddings(&settings, &base.sdk).await?;
        Ok(Self::with(
            base,
            blobs,
            queue,
            &settings,
            Arc::new(embeddings),
        ))
    }
}

/// The embedding clients of `settings`, the OpenAI key read from its secret when it is one.
pub async fn embeddings(
    settings: &KnowledgeSettings,
    sdk: &aws_config::SdkConfig,
) -> Result<Embeddings, StartupError> {
    let key = match &settings.openai_api_key {
        Some(source) => Some(
            chat_edge::secrets::resolve(
                source,
                sdk,
                chat_knowledge::settings::OPENAI_KEY_SECRET_VAR,
            )
            .await?,
        ),
        None => None,
    };
    Ok(settings.embeddings(key, sdk))
}

impl<B, Q> Knowledge<chat_storage::DynamoStore, B, Q> {
    /// The state of a process built from `base`, over `blobs` and `queue`.
    pub fn with(
        base: &Base,
        blobs: B,
        queue: Q,
        settings: &KnowledgeSettings,
        embeddings: Arc<Embeddings>,
    ) -> Self {
        Self {
            store: base.store.clone(),
            blobs,
            queue,
            edge: base.edge.clone(),
            cache: IndexCache::new(settings.work_dir.join("indexes")),
            caps: settings.caps,
            embeddings,
        }
    }
}

/// The route a request is for: the resource API Gateway matched, else the path itself.
fn resource(req: &Request) -> String {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => context.resource_path.clone(),
        _ => None,
    }
    .unwrap_or_else(|| req.uri().path().to_owned())
}

impl<S, B, Q> Knowledge<S, B, Q>
where
    S: SourceStore + QnaStore + PageStore + IndexVersionStore + KeyStore + LimitStore,
    B: BlobStore,
    Q: JobQueue,
{
    /// The project of a secret-key route's caller, with its read counted (refused before
    /// anything else is read or written).
    async fn project_caller(
        &self,
        headers: &HeaderMap,
        out: &mut HeaderMap,
    ) -> Result<Caller, ApiError> {
        let caller =
            chat_edge::auth::project_caller(&self.edge, &self.store, headers, SECRET_KEY_REQUIRED)
                .await?;
        let limits = count_reads(&self.edge.limiter, &self.store, caller, Timestamp::now()).await?;
        out.extend(limits.headers());
        limits.check()?;
        Ok(caller)
    }

    /// Queues `job`; a queue that fails is a 503 (what was stored stays, and the next
    /// change or the schedule queues it again).
    async fn enqueue(&self, job: &chat_knowledge::jobs::SyncJob) -> Result<(), ApiError> {
        self.queue
            .enqueue(job)
            .await
            .map_err(|error| ApiError::ServiceUnavailable {
                retry_after: chat_edge::store_errors::STORE_RETRY_AFTER_SECS,
                cause: Box::new(error),
            })
    }
}

impl<S, B, Q> Handler for Knowledge<S, B, Q>
where
    S: SourceStore + QnaStore + PageStore + IndexVersionStore + KeyStore + LimitStore,
    B: BlobStore,
    Q: JobQueue,
{
    type Body = Body;

    async fn handle(&self, req: Request) -> Response<Body> {
        let method = req.method().as_str().to_owned();
        let resource = resource(&req);
        let resource = resource.trim_end_matches('/');
        match (method.as_str(), resource) {
            ("GET", "/v2/search") => self.search(req).await,
            ("GET", "/v2/knowledge/sources") => self.list_sources(req).await,
            ("POST", "/v2/knowledge/sources") => self.create_source(req).await,
            ("GET", "/v2/knowledge/sources/{sourceId}") => self.get_source(req).await,
            ("PATCH", "/v2/knowledge/sources/{sourceId}") => self.update_source(req).await,
            ("DELETE", "/v2/knowledge/sources/{sourceId}") => self.delete_source(req).await,
            ("POST", "/v2/knowledge/sources/{sourceId}/sync") => self.sync_source(req).await,
            ("GET", "/v2/knowledge/sources/{sourceId}/pages") => self.list_pages(req).await,
            ("GET", "/v2/projects/{projectId}/qnas") => self.list_qnas(req).await,
            ("POST", "/v2/projects/{projectId}/qnas") => self.create_qna(req).await,
            ("GET", "/v2/projects/{projectId}/qnas/{qnaId}") => self.get_qna(req).await,
            ("PATCH", "/v2/projects/{projectId}/qnas/{qnaId}") => self.update_qna(req).await,
            ("DELETE", "/v2/projects/{projectId}/qnas/{qnaId}") => self.delete_qna(req).await,
            _ => {
                chat_edge::respond::respond(req, &self.edge.cors, async |_, _| {
                    Err::<Response<Body>, _>(ApiError::RouteNotFound)
                })
                .await
            }
        }
    }
}
