//! `POST /v2/chat/completions`: one turn of a stored conversation, answered as JSON or
//! as a UI message stream.
//!
//! Order of work: authenticate → parse the body → read settings, assistant and
//! conversation (one BatchGetItem) → refuse with 402/403/409/422 → write the turn (one
//! transaction: the user message and a `streaming` assistant message) → wait for the
//! provider's first token (the 200 is committed only then) → stream or collect →
//! finish the assistant message (one UpdateItem).

pub mod body;
pub mod generation;
pub mod runtime_socket;

use std::sync::Arc;

use bytes::Bytes;
use chat_shared::ApiError;
use chat_shared::assistant::{Assistant, Plan};
use chat_shared::auth::Authenticator;
use chat_shared::config::CompletionSettings;
use chat_shared::cors::Cors;
use chat_shared::domain::{
    Caller, ConversationStatus, Message, MessageRole, MessageStatus, RawJson, new_id,
};
use chat_shared::input::body_bytes;
use chat_shared::input::completion::CompletionRequest;
use chat_shared::provider::registry::Providers;
use chat_shared::provider::{ChatMessage, ChatRole, ModelRequest};
use chat_shared::rate_limit::{OperationClass, RateLimiter};
use chat_shared::respond::{error_response, json_response, respond};
use chat_shared::storage::{CompletionStore, LimitStore, NewTurn, TurnContext};
use chat_shared::timestamp::Timestamp;
use chat_shared::ui_stream::STREAM_HEADERS;
use http::{HeaderName, HeaderValue, StatusCode};
use lambda_http::{Request, Response};
use serde_json::json;
use uuid::Uuid;

pub use body::CompletionBody;
use generation::{Caps, Generation, first_event};

/// The header naming the conversation a completion was stored in.
pub const CONVERSATION_ID_HEADER: HeaderName = HeaderName::from_static("x-conversation-id");

/// The feature an advanced assistant needs, as a 402 names it.
pub const ADVANCED_FEATURE: &str = "advanced_ai_models";

/// What a completion is served with, built once per process.
pub struct Completion<S> {
    /// The storage adapter (cheap to clone: generation outlives the handler call).
    pub store: S,
    /// The session-token verifier.
    pub auth: Arc<Authenticator>,
    /// The model providers.
    pub providers: Arc<Providers>,
    /// Defaults, timeouts and provider settings.
    pub settings: Arc<CompletionSettings>,
    /// Rate limits and quotas.
    pub limiter: Arc<RateLimiter>,
    /// Which browser origins may read the answers.
    pub cors: Cors,
}

/// Handles one completion request; every outcome, errors included, is a response.
pub async fn handle<S>(deps: &Completion<S>, req: Request) -> Response<CompletionBody>
where
    S: CompletionStore + LimitStore + Clone + 'static,
{
    respond(req, &deps.cors, async |req, headers| {
        let caller = deps.auth.authenticate(req.headers())?;
        let request = CompletionRequest::parse(body_bytes(&req)?)?;
        let conversation_id = request.conversation_id.unwrap_or_else(new_id);
        // The rate-limit and quota counters move alongside the first read.
        let counters = deps
            .limiter
            .counters(caller, OperationClass::Completions, Timestamp::now());
        let (context, counts) = tokio::join!(
            deps.store
                .turn_context(caller, conversation_id, request.assistant_id),
            deps.store.increment(&counters),
        );
        let context = context.map_err(|e| e.for_conversation(conversation_id))?;
        let limits = deps.limiter.evaluate(
            OperationClass::Completions,
            &counters,
            &counts?,
            &context.project.as_ref().map(|p| p.limits).unwrap_or_default(),
            context
                .project
                .as_ref()
                .map_or(deps.settings.default_plan, |p| p.plan),
        );
        headers.extend(limits.headers());
        limits.check()?;
        let assistant = choose_assistant(&deps.settings, caller, conversation_id, &request, context)?;
        let provider = deps.providers.for_assistant(&assistant)?;
        let turn = new_turn(conversation_id, request.last_user_message());
        let message_id = turn.assistant_message.id;
        deps.store
            .write_turn(caller, &turn)
            .await
            .map_err(|e| e.for_conversation(conversation_id))?;
        tracing::info!(%conversation_id, %message_id, model = %assistant.model, provider = assistant.provider.as_str(), stream = request.stream, "turn stored");

        let generation = Generation {
            store: deps.store.clone(),
            caller,
            conversation_id,
            message_id,
            model: assistant.model.clone(),
            idle_timeout: deps.settings.idle_timeout,
            keep_alive: deps.settings.keep_alive,
            caps: Caps {
                max_output_tokens: deps.settings.max_output_tokens,
                deadline: tokio::time::Instant::now() + deps.settings.max_generation_time,
            },
        };
        let mut events = provider.stream(model_request(
            &assistant,
            request.messages,
            deps.settings.max_output_tokens,
        ));
        let first = match first_event(&mut events, deps.settings.first_token_timeout).await {
            Ok(event) => event,
            Err(error) => {
                let error = generation.fail_before_first_token(error).await;
                error.log();
                return Ok(with_conversation(error_response(&error), conversation_id));
            }
        };

        if request.stream {
            let (chunks, body) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
            tokio::spawn(generation.stream(first, events, chunks));
            let mut response = Response::new(CompletionBody::Stream(body));
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
                Ok(with_conversation(json_response(StatusCode::OK, &body), conversation_id))
            }
            Err(error) => {
                error.log();
                Ok(with_conversation(error_response(&error), conversation_id))
            }
        }
    })
    .await
}

/// Decides who answers, or why nobody may: 403 and 409 for the conversation, 422 for an
/// unknown assistant, 402 for a plan that does not include it.
fn choose_assistant(
    settings: &CompletionSettings,
    caller: Caller,
    conversation_id: Uuid,
    request: &CompletionRequest,
    context: TurnContext,
) -> Result<Assistant, ApiError> {
    if let Some(conversation) = context.conversation {
        if conversation.owner != caller.visitor.0 {
            return Err(ApiError::Forbidden);
        }
        if conversation.status == ConversationStatus::Closed {
            return Err(chat_shared::storage::StoreError::Closed.for_conversation(conversation_id));
        }
    }
    let plan = context
        .project
        .as_ref()
        .map_or(settings.default_plan, |p| p.plan);
    let assistant = match request.assistant_id {
        Some(id) => context.assistant.ok_or_else(|| {
            ApiError::validation("assistantId", format!("no assistant {id} in this project"))
        })?,
        None => context
            .project
            .and_then(|p| p.default_assistant)
            .unwrap_or_else(|| settings.default_assistant.clone()),
    };
    if !plan.allows(assistant.tier) {
        return Err(ApiError::PaymentRequired {
            current_plan: plan.as_str().to_owned(),
            required_plan: Plan::Pro.as_str().to_owned(),
            feature: ADVANCED_FEATURE.to_owned(),
        });
    }
    Ok(assistant)
}

/// The user message (complete) and the assistant message (streaming, empty) of a turn.
pub fn new_turn(conversation_id: Uuid, user_text: &str) -> NewTurn {
    let now = Timestamp::now();
    let user_message = Message::text(
        new_id(),
        conversation_id,
        MessageRole::User,
        user_text,
        MessageStatus::Complete,
        now,
    );
    let mut assistant_message = Message::text(
        new_id(),
        conversation_id,
        MessageRole::Assistant,
        "",
        MessageStatus::Streaming,
        now,
    );
    assistant_message.parts = RawJson::empty_list();
    NewTurn {
        conversation_id,
        user_message,
        assistant_message,
    }
}

/// The model's context: the assistant's system prompt first, then the request's. The
/// output cap is the assistant's own or the deployment's, whichever is lower.
fn model_request(assistant: &Assistant, messages: Vec<ChatMessage>, cap: u32) -> ModelRequest {
    let mut context = Vec::with_capacity(messages.len() + 1);
    if let Some(prompt) = &assistant.system_prompt {
        context.push(ChatMessage {
            role: ChatRole::System,
            content: prompt.clone(),
        });
    }
    context.extend(messages);
    ModelRequest {
        model: assistant.model.clone(),
        messages: context,
        temperature: assistant.temperature,
        max_output_tokens: Some(assistant.max_output_tokens.map_or(cap, |own| own.min(cap))),
    }
}

fn with_conversation<B>(mut response: Response<B>, conversation_id: Uuid) -> Response<B> {
    if let Ok(value) = HeaderValue::from_str(&conversation_id.to_string()) {
        response.headers_mut().insert(CONVERSATION_ID_HEADER, value);
    }
    response
}
