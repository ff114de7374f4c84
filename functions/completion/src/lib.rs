//! `POST /v2/chat/completions` and `POST /v2/conversations/{conversationId}/messages`: one
//! turn of a stored conversation, answered as JSON or as a UI message stream, by the one
//! turn engine (`chat_engine`); the first sends its context, the second is answered from
//! the stored history. This crate parses the request, wires the engine, and keeps the
//! Lambda Runtime API's connection fast (`runtime_socket`). The widget's sockets learn of
//! the stored messages from the table's stream (the `push` function), not from here.

pub mod runtime_socket;

use std::sync::Arc;

use chat_domain::ids::new_id;
use chat_domain::input::ConversationId;
use chat_domain::input::completion::CompletionRequest;
use chat_domain::input::send::SendRequest;
use chat_edge::request::{body, conversation_id};
use chat_edge::respond::respond;
use chat_edge::secrets;
use chat_edge::{Base, Handler, StartupError};
use chat_engine::settings::TurnSettings;
use chat_engine::{TurnBody, TurnEngine, TurnInput, TurnRequest};
use chat_knowledge::blobs::S3Blobs;
use chat_knowledge::cache::IndexCache;
use chat_knowledge::retrieval::Retriever;
use chat_knowledge::settings::KnowledgeSettings;
use chat_providers::registry::Providers;
use chat_providers::settings::{OPENAI_KEY_SECRET_VAR, ProviderSettings};
use chat_storage::ports::{CompletionStore, KeyStore, LimitStore};
use lambda_http::{Request, RequestExt, Response};

use runtime_socket::RuntimeApiSockets;

/// The index search that grounds answers, over S3.
pub type Grounding = Retriever<S3Blobs>;

/// The completion function's state.
pub struct Completions<S> {
    /// The turn engine.
    pub engine: TurnEngine<S, Grounding>,
    /// The Runtime API's connections, whose Nagle's algorithm goes off before each answer
    /// (on Lambda; `None` elsewhere).
    pub runtime_api: Option<RuntimeApiSockets>,
}

impl Completions<chat_storage::DynamoStore> {
    /// The state of a process built from `base`, with the turn and provider settings of
    /// `env`.
    pub async fn build(base: &Base, env: &chat_domain::env::Env<'_>) -> Result<Self, StartupError> {
        Self::from_settings(
            base,
            TurnSettings::from_env(env)?,
            &ProviderSettings::from_env(env)?,
            &KnowledgeSettings::from_env(env)?,
        )
        .await
    }

    /// The state of a process built from `base` with these settings; the OpenAI key (one
    /// for answers and question embeddings: the same variables name it) is read from its
    /// secret here when it lives in one.
    pub async fn from_settings(
        base: &Base,
        turns: TurnSettings,
        providers: &ProviderSettings,
        knowledge: &KnowledgeSettings,
    ) -> Result<Self, StartupError> {
        let openai_key = secrets::resolve_optional(
            providers.openai_api_key.as_ref(),
            &base.sdk,
            OPENAI_KEY_SECRET_VAR,
        )
        .await?;
        let grounding = Retriever {
            blobs: S3Blobs::new(knowledge.s3_client(&base.sdk), knowledge.bucket.clone()),
            cache: IndexCache::new(knowledge.work_dir.join("indexes")),
            embeddings: Arc::new(knowledge.embeddings(openai_key.clone(), &base.sdk)),
        };
        let providers = Providers::new(providers, openai_key, &base.sdk, turns.first_token_timeout);
        Ok(Self {
            engine: TurnEngine {
                store: base.store.clone(),
                providers: Arc::new(providers),
                settings: Arc::new(turns),
                edge: base.edge.clone(),
                knowledge: grounding,
            },
            runtime_api: RuntimeApiSockets::from_env(),
        })
    }
}

impl<S> Handler for Completions<S>
where
    S: CompletionStore + LimitStore + KeyStore + Clone + 'static,
{
    type Body = TurnBody;

    async fn handle(&self, req: Request) -> Response<TurnBody> {
        // Before the response goes out on the connection that fetched this event.
        if let Some(sockets) = &self.runtime_api {
            sockets.set_nodelay();
        }
        let engine = &self.engine;
        // Both answer routes come here; only the send route names a conversation in its path.
        let sends = req
            .path_parameters_ref()
            .and_then(|p| p.first("conversationId"))
            .is_some();
        respond(req, &engine.edge.cors, async |req, headers| {
            let caller =
                chat_edge::auth::caller(&engine.edge, &engine.store, req.headers()).await?;
            let turn = if sends {
                let ConversationId(id) = conversation_id(&req)?;
                let request = SendRequest::parse(body(&req)?)?;
                TurnRequest {
                    conversation_id: id,
                    assistant_id: None,
                    user_text: request.content,
                    input: TurnInput::Stored(request.page),
                    stream: request.stream,
                }
            } else {
                let request = CompletionRequest::parse(body(&req)?)?;
                TurnRequest {
                    conversation_id: request.conversation_id.unwrap_or_else(new_id),
                    assistant_id: request.assistant_id,
                    user_text: request.last_user_message().to_owned(),
                    input: TurnInput::Messages(request.messages),
                    stream: request.stream,
                }
            };
            engine.run(caller, turn, headers).await
        })
        .await
    }
}
