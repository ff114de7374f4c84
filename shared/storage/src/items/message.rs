//! The message item: its one writer ([`attributes`]) and its reader.

use chat_domain::Spelling;
use chat_domain::ids::ProjectId;
use chat_domain::message::{Message, RawJson};
use uuid::Uuid;

use crate::error::StoreError;
use crate::items::{Item, Reader, human_agent_value, put_opt, string};
use crate::keys::{MESSAGE_SK_PREFIX, PARTITION_KEY, SORT_KEY, conversation_pk, message_sk};

/// The status attribute (a DynamoDB reserved word: always written through a name).
pub const STATUS: &str = "status";
/// The error attribute (a reserved word too).
pub const ERROR: &str = "error";
/// The AI SDK parts, as JSON text.
pub const PARTS: &str = "parts";
/// Model, finish reason and usage, as JSON text.
pub const METADATA: &str = "metadata";
/// The visitor's reaction.
pub const FEEDBACK: &str = "feedback";
/// When it was given.
pub const FEEDBACK_AT: &str = "feedbackAt";

/// Every attribute of a message's item.
pub fn attributes(project: ProjectId, message: &Message) -> Item {
    let mut item = Item::new();
    item.insert(
        PARTITION_KEY.into(),
        string(conversation_pk(project, message.chat_id)),
    );
    item.insert(SORT_KEY.into(), string(message_sk(message.id)));
    item.insert("id".into(), string(message.id.to_string()));
    item.insert("createdAt".into(), string(message.created_at.to_string()));
    item.insert("role".into(), string(message.role.as_str()));
    item.insert(PARTS.into(), string(message.parts.as_str()));
    put_opt(
        &mut item,
        STATUS,
        message.status.map(|v| v.as_str().to_owned()),
    );
    put_opt(&mut item, ERROR, message.error.clone());
    put_opt(
        &mut item,
        FEEDBACK,
        message.feedback.map(|f| f.as_str().to_owned()),
    );
    put_opt(
        &mut item,
        FEEDBACK_AT,
        message.feedback_at.map(|t| t.to_string()),
    );
    put_opt(
        &mut item,
        METADATA,
        message.metadata.as_ref().map(|m| m.as_str().to_owned()),
    );
    put_opt(&mut item, "pageUrl", message.page_url.clone());
    put_opt(&mut item, "pageTitle", message.page_title.clone());
    put_opt(&mut item, "textSelection", message.text_selection.clone());
    if let Some(agent) = &message.human_agent {
        item.insert("humanAgent".into(), human_agent_value(agent));
    }
    item
}

/// A message from its item; `chat_id` is the conversation it was read from.
pub fn from_item(chat_id: Uuid, item: &Item) -> Result<Message, StoreError> {
    let r = Reader(item);
    Ok(Message {
        object: "message",
        id: r.uuid("id")?,
        created_at: r.time("createdAt")?,
        chat_id,
        role: r.spelled("role")?,
        parts: r.opt_json(PARTS)?.unwrap_or_else(RawJson::empty_list),
        status: r.opt_spelled(STATUS)?,
        error: r.opt_str(ERROR)?.map(str::to_owned),
        feedback: r.opt_spelled(FEEDBACK)?,
        feedback_at: r.opt_time(FEEDBACK_AT)?,
        metadata: r.opt_json(METADATA)?,
        human_agent: r.human_agent()?,
        page_url: r.opt_str("pageUrl")?.map(str::to_owned),
        page_title: r.opt_str("pageTitle")?.map(str::to_owned),
        text_selection: r.opt_str("textSelection")?.map(str::to_owned),
    })
}

/// Whether an item's sort key is a message's.
pub fn is_message(item: &Item) -> bool {
    crate::items::key_of(item).1.starts_with(MESSAGE_SK_PREFIX)
}

#[cfg(test)]
mod tests {
    use chat_domain::message::{Feedback, MessageRole, MessageStatus};
    use chat_domain::timestamp::Timestamp;

    use super::*;

    #[test]
    fn a_message_round_trips_through_its_item() {
        let mut message = Message::text(
            Uuid::now_v7(),
            Uuid::now_v7(),
            MessageRole::Assistant,
            "héllo",
            MessageStatus::Complete,
            Timestamp::from_unix_millis(1_700_000_000_000),
        );
        message.metadata = Some(RawJson::from_value(
            &serde_json::json!({"model": "m", "finishReason": "stop"}),
        ));
        message.feedback = Some(Feedback::Dislike);
        let item = attributes(ProjectId(Uuid::now_v7()), &message);
        assert_eq!(from_item(message.chat_id, &item).unwrap(), message);
        assert!(is_message(&item));
    }
}
