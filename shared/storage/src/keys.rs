//! Every key and attribute name of the table, in one place. The project id is part of every
//! key, so projects are isolated by construction: another project's id simply does not exist.
//!
//! | item | pk | sk |
//! |---|---|---|
//! | conversation | `P#<projectId>#C#<conversationId>` | `C` |
//! | message | `P#<projectId>#C#<conversationId>` | `M#<messageId>` (UUIDv7: time-ordered) |
//! | project settings | `P#<projectId>` | `P` |
//! | assistant | `P#<projectId>` | `A#<assistantId>` |
//! | message pointer (which conversation a message is in) | `P#<projectId>#M#<messageId>` | `MP` |
//! | rate-limit counter | `RL#<class>#P#<projectId>[#V#<visitorId>]`, `RL#quota#P#<projectId>` | the window |
//! | WebSocket connection (with a TTL) | `P#<projectId>#C#<conversationId>` | `WS#<connectionId>` |
//! | connection pointer (which conversation a connection is on; with a TTL) | `WS#<connectionId>` | `WS` |
//!
//! The visitor index (`gsi1`): `gsi1pk = P#<projectId>#V#<visitorId>`, `gsi1sk = lastInteractionAt`.
//! The project index (`gsi2`): `gsi2pk = P#<projectId>`, sorted by the same `gsi1sk`.

use uuid::Uuid;

use chat_domain::ids::{ProjectId, VisitorId};
use chat_domain::limits::{Counter, CounterScope};

/// The partition key attribute.
pub const PARTITION_KEY: &str = "pk";
/// The sort key attribute.
pub const SORT_KEY: &str = "sk";
/// The index listing a visitor's conversations, newest first.
pub const VISITOR_INDEX: &str = "gsi1";
/// The index's partition key attribute.
pub const VISITOR_INDEX_PK: &str = "gsi1pk";
/// The index's sort key attribute.
pub const VISITOR_INDEX_SK: &str = "gsi1sk";
/// The index listing every conversation of a project (`scope=project`), newest first.
pub const PROJECT_INDEX: &str = "gsi2";
/// That index's partition key attribute.
pub const PROJECT_INDEX_PK: &str = "gsi2pk";
/// That index's sort key attribute: the visitor index's own (`gsi1sk`), so every writer
/// that moves a conversation's newest-message time in the one index moves it in both.
pub const PROJECT_INDEX_SK: &str = "gsi1sk";
/// The attribute DynamoDB's TTL deletes items by (epoch seconds).
pub const TTL_ATTRIBUTE: &str = "expiresAt";

/// The sort key of a project's settings item.
pub const PROJECT_SK: &str = "P";
/// The sort-key prefix of assistant items.
pub const ASSISTANT_SK_PREFIX: &str = "A#";
/// The sort key of a conversation item.
pub const CONVERSATION_SK: &str = "C";
/// The sort-key prefix of message items.
pub const MESSAGE_SK_PREFIX: &str = "M#";
/// The sort key of a message pointer.
pub const MESSAGE_POINTER_SK: &str = "MP";
/// The partition-key prefix of rate-limit counters.
pub const COUNTER_PK_PREFIX: &str = "RL#";

/// The partition key of a project's settings and assistants.
pub fn project_pk(project: ProjectId) -> String {
    format!("P#{}", project.0)
}

/// The sort key of an assistant.
pub fn assistant_sk(assistant: Uuid) -> String {
    format!("{ASSISTANT_SK_PREFIX}{assistant}")
}

/// The partition key of a conversation and its messages.
pub fn conversation_pk(project: ProjectId, conversation: Uuid) -> String {
    format!("P#{}#C#{}", project.0, conversation)
}

/// The project and conversation of a conversation's partition key (`None` for any other
/// key): how a change read from the table's stream names what it is about.
pub fn conversation_of_pk(pk: &str) -> Option<(ProjectId, Uuid)> {
    let (project, conversation) = pk.strip_prefix("P#")?.split_once("#C#")?;
    Some((
        ProjectId(Uuid::parse_str(project).ok()?),
        Uuid::parse_str(conversation).ok()?,
    ))
}

/// The sort key of a message.
pub fn message_sk(message: Uuid) -> String {
    format!("{MESSAGE_SK_PREFIX}{message}")
}

/// The partition key of the pointer from a message's id to its conversation.
pub fn message_pointer_pk(project: ProjectId, message: Uuid) -> String {
    format!("P#{}#M#{}", project.0, message)
}

/// The index partition key listing a visitor's conversations.
pub fn visitor_gsi_pk(project: ProjectId, visitor: VisitorId) -> String {
    format!("P#{}#V#{}", project.0, visitor.0)
}

/// The index partition key listing every conversation of a project.
pub fn project_gsi_pk(project: ProjectId) -> String {
    format!("P#{}", project.0)
}

/// The key of a rate-limit counter.
pub fn counter_key(counter: &Counter) -> (String, String) {
    let class: &'static str = counter.class.into();
    let pk = match (counter.scope, counter.visitor) {
        (CounterScope::Monthly, _) => format!("{COUNTER_PK_PREFIX}quota#P#{}", counter.project.0),
        // Per address across projects: one address is one address.
        (CounterScope::SourceIp, _) => format!(
            "{COUNTER_PK_PREFIX}{class}#IP#{}",
            counter.source_ip.as_deref().unwrap_or("unknown")
        ),
        (CounterScope::Visitor, Some(visitor)) => format!(
            "{COUNTER_PK_PREFIX}{class}#P#{}#V#{}",
            counter.project.0, visitor.0
        ),
        (CounterScope::Project | CounterScope::Visitor, _) => {
            format!("{COUNTER_PK_PREFIX}{class}#P#{}", counter.project.0)
        }
    };
    (pk, counter.window.clone())
}

/// The sort key of an API key item (one item per key partition).
pub const SINGLE_SK_KEY: &str = "K";
/// The sort key of a visitor item.
pub const VISITOR_SK: &str = "V";
/// The sort key of a device item.
pub const DEVICE_SK: &str = "D";

/// The partition key of an API key: the publishable key itself, or a secret key's digest.
pub fn api_key_pk(lookup: &str) -> String {
    format!("K#{lookup}")
}

/// The index partition key listing a project's keys.
pub fn project_keys_gsi_pk(project: ProjectId) -> String {
    format!("P#{}#K", project.0)
}

/// The partition key of a visitor.
pub fn visitor_pk(project: ProjectId, visitor: VisitorId) -> String {
    format!("P#{}#V#{}", project.0, visitor.0)
}

/// The partition key of an anonymous visitor's device (the widget's `saVid`).
pub fn device_pk(project: ProjectId, device: &str) -> String {
    format!("P#{}#D#{device}", project.0)
}

/// The sort-key prefix of a conversation's WebSocket connections.
pub const CONNECTION_SK_PREFIX: &str = "WS#";
/// The sort key of a connection pointer.
pub const CONNECTION_POINTER_SK: &str = "WS";

/// The sort key of a WebSocket connection, under its conversation's partition.
pub fn connection_sk(connection: &str) -> String {
    format!("{CONNECTION_SK_PREFIX}{connection}")
}

/// The partition key of the pointer from a connection id to its conversation: `$disconnect`
/// names the connection alone. API Gateway makes the id, so no caller chooses this key.
pub fn connection_pointer_pk(connection: &str) -> String {
    format!("WS#{connection}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_indexes_sort_conversations_by_one_attribute() {
        assert_eq!(PROJECT_INDEX_SK, VISITOR_INDEX_SK);
        assert_ne!(PROJECT_INDEX_PK, VISITOR_INDEX_PK);
        let project = ProjectId(uuid::Uuid::nil());
        assert_eq!(
            project_gsi_pk(project),
            "P#00000000-0000-0000-0000-000000000000"
        );
    }
}
