//! The body of `POST /v2/chat/completions`, parsed into a request that is valid by
//! construction. Shape errors are 400 naming the field (`messages[3].role`); limits are
//! 422.

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::Spelling;
use crate::chat::{ChatMessage, ChatRole};
use crate::error::ApiError;
use crate::input::{json_object_body, parse_uuid};

/// The most messages a request may carry.
pub const MAX_MESSAGES: usize = 100;
/// The longest message content, in Unicode characters.
pub const MAX_CONTENT_CHARS: usize = 10_000;

/// A valid completion request.
#[derive(Clone, Debug, PartialEq)]
pub struct CompletionRequest {
    /// The model's context, 1 to 100 messages, the last one the visitor's.
    pub messages: Vec<ChatMessage>,
    /// Stream the answer as a UI message stream.
    pub stream: bool,
    /// The assistant to answer, when not the project's default.
    pub assistant_id: Option<Uuid>,
    /// The conversation this turn belongs to, when the client names one.
    pub conversation_id: Option<Uuid>,
}

impl CompletionRequest {
    /// Parses and validates a request body.
    pub fn parse(bytes: &[u8]) -> Result<Self, ApiError> {
        let body = json_object_body(bytes)?
            .ok_or_else(|| ApiError::invalid("body", "the request body must be a JSON object"))?;
        let messages = parse_messages(&body)?;
        let stream = match body.get("stream") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(stream)) => *stream,
            Some(_) => return Err(ApiError::invalid("stream", "stream must be a boolean")),
        };
        Ok(Self {
            messages,
            stream,
            assistant_id: optional_uuid(&body, "assistantId")?,
            conversation_id: optional_uuid(&body, "conversationId")?,
        })
    }

    /// The visitor's message this turn stores: the last one.
    pub fn last_user_message(&self) -> &str {
        // Parsing guarantees a last message with role `user`.
        &self.messages[self.messages.len() - 1].content
    }
}

fn optional_uuid(body: &Map<String, Value>, field: &str) -> Result<Option<Uuid>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => parse_uuid(text, field).map(Some),
        Some(_) => Err(ApiError::invalid(
            field,
            format!("{field} must be a UUID string"),
        )),
    }
}

fn parse_messages(body: &Map<String, Value>) -> Result<Vec<ChatMessage>, ApiError> {
    let list = match body.get("messages") {
        None | Some(Value::Null) => {
            return Err(ApiError::invalid("messages", "messages is required"));
        }
        Some(Value::Array(list)) => list,
        Some(_) => return Err(ApiError::invalid("messages", "messages must be an array")),
    };
    let mut messages = Vec::with_capacity(list.len());
    for (index, item) in list.iter().enumerate() {
        messages.push(parse_message(index, item)?);
    }
    if messages.is_empty() || messages.len() > MAX_MESSAGES {
        return Err(ApiError::validation(
            "messages",
            format!(
                "messages must hold 1 to {MAX_MESSAGES} items (got {})",
                messages.len()
            ),
        ));
    }
    if messages.last().map(|m| m.role) != Some(ChatRole::User) {
        let last = messages.len() - 1;
        return Err(ApiError::validation(
            format!("messages[{last}].role"),
            "the last message must have role user",
        ));
    }
    Ok(messages)
}

fn parse_message(index: usize, item: &Value) -> Result<ChatMessage, ApiError> {
    let field = |name: &str| format!("messages[{index}].{name}");
    let Value::Object(message) = item else {
        return Err(ApiError::invalid(
            format!("messages[{index}]"),
            "each message must be an object",
        ));
    };
    let role = match message.get("role") {
        Some(Value::String(role)) => ChatRole::parse(role).ok_or_else(|| {
            ApiError::invalid(field("role"), "role must be one of system, user, assistant")
        })?,
        None | Some(Value::Null) => {
            return Err(ApiError::invalid(field("role"), "role is required"));
        }
        Some(_) => return Err(ApiError::invalid(field("role"), "role must be a string")),
    };
    let content = message_content(message.get("content"), &field("content"))?;
    Ok(ChatMessage { role, content })
}

/// A message's text, the `content` of every body that carries one (a completion's
/// messages, a visitor's send, an agent's message), named `field` in its errors: a string
/// (else 400) of 1 to [`MAX_CONTENT_CHARS`] characters (else 422).
pub fn message_content(value: Option<&Value>, field: &str) -> Result<String, ApiError> {
    let content = match value {
        Some(Value::String(content)) => content,
        None | Some(Value::Null) => return Err(ApiError::invalid(field, "content is required")),
        Some(_) => return Err(ApiError::invalid(field, "content must be a string")),
    };
    let chars = content.chars().count();
    if chars == 0 || chars > MAX_CONTENT_CHARS {
        return Err(ApiError::validation(
            field,
            format!("content must be 1 to {MAX_CONTENT_CHARS} characters (got {chars})"),
        ));
    }
    Ok(content.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> Result<CompletionRequest, ApiError> {
        CompletionRequest::parse(value.to_string().as_bytes())
    }

    fn refusal(value: Value) -> (u16, String) {
        let error = parse(value).unwrap_err();
        let field = error.details().unwrap()["field"]
            .as_str()
            .unwrap()
            .to_owned();
        (error.status().as_u16(), field)
    }

    fn user(content: &str) -> Value {
        json!({"role": "user", "content": content})
    }

    #[test]
    fn a_minimal_request_has_defaults() {
        let request = parse(json!({"messages": [user("Hi")], "extra": true})).unwrap();
        assert!(!request.stream);
        assert_eq!(request.assistant_id, None);
        assert_eq!(request.last_user_message(), "Hi");
    }

    #[test]
    fn message_counts_are_checked_at_their_boundaries() {
        assert_eq!(refusal(json!({"messages": []})), (422, "messages".into()));
        let hundred: Vec<Value> = (0..100).map(|_| user("x")).collect();
        assert_eq!(
            parse(json!({"messages": hundred})).unwrap().messages.len(),
            100
        );
        let over: Vec<Value> = (0..101).map(|_| user("x")).collect();
        assert_eq!(refusal(json!({"messages": over})), (422, "messages".into()));
    }

    #[test]
    fn content_length_is_counted_in_characters() {
        let exact = "ß".repeat(10_000);
        assert!(parse(json!({"messages": [user(&exact)]})).is_ok());
        let over = "ß".repeat(10_001);
        assert_eq!(
            refusal(json!({"messages": [user(&over)]})),
            (422, "messages[0].content".into())
        );
        assert_eq!(
            refusal(json!({"messages": [user("")]})),
            (422, "messages[0].content".into())
        );
    }

    #[test]
    fn shape_errors_name_the_field() {
        assert_eq!(refusal(json!({})), (400, "messages".into()));
        assert_eq!(refusal(json!({"messages": "hi"})), (400, "messages".into()));
        assert_eq!(
            refusal(json!({"messages": [1]})),
            (400, "messages[0]".into())
        );
        assert_eq!(
            refusal(json!({"messages": [user("a"), {"role": "robot", "content": "x"}]})),
            (400, "messages[1].role".into())
        );
        assert_eq!(
            refusal(json!({"messages": [{"role": "user"}]})),
            (400, "messages[0].content".into())
        );
        assert_eq!(
            refusal(json!({"messages": [{"role": "user", "content": 5}]})),
            (400, "messages[0].content".into())
        );
        assert_eq!(
            refusal(json!({"messages": [user("a")], "stream": "yes"})),
            (400, "stream".into())
        );
        assert_eq!(
            refusal(json!({"messages": [user("a")], "assistantId": "nope"})),
            (400, "assistantId".into())
        );
        assert_eq!(
            refusal(json!({"messages": [user("a")], "conversationId": 7})),
            (400, "conversationId".into())
        );
    }

    #[test]
    fn the_last_message_must_be_the_visitors() {
        let body = json!({"messages": [user("a"), {"role": "assistant", "content": "b"}]});
        assert_eq!(refusal(body), (422, "messages[1].role".into()));
    }

    #[test]
    fn bodies_that_are_not_objects_are_400() {
        for body in [&b""[..], b"[]", b"null", b"{"] {
            let error = CompletionRequest::parse(body).unwrap_err();
            assert_eq!(error.status().as_u16(), 400, "{body:?}");
        }
    }
}
