//! What the local server serves every request with: each function's own state, built once
//! over one store, exactly as each Lambda builds its own.

use std::sync::Arc;

use chat_agents::Agents;
use chat_completion::Completions;
use chat_domain::env::{ConfigError, Env};
use chat_edge::wiring::BaseSettings;
use chat_edge::{Base, Edge, StartupError};
use chat_engine::settings::TurnSettings;
use chat_identity::Identity;
use chat_knowledge::blobs::S3Blobs;
use chat_knowledge::crawl::fetch::Fetcher;
use chat_knowledge::settings::KnowledgeSettings;
use chat_knowledge::sync::Worker;
use chat_live::Live;
use chat_projects::CurrentProject;
use chat_providers::settings::ProviderSettings;
use chat_push::Push;
use chat_sockets::Publisher;
use chat_sockets::in_process::InProcessSockets;
use chat_storage::DynamoStore;
use chat_storage::table::stream_arn;
use close_conversation::CloseConversation;
use conversations::Conversations;
use feedback::FeedbackFunction;
use get_conversation::GetConversation;
use knowledge_api::Knowledge;

use crate::changes::{ChangeFollower, FollowError, follow_error};
use crate::embedded_s3::EmbeddedS3;
use crate::jobs::LocalQueue;

/// Every setting any function reads: what the local server runs with.
#[derive(Clone, Debug)]
pub struct LocalSettings {
    /// The store, the edge and the limits: what every function reads.
    pub base: BaseSettings,
    /// The turn engine's defaults, timeouts and caps.
    pub turns: TurnSettings,
    /// The model providers.
    pub providers: ProviderSettings,
    /// The knowledge's bucket, caps and crawler (an embedded S3 engine when no
    /// `S3_ENDPOINT_URL` is set).
    pub knowledge: KnowledgeSettings,
    /// Where the embedded S3 engine keeps its objects (a temporary folder by default).
    pub blob_dir: Option<std::path::PathBuf>,
    /// Where the embedded S3 engine listens (a free loopback port by default).
    pub blob_addr: Option<std::net::SocketAddr>,
}

impl LocalSettings {
    /// Reads them all from `env`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            base: BaseSettings::from_env(env)?,
            turns: TurnSettings::from_env(env)?,
            providers: ProviderSettings::from_env(env)?,
            knowledge: KnowledgeSettings::from_env(env)?,
            blob_dir: None,
            blob_addr: None,
        })
    }
}

/// The functions' states, sharing one store and one edge.
pub struct App {
    /// The settings it was built from.
    pub settings: LocalSettings,
    /// The storage adapter every function uses.
    pub store: DynamoStore,
    /// Auth, limits, CORS.
    pub edge: Arc<Edge>,
    /// `GET /v2/conversations/{conversationId}`.
    pub get: GetConversation<DynamoStore>,
    /// `POST /v2/conversations/{conversationId}/close`.
    pub close: CloseConversation<DynamoStore>,
    /// `GET /v2/conversations`, `POST /v2/conversations`,
    /// `GET /v2/conversations/{conversationId}/messages`.
    pub conversations: Conversations<DynamoStore>,
    /// `POST /v2/messages/{messageId}/feedback`.
    pub feedback: FeedbackFunction<DynamoStore>,
    /// `POST /v2/chat/completions`.
    pub completions: Completions<DynamoStore>,
    /// `GET /v2/projects/current`.
    pub projects: CurrentProject<DynamoStore>,
    /// `POST /v2/identity/init`, `GET /v2/identity/me`.
    pub identity: Identity<DynamoStore>,
    /// `POST /v2/conversations/{conversationId}/handoff`, `…/agent-messages`, `…/release`.
    pub agents: Agents<DynamoStore>,
    /// The WebSocket API's `$connect`, `$disconnect`, `$default` (its sample events are
    /// replayed through it; the local socket server shares its handshake decision).
    pub live: Live<DynamoStore>,
    /// The widget's open sockets (`crate::live`).
    pub sockets: Arc<InProcessSockets>,
    /// The push function, posting to [`App::sockets`] (through the Management API on AWS):
    /// fed by [`App::follow_changes`].
    pub push: Arc<Push<DynamoStore>>,
    /// Reads the table's stream.
    pub streams: aws_sdk_dynamodbstreams::Client,
    /// Sources, pages, Q&A pairs and `GET /v2/search`.
    pub knowledge: Knowledge<DynamoStore, S3Blobs, LocalQueue>,
    /// The knowledge's jobs, run in-process by [`App::worker`].
    pub jobs: LocalQueue,
    /// The crawl worker, as the crawl function runs it.
    pub worker: Arc<Worker<DynamoStore, S3Blobs>>,
    /// The embedded S3 engine, when no endpoint was configured.
    pub s3: Option<EmbeddedS3>,
}

impl App {
    /// Builds every function's state from `settings`.
    pub async fn build(settings: LocalSettings) -> Result<Self, StartupError> {
        Self::build_with(settings, |builder| builder).await
    }

    /// As [`App::build`], with a last say over the DynamoDB client's configuration.
    pub async fn build_with(
        settings: LocalSettings,
        customize: impl FnOnce(aws_sdk_dynamodb::config::Builder) -> aws_sdk_dynamodb::config::Builder,
    ) -> Result<Self, StartupError> {
        let base = Base::build_with(settings.base.clone(), customize).await?;
        let sockets = Arc::new(InProcessSockets::default());
        let push = Push::new(Publisher::new(base.store.clone(), sockets.clone()));
        let mut streams = aws_sdk_dynamodbstreams::config::Builder::from(&base.sdk);
        if let Some(endpoint) = &settings.base.store.dynamo.endpoint {
            streams = streams.endpoint_url(endpoint);
        }
        let mut knowledge_settings = settings.knowledge.clone();
        let s3 = match knowledge_settings.s3_endpoint {
            Some(_) => None,
            None => {
                let engine = EmbeddedS3::start(
                    settings.blob_dir.as_deref(),
                    settings.blob_addr,
                    &knowledge_settings.bucket,
                )
                .await
                .map_err(|e| {
                    StartupError::Other(format!("starting the embedded S3 engine: {e}"))
                })?;
                knowledge_settings.s3_endpoint = Some(engine.endpoint().to_owned());
                Some(engine)
            }
        };
        let completions = Completions::from_settings(
            &base,
            settings.turns.clone(),
            &settings.providers,
            &knowledge_settings,
        )
        .await?;
        let blobs = S3Blobs::new(
            knowledge_settings.s3_client(&base.sdk),
            knowledge_settings.bucket.clone(),
        );
        let fetcher = Fetcher::new(knowledge_settings.fetch())
            .map_err(|e| StartupError::Other(format!("the crawler's HTTP client: {e}")))?;
        let embeddings = Arc::new(knowledge_api::embeddings(&knowledge_settings, &base.sdk).await?);
        let worker = Arc::new(Worker {
            store: base.store.clone(),
            blobs: blobs.clone(),
            embeddings: embeddings.clone(),
            fetcher,
            settings: knowledge_settings.sync(),
        });
        let jobs = crate::jobs::start(worker.clone());
        crate::jobs::schedule(worker.clone(), jobs.clone());
        Ok(Self {
            knowledge: Knowledge::with(&base, blobs, jobs.clone(), &knowledge_settings, embeddings),
            jobs,
            worker,
            s3,
            get: GetConversation::new(&base),
            projects: CurrentProject::new(&base),
            identity: Identity::new(&base),
            close: CloseConversation::new(&base),
            conversations: Conversations::new(&base),
            feedback: FeedbackFunction::new(&base),
            agents: Agents::new(&base),
            live: Live::new(&base),
            completions,
            sockets,
            push: Arc::new(push),
            streams: aws_sdk_dynamodbstreams::Client::from_conf(streams.build()),
            store: base.store.clone(),
            edge: base.edge.clone(),
            settings,
        })
    }

    /// Starts pushing every change committed to the table from now on, as the stream's
    /// event source mapping does on AWS (the table must exist).
    pub async fn follow_changes(&self) -> Result<ChangeFollower, FollowError> {
        let arn = stream_arn(self.store.client(), self.store.table())
            .await
            .map_err(follow_error)?;
        ChangeFollower::start(self.streams.clone(), arn, self.push.clone()).await
    }
}
