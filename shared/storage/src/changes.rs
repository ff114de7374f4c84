//! What a change read from the table's stream means for the widget's sockets (API.md §12):
//! the one decision of what to push, made from the item's images, so that the push runs
//! off the path of the write that caused it (DESIGN.md "Live updates"). On AWS the `push`
//! function gets the changes from the stream's event source mapping; the local server
//! follows the same stream and hands them to the same function.

use chat_domain::ids::ProjectId;
use chat_domain::message::{Message, MessageRole};
use uuid::Uuid;

use crate::error::StoreError;
use crate::items::conversation::{HUMAN_AGENT, human_handled_of, is_conversation};
use crate::items::message::is_message;
use crate::items::{Item, key_of, message};
use crate::keys::conversation_of_pk;

/// What happened to an item, as the stream's `eventName` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// The item was written for the first time.
    Insert,
    /// An existing item was changed.
    Modify,
    /// The item was deleted (by a write or by the TTL).
    Remove,
}

impl ChangeKind {
    /// The kind the stream's `eventName` names (`INSERT`, `MODIFY`, `REMOVE`).
    pub fn from_event_name(name: &str) -> Option<Self> {
        match name {
            "INSERT" => Some(Self::Insert),
            "MODIFY" => Some(Self::Modify),
            "REMOVE" => Some(Self::Remove),
            _ => None,
        }
    }
}

/// A change the widget's sockets are told of.
#[derive(Clone, Debug, PartialEq)]
pub enum LiveChange {
    /// A `user` or `human_agent` message was stored (`new_message`).
    MessageStored {
        /// The conversation's project.
        project: ProjectId,
        /// The message as stored (boxed: far larger than the other change).
        message: Box<Message>,
    },
    /// A human agent took the conversation over, or another agent took it from the first
    /// (`human_assigned`).
    HandedOff {
        /// The conversation's project.
        project: ProjectId,
        /// The conversation.
        conversation_id: Uuid,
    },
}

/// What `kind` of change, from `old` to `new` (absent images empty), tells the sockets:
/// `None` for every change they are not told of (assistant answers, a conversation's other
/// updates, any other item). An item that names a conversation but does not read as one is
/// an error.
pub fn live_change(
    kind: ChangeKind,
    old: &Item,
    new: &Item,
) -> Result<Option<LiveChange>, StoreError> {
    let Some((project, conversation_id)) = conversation_of_pk(key_of(new).0) else {
        return Ok(None);
    };
    match kind {
        ChangeKind::Insert if is_message(new) => {
            let message = message::from_item(conversation_id, new)?;
            Ok(
                matches!(message.role, MessageRole::User | MessageRole::HumanAgent).then(|| {
                    LiveChange::MessageStored {
                        project,
                        message: Box::new(message),
                    }
                }),
            )
        }
        ChangeKind::Modify if is_conversation(new) => {
            let taken_over = human_handled_of(new)?
                && (!human_handled_of(old)? || old.get(HUMAN_AGENT) != new.get(HUMAN_AGENT));
            Ok(taken_over.then_some(LiveChange::HandedOff {
                project,
                conversation_id,
            }))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use chat_domain::conversation::Conversation;
    use chat_domain::human_agent::HumanAgent;
    use chat_domain::ids::VisitorId;
    use chat_domain::message::MessageStatus;
    use chat_domain::timestamp::Timestamp;

    use super::*;
    use crate::items::conversation;

    fn project() -> ProjectId {
        ProjectId(Uuid::now_v7())
    }

    fn message_of(role: MessageRole, chat: Uuid) -> Message {
        Message::text(
            Uuid::now_v7(),
            chat,
            role,
            "Hello",
            MessageStatus::Complete,
            Timestamp::from_unix_millis(1_700_000_000_000),
        )
    }

    fn conversation_of(handled_by: Option<&str>) -> Conversation {
        let now = Timestamp::from_unix_millis(1_700_000_000_000);
        let mut conversation = Conversation::new(Uuid::now_v7(), VisitorId(Uuid::now_v7()), now);
        conversation.is_human_handled = handled_by.is_some();
        conversation.human_agent = handled_by.map(|name| HumanAgent {
            name: Some(name.to_owned()),
            image: None,
        });
        conversation
    }

    #[test]
    fn visitors_and_agents_messages_are_told_and_assistant_answers_are_not() {
        let project = project();
        let chat = Uuid::now_v7();
        for role in [MessageRole::User, MessageRole::HumanAgent] {
            let message = message_of(role, chat);
            let item = message::attributes(project, &message);
            assert_eq!(
                live_change(ChangeKind::Insert, &Item::new(), &item).unwrap(),
                Some(LiveChange::MessageStored {
                    project,
                    message: Box::new(message)
                })
            );
        }
        let answer = message::attributes(project, &message_of(MessageRole::Assistant, chat));
        assert_eq!(
            live_change(ChangeKind::Insert, &Item::new(), &answer).unwrap(),
            None
        );
        // A message's later updates (an answer finishing, feedback) are not news.
        let user = message::attributes(project, &message_of(MessageRole::User, chat));
        for kind in [ChangeKind::Modify, ChangeKind::Remove] {
            assert_eq!(live_change(kind, &user, &user).unwrap(), None);
        }
    }

    #[test]
    fn a_handoff_is_told_once_and_other_updates_of_a_conversation_are_not() {
        let project = project();
        let free = conversation_of(None);
        let dana = conversation_of(Some("Dana"));
        let item = |c: &Conversation| {
            let mut c = c.clone();
            c.id = free.id;
            conversation::attributes(project, &c)
        };
        let handed_off = Some(LiveChange::HandedOff {
            project,
            conversation_id: free.id,
        });
        let modify = |old: &Conversation, new: &Conversation| {
            live_change(ChangeKind::Modify, &item(old), &item(new)).unwrap()
        };
        assert_eq!(modify(&free, &dana), handed_off);
        assert_eq!(modify(&dana, &conversation_of(Some("Sam"))), handed_off);
        // A message stored while Dana answers moves the conversation's times only.
        assert_eq!(modify(&dana, &dana), None);
        assert_eq!(modify(&dana, &free), None, "a release is not a handoff");
        assert_eq!(modify(&free, &free), None);
        assert_eq!(
            live_change(ChangeKind::Insert, &Item::new(), &item(&free)).unwrap(),
            None
        );
    }

    #[test]
    fn items_outside_conversations_are_not_told_and_broken_ones_are_errors() {
        let project = project();
        let mut settings = crate::items::key(crate::keys::project_pk(project), "P");
        settings.insert("plan".into(), crate::items::string("pro"));
        assert_eq!(
            live_change(ChangeKind::Insert, &Item::new(), &settings).unwrap(),
            None
        );
        let mut broken =
            message::attributes(project, &message_of(MessageRole::User, Uuid::now_v7()));
        broken.insert("role".into(), crate::items::string("robot"));
        assert!(live_change(ChangeKind::Insert, &Item::new(), &broken).is_err());
    }

    #[test]
    fn event_names_are_the_streams_own() {
        assert_eq!(
            ChangeKind::from_event_name("INSERT"),
            Some(ChangeKind::Insert)
        );
        assert_eq!(
            ChangeKind::from_event_name("MODIFY"),
            Some(ChangeKind::Modify)
        );
        assert_eq!(
            ChangeKind::from_event_name("REMOVE"),
            Some(ChangeKind::Remove)
        );
        assert_eq!(ChangeKind::from_event_name("insert"), None);
    }
}
