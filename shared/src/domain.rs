//! The API's objects, Conversation and Message, and their exact JSON form.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::timestamp::Timestamp;

/// Makes a new server-side id: UUID version 7, time-ordered.
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

/// The project a session token belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProjectId(pub Uuid);

/// The visitor a session token belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VisitorId(pub Uuid);

/// Who is asking: the project and visitor of a verified session token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The project every key is scoped by.
    pub project: ProjectId,
    /// The visitor that owns the conversations it creates.
    pub visitor: VisitorId,
}

/// Whether a conversation still takes messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConversationStatus {
    /// Takes new turns.
    Open,
    /// Closed by the visitor; read-only.
    Closed,
}

impl ConversationStatus {
    /// The stored and wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "open" => Some(Self::Open),
            "closed" => Some(Self::Closed),
            _ => None,
        }
    }
}

/// A human agent who took a conversation over.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HumanAgent {
    /// Display name.
    pub name: Option<String>,
    /// Avatar URL.
    pub image: Option<String>,
}

/// A conversation, as `get` returns it (`messages` only there).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    /// Always `"conversation"`.
    pub object: &'static str,
    /// The conversation id.
    pub id: Uuid,
    /// The owning visitor; never serialised.
    #[serde(skip)]
    pub visitor_id: Uuid,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was last written.
    pub updated_at: Timestamp,
    /// Open or closed.
    pub status: ConversationStatus,
    /// When it was first closed.
    pub closed_at: Option<Timestamp>,
    /// Why it was closed.
    pub close_reason: Option<String>,
    /// The newest message's time.
    pub last_interaction_at: Timestamp,
    /// Whether a human agent took over.
    pub is_human_handled: bool,
    /// The human agent, when one took over.
    pub human_agent: Option<HumanAgent>,
    /// A title, when one was set.
    pub title: Option<String>,
    /// Oldest first; present in `get` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<Message>>,
}

impl Conversation {
    /// A fresh open conversation owned by `visitor`.
    pub fn new(id: Uuid, visitor: VisitorId, now: Timestamp) -> Self {
        Self {
            object: "conversation",
            id,
            visitor_id: visitor.0,
            created_at: now,
            updated_at: now,
            status: ConversationStatus::Open,
            closed_at: None,
            close_reason: None,
            last_interaction_at: now,
            is_human_handled: false,
            human_agent: None,
            title: None,
            messages: None,
        }
    }
}

/// Who wrote a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageRole {
    /// The visitor.
    User,
    /// The AI assistant.
    Assistant,
    /// A human agent.
    HumanAgent,
}

impl MessageRole {
    /// The stored and wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Assistant => "assistant",
            Self::HumanAgent => "human_agent",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "user" => Some(Self::User),
            "assistant" => Some(Self::Assistant),
            "human_agent" => Some(Self::HumanAgent),
            _ => None,
        }
    }
}

/// Where a message is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    /// An assistant message being generated.
    Streaming,
    /// Finished.
    Complete,
    /// Generation failed; `error` says why.
    Error,
}

impl MessageStatus {
    /// The stored and wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Streaming => "streaming",
            Self::Complete => "complete",
            Self::Error => "error",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "streaming" => Some(Self::Streaming),
            "complete" => Some(Self::Complete),
            "error" => Some(Self::Error),
            _ => None,
        }
    }
}

/// A visitor's reaction to a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Feedback {
    /// Thumbs up.
    Like,
    /// Thumbs down.
    Dislike,
}

/// A message. All fifteen keys are always serialised, `null` where empty.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// Always `"message"`.
    pub object: &'static str,
    /// The message id (UUIDv7).
    pub id: Uuid,
    /// When it was created.
    pub created_at: Timestamp,
    /// The conversation's id.
    pub chat_id: Uuid,
    /// Who wrote it.
    pub role: MessageRole,
    /// AI SDK message parts.
    pub parts: RawJson,
    /// Where it is in its life.
    pub status: Option<MessageStatus>,
    /// What went wrong, for `status: "error"`.
    pub error: Option<String>,
    /// The visitor's reaction.
    pub feedback: Option<Feedback>,
    /// When the reaction was given.
    pub feedback_at: Option<Timestamp>,
    /// For assistant messages: model, finish reason, usage.
    pub metadata: Option<RawJson>,
    /// The human agent who wrote it.
    pub human_agent: Option<HumanAgent>,
    /// The page the visitor was on.
    pub page_url: Option<String>,
    /// That page's title.
    pub page_title: Option<String>,
    /// Text the visitor had selected.
    pub text_selection: Option<String>,
}

impl Message {
    /// A message with the given role and text and every optional key empty.
    pub fn text(
        id: Uuid,
        chat_id: Uuid,
        role: MessageRole,
        text: &str,
        status: MessageStatus,
        created_at: Timestamp,
    ) -> Self {
        Self {
            object: "message",
            id,
            created_at,
            chat_id,
            role,
            parts: text_parts(text),
            status: Some(status),
            error: None,
            feedback: None,
            feedback_at: None,
            metadata: None,
            human_agent: None,
            page_url: None,
            page_title: None,
            text_selection: None,
        }
    }
}

/// JSON kept as the text it is stored as (a message's `parts` and `metadata`): checked when
/// read, then written into responses as is, not built into a tree and serialised back.
#[derive(Clone, Debug, Serialize)]
#[serde(transparent)]
pub struct RawJson(Box<serde_json::value::RawValue>);

impl RawJson {
    /// `text`, when it is one JSON value.
    pub fn parse(text: &str) -> Option<Self> {
        serde_json::value::RawValue::from_string(text.to_owned())
            .ok()
            .map(Self)
    }

    /// The compact text of `value`.
    pub fn from_value(value: &Value) -> Self {
        Self(serde_json::value::to_raw_value(value).expect("a JSON value always serialises"))
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    /// `[]`: the parts of a message with nothing in it yet.
    pub fn empty_list() -> Self {
        Self::parse("[]").expect("[] is JSON")
    }
}

impl PartialEq for RawJson {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

/// The AI SDK parts of a plain text message.
pub fn text_parts(text: &str) -> RawJson {
    RawJson::from_value(&serde_json::json!([{ "type": "text", "text": text }]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_always_has_all_fifteen_keys() {
        let message = Message::text(
            Uuid::nil(),
            Uuid::nil(),
            MessageRole::User,
            "hi",
            MessageStatus::Complete,
            Timestamp::from_unix_millis(0),
        );
        let json = serde_json::to_value(&message).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = vec![
            "object",
            "id",
            "createdAt",
            "chatId",
            "role",
            "parts",
            "status",
            "error",
            "feedback",
            "feedbackAt",
            "metadata",
            "humanAgent",
            "pageUrl",
            "pageTitle",
            "textSelection",
        ];
        expected.sort_unstable();
        let mut keys_sorted = keys.clone();
        keys_sorted.sort_unstable();
        assert_eq!(keys_sorted, expected);
        assert_eq!(json["createdAt"], "1970-01-01T00:00:00.000Z");
        assert_eq!(
            json["parts"],
            serde_json::json!([{"type": "text", "text": "hi"}])
        );
        assert_eq!(json["error"], Value::Null);
    }

    #[test]
    fn a_conversation_hides_its_owner_and_spells_keys_as_the_contract() {
        let conversation = Conversation::new(
            Uuid::nil(),
            VisitorId(Uuid::max()),
            Timestamp::from_unix_millis(0),
        );
        let json = serde_json::to_value(&conversation).unwrap();
        assert!(json.get("visitorId").is_none());
        assert!(json.get("messages").is_none());
        assert_eq!(json["object"], "conversation");
        assert_eq!(json["status"], "open");
        assert_eq!(json["lastInteractionAt"], "1970-01-01T00:00:00.000Z");
        assert_eq!(json["closedAt"], Value::Null);
        assert_eq!(json["humanAgent"], Value::Null);
        assert_eq!(json["isHumanHandled"], false);
    }

    #[test]
    fn new_ids_are_version_7() {
        assert_eq!(new_id().get_version_num(), 7);
    }
}
