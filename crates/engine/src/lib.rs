//! The turn engine: one turn of a stored conversation, whichever route asked for it.
//!
//! Order of work: read settings, assistant and conversation (one BatchGetItem, with the
//! rate-limit counters beside it) → refuse with 402/403/409/422/429 → write the turn (one
//! transaction: the user message and a `streaming` assistant message) → wait for the
//! provider's first token (the 200 is committed only then) → stream or collect → finish the
//! assistant message (one UpdateItem).

pub mod body;
pub mod decide;
pub mod generation;
pub mod settings;

use std::sync::Arc;

use bytes::Bytes;
use chat_domain::ApiError;
use chat_domain::Spelling;
use chat_domain::chat::ChatMessage;
use chat_domain::ids::Caller;
use chat_domain::limits::OperationClass;
use chat_domain::timestamp::Timestamp;
use chat_domain::ui_stream::STREAM_HEADERS;
use chat_edge::Edge;
use chat_edge::respond::{error_response, json_response};
use chat_edge::store_errors::{api_error, for_conversation};
use chat_providers::registry::Providers;
use chat_storage::ports::{CompletionStore, LimitStore};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use lambda_http::Response;
use serde_json::json;
use uuid::Uuid;

pub use body::TurnBody;
use decide::{choose_assistant, model_request, new_turn};
use generation::{Caps, Generation, first_event};
use settings::TurnSettings;

/// The header naming the conversation a turn was stored in.
pub const CONVERSATION_ID_HEADER: HeaderName = HeaderName::from_static("x-conversation-id");

/// What turns are run with, built once per process.
pub struct TurnEngine<S> {
    /// The storage adapter (cheap to clone: generation outlives the request).
    pub store: S,
    /// The model providers.
    pub providers: Arc<Providers>,
    /// Defaults, timeouts and caps.
    pub settings: Arc<TurnSettings>,
    /// The limiter (and the rest of the edge).
    pub edge: Arc<Edge>,
}

/// One turn, as a route asks for it.
#[derive(Clone, Debug, PartialEq)]
pub struct TurnRequest {
    /// The conversation: created by this turn when it does not exist yet.
    pub conversation_id: Uuid,
    /// The assistant to answer, when not the project's default.
    pub assistant_id: Option<Uuid>,
    /// The visitor's message the turn stores.
    pub user_text: String,
    /// The model's context after the assistant's system prompt, the visitor's message last.
    pub context: Vec<ChatMessage>,
    /// Stream the answer as a UI message stream.
    pub stream: bool,
}

impl<S> TurnEngine<S>
where
    S: CompletionStore + LimitStore + Clone + 'static,
{
    /// Runs `turn` for `caller`: a JSON answer, a stream, or the contract's error. The
    /// rate-limit headers go into `headers`.
    pub async fn run(
        &self,
        caller: Caller,
        turn: TurnRequest,
        headers: &mut HeaderMap,
    ) -> Result<Response<TurnBody>, ApiError> {
        let conversation_id = turn.conversation_id;
        let limiter = &self.edge.limiter;
        // The rate-limit and quota counters move alongside the first read.
        let counters = limiter.counters(caller, OperationClass::Completions, Timestamp::now());
        let (context, counts) = tokio::join!(
            self.store
                .turn_context(caller, conversation_id, turn.assistant_id),
            self.store.increment(&counters),
        );
        let context = context.map_err(|e| for_conversation(e, conversation_id))?;
        let limits = limiter.evaluate(
            OperationClass::Completions,
            &counters,
            &counts.map_err(api_error)?,
            &context
                .project
                .as_ref()
                .map(|p| p.limits)
                .unwrap_or_default(),
            context
                .project
                .as_ref()
                .map_or(self.settings.default_plan, |p| p.plan),
        );
        headers.extend(limits.headers());
        limits.check()?;
        let assistant = choose_assistant(
            &self.settings,
            caller,
            conversation_id,
            turn.assistant_id,
            context,
        )?;
        let provider = self.providers.for_assistant(&assistant)?;
        let stored = new_turn(conversation_id, &turn.user_text);
        let message_id = stored.assistant_message.id;
        self.store
            .write_turn(caller, &stored)
            .await
            .map_err(|e| for_conversation(e, conversation_id))?;
        tracing::info!(%conversation_id, %message_id, model = %assistant.model, provider = assistant.provider.as_str(), stream = turn.stream, "turn stored");

        let request = model_request(&assistant, turn.context, self.settings.max_output_tokens);
        let generation = Generation {
            store: self.store.clone(),
            caller,
            conversation_id,
            message_id,
            model: assistant.model.clone(),
            input_estimate: request.estimated_input_tokens(),
            idle_timeout: self.settings.idle_timeout,
            keep_alive: self.settings.keep_alive,
            caps: Caps {
                max_output_tokens: self.settings.max_output_tokens,
                deadline: tokio::time::Instant::now() + self.settings.max_generation_time,
            },
        };
        let mut events = provider.stream(request);
        let first = match first_event(&mut events, self.settings.first_token_timeout).await {
            Ok(event) => event,
            Err(error) => {
                let error = generation.fail_before_first_token(error).await;
                error.log();
                return Ok(with_conversation(error_response(&error), conversation_id));
            }
        };

        if turn.stream {
            let (chunks, body) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
            tokio::spawn(generation.stream(first, events, chunks));
            let mut response = Response::new(TurnBody::Stream(body));
            for (name, value) in STREAM_HEADERS {
                response
                    .headers_mut()
                    .insert(name, HeaderValue::from_static(value));
            }
            return Ok(with_conversation(response, conversation_id));
        }
        match generation.collect(first, events).await {
            Ok(answer) => {
                let body = json!({
                    "conversationId": conversation_id,
                    "messageId": message_id,
                    "steps": [{
                        "content": [{ "type": "text", "text": answer.text }],
                        "finishReason": answer.reason,
                        "usage": answer.usage,
                    }],
                });
                Ok(with_conversation(
                    json_response(StatusCode::OK, &body),
                    conversation_id,
                ))
            }
            Err(error) => {
                error.log();
                Ok(with_conversation(error_response(&error), conversation_id))
            }
        }
    }
}

fn with_conversation<B>(mut response: Response<B>, conversation_id: Uuid) -> Response<B> {
    if let Ok(value) = HeaderValue::from_str(&conversation_id.to_string()) {
        response.headers_mut().insert(CONVERSATION_ID_HEADER, value);
    }
    response
}
