//! The WebSocket connection item and its pointer: their one writer ([`attributes`],
//! [`pointer_attributes`]) and readers. The item sits in its conversation's partition, so a
//! push lists a conversation's sockets in one Query; the pointer, keyed by the connection
//! id, lets `$disconnect` (which knows nothing else) find and delete it. Both carry the TTL
//! attribute, so a connection whose `$disconnect` never came is swept.

use chat_domain::ids::ProjectId;
use uuid::Uuid;

use crate::error::StoreError;
use crate::items::{Item, Reader, string};
use crate::keys::{
    CONNECTION_POINTER_SK, CONNECTION_SK_PREFIX, PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE,
    connection_pointer_pk, connection_sk, conversation_pk,
};

/// The project attribute of a pointer.
pub const PROJECT_ID: &str = "projectId";
/// The conversation attribute of a pointer.
pub const CONVERSATION_ID: &str = "conversationId";

/// Where a connection is: what its pointer says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionPlace {
    /// The project of the conversation.
    pub project: ProjectId,
    /// The conversation the socket listens to.
    pub conversation_id: Uuid,
}

fn ttl(expires_at: i64) -> aws_sdk_dynamodb::types::AttributeValue {
    aws_sdk_dynamodb::types::AttributeValue::N(expires_at.to_string())
}

/// Every attribute of connection `connection` on `conversation_id`, expiring at
/// `expires_at` (epoch seconds).
pub fn attributes(
    project: ProjectId,
    conversation_id: Uuid,
    connection: &str,
    expires_at: i64,
) -> Item {
    Item::from([
        (
            PARTITION_KEY.to_owned(),
            string(conversation_pk(project, conversation_id)),
        ),
        (SORT_KEY.to_owned(), string(connection_sk(connection))),
        (TTL_ATTRIBUTE.to_owned(), ttl(expires_at)),
    ])
}

/// Every attribute of the pointer from `connection` to its conversation.
pub fn pointer_attributes(
    project: ProjectId,
    conversation_id: Uuid,
    connection: &str,
    expires_at: i64,
) -> Item {
    Item::from([
        (
            PARTITION_KEY.to_owned(),
            string(connection_pointer_pk(connection)),
        ),
        (SORT_KEY.to_owned(), string(CONNECTION_POINTER_SK)),
        (PROJECT_ID.to_owned(), string(project.0.to_string())),
        (
            CONVERSATION_ID.to_owned(),
            string(conversation_id.to_string()),
        ),
        (TTL_ATTRIBUTE.to_owned(), ttl(expires_at)),
    ])
}

/// The connection id of a connection item (its sort key after `WS#`), when it is one.
pub fn connection_id_of(item: &Item) -> Option<&str> {
    match item.get(SORT_KEY) {
        Some(aws_sdk_dynamodb::types::AttributeValue::S(sk)) => {
            sk.strip_prefix(CONNECTION_SK_PREFIX)
        }
        _ => None,
    }
}

/// Where a pointer says its connection is.
pub fn place_from_pointer(item: &Item) -> Result<ConnectionPlace, StoreError> {
    let r = Reader(item);
    Ok(ConnectionPlace {
        project: ProjectId(r.uuid(PROJECT_ID)?),
        conversation_id: r.uuid(CONVERSATION_ID)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_names_its_connection_and_a_pointer_its_place() {
        let project = ProjectId(Uuid::now_v7());
        let conversation = Uuid::now_v7();
        let item = attributes(project, conversation, "L0SM9cOFvHcCIhw=", 42);
        assert_eq!(connection_id_of(&item), Some("L0SM9cOFvHcCIhw="));
        assert_eq!(
            item[TTL_ATTRIBUTE],
            aws_sdk_dynamodb::types::AttributeValue::N("42".into())
        );
        let pointer = pointer_attributes(project, conversation, "L0SM9cOFvHcCIhw=", 42);
        assert_eq!(
            place_from_pointer(&pointer).unwrap(),
            ConnectionPlace {
                project,
                conversation_id: conversation
            }
        );
        assert_eq!(
            connection_id_of(&pointer),
            None,
            "a pointer is no connection"
        );
    }
}
