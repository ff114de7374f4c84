//! A message as the API writes it: its role, status, feedback and parts.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::human_agent::HumanAgent;
use crate::timestamp::Timestamp;
use strum::{EnumString, IntoStaticStr, VariantNames};

/// Who wrote a message.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    IntoStaticStr,
    EnumString,
    VariantNames,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum MessageRole {
    /// The visitor.
    User,
    /// The AI assistant.
    Assistant,
    /// A human agent.
    HumanAgent,
}

/// Where a message is in its life.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    IntoStaticStr,
    EnumString,
    VariantNames,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum MessageStatus {
    /// An assistant message being generated.
    Streaming,
    /// Finished.
    Complete,
    /// Generation failed; `error` says why.
    Error,
}

/// A visitor's reaction to a message.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    IntoStaticStr,
    EnumString,
    VariantNames,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
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

/// An answer's parts: its text, then one `source-url` part per source it cites (API.md
/// §16), as the stream sent them.
pub fn answer_parts(text: &str, sources: &[crate::citations::Cited]) -> RawJson {
    let mut parts = vec![serde_json::json!({ "type": "text", "text": text })];
    parts.extend(sources.iter().map(|source| {
        serde_json::json!({
            "type": "source-url",
            "sourceId": source.id,
            "url": source.url,
            "title": source.title,
        })
    }));
    RawJson::from_value(&serde_json::Value::Array(parts))
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
}
