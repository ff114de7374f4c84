//! The message pointer item: its one writer ([`attributes`]) and its reader. Feedback names
//! a message by its id alone; the pointer, keyed by that id and written in the same
//! transaction as the message, finds its conversation, owner and role in one strongly
//! consistent GetItem. (A second index on the message items could not: index reads are
//! eventually consistent, so feedback sent right after an answer could miss it.)

use chat_domain::Spelling;
use chat_domain::ids::ProjectId;
use chat_domain::message::{Message, MessageRole};
use uuid::Uuid;

use crate::error::StoreError;
use crate::items::{Item, Reader, string};
use crate::keys::{MESSAGE_POINTER_SK, PARTITION_KEY, SORT_KEY, message_pointer_pk};

/// Where a message is, as its pointer says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessagePointer {
    /// The conversation holding it.
    pub conversation_id: Uuid,
    /// The visitor owning that conversation.
    pub owner: Uuid,
    /// Who wrote the message.
    pub role: MessageRole,
}

/// Every attribute of the pointer to `message`, in a conversation owned by `owner`.
pub fn attributes(project: ProjectId, owner: Uuid, message: &Message) -> Item {
    let mut item = Item::new();
    item.insert(
        PARTITION_KEY.into(),
        string(message_pointer_pk(project, message.id)),
    );
    item.insert(SORT_KEY.into(), string(MESSAGE_POINTER_SK));
    item.insert("conversationId".into(), string(message.chat_id.to_string()));
    item.insert("visitorId".into(), string(owner.to_string()));
    item.insert("role".into(), string(message.role.as_str()));
    item
}

/// A pointer from its item.
pub fn from_item(item: &Item) -> Result<MessagePointer, StoreError> {
    let r = Reader(item);
    Ok(MessagePointer {
        conversation_id: r.uuid("conversationId")?,
        owner: r.uuid("visitorId")?,
        role: r.spelled("role")?,
    })
}

#[cfg(test)]
mod tests {
    use chat_domain::message::MessageStatus;
    use chat_domain::timestamp::Timestamp;

    use super::*;

    #[test]
    fn a_pointer_round_trips_through_its_item() {
        let message = Message::text(
            Uuid::now_v7(),
            Uuid::now_v7(),
            MessageRole::Assistant,
            "x",
            MessageStatus::Complete,
            Timestamp::from_unix_millis(0),
        );
        let owner = Uuid::now_v7();
        let item = attributes(ProjectId(Uuid::now_v7()), owner, &message);
        assert_eq!(
            from_item(&item).unwrap(),
            MessagePointer {
                conversation_id: message.chat_id,
                owner,
                role: MessageRole::Assistant
            }
        );
    }
}
