//! The widget's live socket (API.md §12): the frames the server pushes, the client's
//! keep-alive, and how long a connection is remembered.

use serde::Serialize;
use uuid::Uuid;

use crate::message::Message;

/// What a client sends to keep its socket open.
pub const PING: &str = "ping";

/// The answer to [`PING`].
pub const PONG: &str = "pong";

/// How long a connection's record outlives its handshake (epoch-seconds TTL). API Gateway
/// closes any WebSocket connection after 2 hours (and an idle one after 10 minutes; the
/// widget pings after 30 s of silence), so no real connection outlives 2 h: the 15 minutes
/// beyond are for clocks and the TTL sweep, never for a connection that still exists.
pub const CONNECTION_TTL_SECS: i64 = 2 * 3600 + 15 * 60;

// Checked where it is defined: a record that expired before its connection closed would
// silence that socket.
const _: () = assert!(CONNECTION_TTL_SECS > 2 * 3600);

/// A JSON text frame pushed to every socket of a conversation.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveFrame {
    /// A `user` or `human_agent` message was stored in the conversation.
    NewMessage {
        /// The conversation.
        #[serde(rename = "chatId")]
        chat_id: Uuid,
        /// The message as stored (what a GET of the conversation shows); boxed, as it is
        /// far larger than the other frames.
        message: Box<Message>,
    },
    /// A human agent took the conversation over.
    HumanAssigned {
        /// The conversation.
        #[serde(rename = "chatId")]
        chat_id: Uuid,
    },
}

impl LiveFrame {
    /// The frame announcing `message`, in its own conversation.
    pub fn new_message(message: Message) -> Self {
        Self::NewMessage {
            chat_id: message.chat_id,
            message: Box::new(message),
        }
    }

    /// The frame announcing a handoff of `conversation_id`.
    pub fn human_assigned(conversation_id: Uuid) -> Self {
        Self::HumanAssigned {
            chat_id: conversation_id,
        }
    }

    /// The conversation it concerns.
    pub fn conversation_id(&self) -> Uuid {
        match self {
            Self::NewMessage { chat_id, .. } | Self::HumanAssigned { chat_id } => *chat_id,
        }
    }

    /// The frame's text, as it goes on the wire.
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).expect("a frame serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{MessageRole, MessageStatus};
    use crate::timestamp::Timestamp;

    const CHAT: &str = "0190a6f8-3c1e-7a00-8000-000000000001";
    const MESSAGE: &str = "0190a6f8-3c1e-7a00-8000-000000000002";

    #[test]
    fn frames_are_the_json_the_contract_shows() {
        let chat = Uuid::parse_str(CHAT).unwrap();
        assert_eq!(
            LiveFrame::human_assigned(chat).to_text(),
            format!("{{\"type\":\"human_assigned\",\"chatId\":\"{CHAT}\"}}")
        );
        let message = Message::text(
            Uuid::parse_str(MESSAGE).unwrap(),
            chat,
            MessageRole::User,
            "Hi \"there\"\n",
            MessageStatus::Complete,
            Timestamp::from_unix_millis(1_700_000_000_000),
        );
        let frame = LiveFrame::new_message(message.clone());
        assert_eq!(frame.conversation_id(), chat);
        let text = frame.to_text();
        assert_eq!(
            text,
            format!(
                "{{\"type\":\"new_message\",\"chatId\":\"{CHAT}\",\"message\":{}}}",
                serde_json::to_string(&message).unwrap()
            )
        );
        assert!(
            text.starts_with(&format!(
                "{{\"type\":\"new_message\",\"chatId\":\"{CHAT}\",\"message\":{{\"object\":\"message\",\"id\":\"{MESSAGE}\",\"createdAt\":\"2023-11-14T22:13:20.000Z\",\"chatId\":\"{CHAT}\",\"role\":\"user\",\"parts\":[{{\"type\":\"text\",\"text\":\"Hi \\\"there\\\"\\n\"}}]"
            )),
            "{text}"
        );
        assert!(!text.contains('\n'), "one line of JSON per frame");
    }
}
