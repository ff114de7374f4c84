//! A conversation as the API writes it, and its status and human agent.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::human_agent::HumanAgent;
use crate::ids::VisitorId;
use crate::message::Message;
use crate::timestamp::Timestamp;

use strum::{EnumString, IntoStaticStr, VariantNames};

/// Whether a conversation still takes messages.
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
pub enum ConversationStatus {
    /// Takes new turns.
    Open,
    /// Closed by the visitor; read-only.
    Closed,
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

/// A conversation as the list shows it: without `messages`, with its newest message.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListedConversation {
    /// The conversation (its `messages` left out).
    #[serde(flatten)]
    pub conversation: Conversation,
    /// Its newest message, or null when it has none.
    pub last_message: Option<Message>,
}

/// A page of the conversation list.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConversationPage {
    /// Always `"list"`.
    pub object: &'static str,
    /// How many conversations match, whatever the page.
    pub total: u64,
    /// The page size asked for.
    pub limit: u64,
    /// The conversations skipped before the page.
    pub offset: u64,
    /// The page.
    pub data: Vec<ListedConversation>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

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
}
