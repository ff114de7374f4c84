//! Deciding a turn before anything is written: who answers (or why nobody may), the two
//! messages the turn stores, and what the model is asked.

use chat_domain::ApiError;
use chat_domain::Spelling;
use chat_domain::assistant::{Assistant, Plan};
use chat_domain::chat::{ChatMessage, ChatRole};
use chat_domain::conversation::ConversationStatus;
use chat_domain::ids::{Access, Caller, new_id};
use chat_domain::message::{Message, MessageRole, MessageStatus, RawJson};
use chat_domain::timestamp::Timestamp;
use chat_domain::title::title_from;
use chat_edge::store_errors::for_conversation;
use chat_providers::ModelRequest;
use chat_storage::StoreError;
use chat_storage::ports::{NewTurn, TurnContext};
use uuid::Uuid;

use crate::grounded::Answering;
use crate::settings::TurnSettings;

/// The feature an advanced assistant needs, as a 402 names it.
pub const ADVANCED_FEATURE: &str = "advanced_ai_models";

/// Decides who answers, or why nobody may: 403 and 409 for the conversation, 422 for an
/// unknown assistant, 402 for a plan that does not include it.
pub fn choose_assistant(
    settings: &TurnSettings,
    caller: Caller,
    conversation_id: Uuid,
    assistant_id: Option<Uuid>,
    context: TurnContext,
) -> Result<Assistant, ApiError> {
    if let Some(conversation) = context.conversation {
        match caller.access(conversation.owner) {
            Access::Allowed => {}
            Access::NotOwner => return Err(ApiError::Forbidden),
            Access::Hidden => return Err(for_conversation(StoreError::NotFound, conversation_id)),
        }
        if conversation.status == ConversationStatus::Closed {
            return Err(for_conversation(StoreError::Closed, conversation_id));
        }
    }
    let plan = context
        .project
        .as_ref()
        .map_or(settings.default_plan, |p| p.plan);
    let assistant = match assistant_id {
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

/// The user message (complete) and the assistant message (streaming, empty) of a turn
/// that creates its conversation when needed and titles an untitled one.
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
        create: true,
        title: title_from(user_text),
        user_message,
        assistant_message: Some(assistant_message),
        unless_human_handled: false,
    }
}

/// The model's context: the assistant's system prompt first, then what the knowledge
/// found (sources, or how to answer small talk), then `messages`. The output cap is the
/// assistant's own or the deployment's, whichever is lower.
pub fn model_request(
    assistant: &Assistant,
    answering: &Answering,
    messages: Vec<ChatMessage>,
    cap: u32,
) -> ModelRequest {
    let mut context = Vec::with_capacity(messages.len() + 2);
    if let Some(prompt) = &assistant.system_prompt {
        context.push(ChatMessage {
            role: ChatRole::System,
            content: prompt.clone(),
        });
    }
    context.extend(answering.instructions());
    context.extend(messages);
    ModelRequest {
        model: assistant.model.clone(),
        messages: context,
        temperature: assistant.temperature,
        max_output_tokens: Some(assistant.max_output_tokens.map_or(cap, |own| own.min(cap))),
        grounding: answering.grounding(),
    }
}
