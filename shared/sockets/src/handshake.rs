//! The handshake decision, the same for `$connect` on AWS and the local server's upgrade:
//! the publishable key (400 when missing, 401 when unknown or revoked, 403 when the
//! request's `Origin` may not use it, as on every HTTP route), the conversation in that
//! key's project (404 otherwise: another project's conversation does not exist for it),
//! and the connection recorded under the conversation, with its TTL, in the same round
//! trip as the conversation's check.

use chat_domain::ApiError;
use chat_domain::ids::ProjectId;
use chat_domain::input::ConversationId;
use chat_domain::live::CONNECTION_TTL_SECS;
use chat_domain::timestamp::Timestamp;
use chat_edge::Edge;
use chat_edge::api_keys::publishable_key;
use chat_edge::store_errors::for_conversation;
use chat_storage::ports::{ConnectionStore, KeyStore};
use uuid::Uuid;

/// The query parameter carrying the publishable key.
pub const API_KEY_PARAM: &str = "apiKey";
/// The query parameter carrying the conversation on AWS (the CloudFront Function moves the
/// path's id there: a WebSocket API serves its stage root only).
pub const CONVERSATION_PARAM: &str = "conversationId";

/// What a socket's opening request says.
#[derive(Clone, Copy, Debug)]
pub struct Handshake<'a> {
    /// The `apiKey` query parameter.
    pub api_key: Option<&'a str>,
    /// The conversation's id, from the path (local) or the query (AWS).
    pub conversation_id: Option<&'a str>,
    /// The `Origin` header.
    pub origin: Option<&'a str>,
    /// The id the socket server gave the connection.
    pub connection_id: &'a str,
}

/// A socket let in, and recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Admitted {
    /// The key's project.
    pub project: ProjectId,
    /// The conversation it listens to.
    pub conversation_id: Uuid,
}

/// Decides whether `handshake` opens a socket, and records it when it does.
pub async fn admit<S: KeyStore + ConnectionStore>(
    edge: &Edge,
    store: &S,
    handshake: Handshake<'_>,
) -> Result<Admitted, ApiError> {
    let (_, context) = publishable_key(
        &edge.keys,
        store,
        handshake.api_key,
        API_KEY_PARAM,
        handshake.origin,
    )
    .await?;
    let project = context
        .key
        .as_ref()
        .map(|record| record.project)
        .ok_or_else(|| ApiError::internal("a checked key has a record"))?;
    let raw = handshake
        .conversation_id
        .ok_or_else(|| ApiError::invalid(CONVERSATION_PARAM, "conversationId is required"))?;
    let ConversationId(conversation_id) = ConversationId::parse(raw, CONVERSATION_PARAM)?;
    let expires_at = Timestamp::now().unix_seconds() + CONNECTION_TTL_SECS;
    store
        .open_connection(
            project,
            conversation_id,
            handshake.connection_id,
            expires_at,
        )
        .await
        .map_err(|e| for_conversation(e, conversation_id))?;
    Ok(Admitted {
        project,
        conversation_id,
    })
}
