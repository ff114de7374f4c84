//! The turn engine: one turn of a stored conversation, whichever route asked for it (the
//! completion, whose client sends the context, or a message sent into a conversation whose
//! history the server holds: [`TurnInput`]).
//!
//! Order of work: read settings, assistant and conversation (one BatchGetItem, with the
//! rate-limit counters, for a stored conversation the newest messages, and the question's
//! embedding beside it) → refuse with 402/403/409/422/429 → write the turn (one
//! transaction: the user message and a `streaming` assistant message) while the project's
//! knowledge, when it has any, is searched in-process (`grounded`: sources, small talk, or
//! an answer as written) → wait for the provider's first token (the 200 is committed only
//! then) → stream or collect, citations rewritten → finish the assistant message (one
//! UpdateItem). The widget's sockets learn of the stored messages from the table's stream,
//! off the turn's path (`chat_sockets`).

pub mod body;
pub mod context;
pub mod decide;
pub mod generation;
pub mod grounded;
pub mod settings;

use std::sync::Arc;

use bytes::Bytes;
use chat_domain::ApiError;
use chat_domain::Spelling;
use chat_domain::chat::ChatMessage;
use chat_domain::ids::Caller;
use chat_domain::input::send::PageContext;
use chat_domain::limits::OperationClass;
use chat_domain::timestamp::Timestamp;
use chat_domain::ui_stream::STREAM_HEADERS;
use chat_edge::Edge;
use chat_edge::respond::{error_response, json_response};
use chat_edge::store_errors::{api_error, for_conversation};
use chat_providers::registry::Providers;
use chat_storage::StoreError;
use chat_storage::ports::{CompletionStore, LimitStore, NewTurn};
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use lambda_http::Response;
use serde_json::json;
use uuid::Uuid;

pub use body::TurnBody;
use chat_domain::grounding::search_query;
use chat_domain::message::MessageRole;
use chat_knowledge::retrieval::TurnQuery;
use context::{message_text, stored_context};
use decide::{choose_assistant, model_request, new_turn};
use generation::{Caps, Generation, first_event};
use grounded::{Answering, TurnKnowledge, as_written, decide};
use settings::TurnSettings;

/// The header naming the conversation a turn was stored in.
pub const CONVERSATION_ID_HEADER: HeaderName = HeaderName::from_static("x-conversation-id");

/// What turns are run with, built once per process.
pub struct TurnEngine<S, K> {
    /// The storage adapter (cheap to clone: generation outlives the request).
    pub store: S,
    /// The model providers.
    pub providers: Arc<Providers>,
    /// Defaults, timeouts and caps.
    pub settings: Arc<TurnSettings>,
    /// The limiter (and the rest of the edge).
    pub edge: Arc<Edge>,
    /// The projects' knowledge, which grounds their answers.
    pub knowledge: K,
}

/// One turn, as a route asks for it.
#[derive(Clone, Debug, PartialEq)]
pub struct TurnRequest {
    /// The conversation.
    pub conversation_id: Uuid,
    /// The assistant to answer, when not the project's default.
    pub assistant_id: Option<Uuid>,
    /// The visitor's message the turn stores.
    pub user_text: String,
    /// Where the model's context comes from: the two ways into the engine.
    pub input: TurnInput,
    /// Stream the answer as a UI message stream.
    pub stream: bool,
}

/// Where a turn's context comes from, and what that implies.
#[derive(Clone, Debug, PartialEq)]
pub enum TurnInput {
    /// `POST /v2/chat/completions`: the client sends the context (after the system prompt,
    /// the visitor's message last); a conversation that does not exist is created.
    Messages(Vec<ChatMessage>),
    /// `POST /v2/conversations/{id}/messages`: the server holds the history, read beside
    /// the turn's first read; the conversation must exist; the page context is given to
    /// the model and its URL, title and selection stored on the visitor's message; while a
    /// human agent handles the conversation the message is stored and nobody answers.
    Stored(PageContext),
}

/// The body of the 202 a message gets while a human agent handles the conversation.
pub const HUMAN_HANDLED_BODY: &str = "Message sent";

impl<S, K> TurnEngine<S, K>
where
    S: CompletionStore + LimitStore + Clone + 'static,
    K: TurnKnowledge,
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
        // The stored history too, for the route that needs it: all three at once.
        let history_limit = match turn.input {
            TurnInput::Messages(_) => 0,
            TurnInput::Stored(_) => self.settings.history.max_messages,
        };
        let (context, counts, history, prepared) = tokio::join!(
            self.store
                .turn_context(caller, conversation_id, turn.assistant_id),
            self.store.increment(&counters),
            self.store.history(caller, conversation_id, history_limit),
            self.knowledge.prepare(caller.project, &turn.user_text),
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
        let stored_input = matches!(turn.input, TurnInput::Stored(_));
        if stored_input && context.conversation.is_none() {
            // This route never creates a conversation.
            return Err(for_conversation(StoreError::NotFound, conversation_id));
        }
        let human_handled = context.conversation.is_some_and(|c| c.is_human_handled);
        let index_version = context
            .project
            .as_ref()
            .and_then(|p| p.index_version.clone());
        let assistant = choose_assistant(
            &self.settings,
            caller,
            conversation_id,
            turn.assistant_id,
            context,
        )?;
        let mut stored = new_turn(conversation_id, &turn.user_text);
        let (context_messages, previous, page_url) = match turn.input {
            TurnInput::Messages(messages) => {
                let previous = previous_question(&messages);
                (messages, previous, None)
            }
            TurnInput::Stored(page) => {
                stored.create = false;
                stored.user_message.page_url = page.url.clone();
                stored.user_message.page_title = page.title.clone();
                stored.user_message.text_selection = page.text_selection.clone();
                let history = history.map_err(api_error)?;
                let previous = history
                    .iter()
                    .rev()
                    .find(|m| m.role == MessageRole::User)
                    .map(message_text);
                let messages =
                    stored_context(&page, &history, &turn.user_text, &self.settings.history);
                (messages, previous, page.url)
            }
        };
        if stored_input && human_handled {
            return self.store_for_agent(caller, stored).await;
        }
        let provider = self.providers.for_assistant(&assistant)?;
        let message_id = stored
            .assistant_message
            .as_ref()
            .map(|m| m.id)
            .expect("a turn that is answered has an assistant message");
        // On the send route the write itself makes sure no agent took over since the read.
        stored.unless_human_handled = stored_input;
        let search = async {
            let Some(version) = index_version else {
                return Ok(Answering::Free);
            };
            let query = search_query(previous.as_deref(), &turn.user_text);
            let query = TurnQuery {
                query: &query,
                page_url: page_url.as_deref(),
            };
            let grounding = self
                .knowledge
                .ground(caller.project, &version, prepared, query)
                .await?;
            Ok::<_, ApiError>(decide(grounding, &turn.user_text, &assistant))
        };
        // The search is in-process: it runs while the turn's write is on the wire, and adds
        // nothing to the first byte when its index is warm.
        let (written, answering) = tokio::join!(self.store.write_turn(caller, &stored), search);
        match written {
            // A handoff landed between the read and the write: the agent answers, as if it
            // had come first.
            Err(StoreError::HumanHandled) => return self.store_for_agent(caller, stored).await,
            result => result.map_err(|e| for_conversation(e, conversation_id))?,
        }
        let answering = match answering {
            Ok(answering) => answering,
            Err(error) => {
                // The visitor's message is kept; the answer ends as a failed one, as when a
                // provider fails before its first token.
                generation::fail_unread_knowledge(
                    &self.store,
                    caller,
                    conversation_id,
                    message_id,
                    &assistant.model,
                )
                .await;
                error.log();
                return Ok(with_conversation(error_response(&error), conversation_id));
            }
        };
        let citing = answering.citing();
        tracing::info!(%conversation_id, %message_id, model = %assistant.model, provider = assistant.provider.as_str(), stream = turn.stream, grounded = ?citing.grounded, "turn stored");
        let request = model_request(
            &assistant,
            &answering,
            context_messages,
            self.settings.max_output_tokens,
        );
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
            citing,
        };
        let mut events = match answering {
            Answering::AsWritten { text, .. } => as_written(text),
            _ => provider.stream(request),
        };
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

    /// While a person answers: the visitor's message is stored, nobody generates, and the
    /// answer is the contract's 202.
    async fn store_for_agent(
        &self,
        caller: Caller,
        mut stored: NewTurn,
    ) -> Result<Response<TurnBody>, ApiError> {
        let conversation_id = stored.conversation_id;
        stored.assistant_message = None;
        self.store
            .write_turn(caller, &stored)
            .await
            .map_err(|e| for_conversation(e, conversation_id))?;
        tracing::info!(%conversation_id, "message stored for a human agent");
        let mut response = Response::new(TurnBody::from(HUMAN_HANDLED_BODY.to_owned()));
        *response.status_mut() = StatusCode::ACCEPTED;
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        Ok(with_conversation(response, conversation_id))
    }
}

/// The visitor's message before the last, in a context the client sent.
fn previous_question(messages: &[ChatMessage]) -> Option<String> {
    messages
        .iter()
        .rev()
        .filter(|m| m.role == chat_domain::chat::ChatRole::User)
        .nth(1)
        .map(|m| m.content.clone())
}

fn with_conversation<B>(mut response: Response<B>, conversation_id: Uuid) -> Response<B> {
    if let Ok(value) = HeaderValue::from_str(&conversation_id.to_string()) {
        response.headers_mut().insert(CONVERSATION_ID_HEADER, value);
    }
    response
}
