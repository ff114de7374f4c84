//! `POST /v2/conversations/{conversationId}/close`: closes the caller's conversation.
//! Idempotent; one conditional DynamoDB UpdateItem tells not-found, another visitor's and
//! already-closed apart. With rate limits on, the counters are moved first.

use std::sync::Arc;

use chat_domain::input::{CloseRequest, ConversationId};
use chat_domain::timestamp::Timestamp;
use chat_edge::limits::count_reads;
use chat_edge::request::{body, conversation_id};
use chat_edge::respond::{json_response, respond};
use chat_edge::store_errors::for_conversation;
use chat_edge::{Base, Edge, Handler};
use chat_storage::ports::{CloseOutcome, ConversationCloser, KeyStore, LimitStore};
use lambda_http::{Body, Request, Response};
use serde_json::json;

/// The message of a close that closed the conversation.
pub const CLOSED_MESSAGE: &str = "Conversation closed successfully.";
/// The message of a close that found it closed already.
pub const ALREADY_CLOSED_MESSAGE: &str = "Conversation was already closed.";

/// The close function's state: the store it writes and the edge.
pub struct CloseConversation<S> {
    /// Where conversations are closed.
    pub store: S,
    /// Auth, limits, CORS.
    pub edge: Arc<Edge>,
}

impl CloseConversation<chat_storage::DynamoStore> {
    /// The state of a process built from `base`.
    pub fn new(base: &Base) -> Self {
        Self {
            store: base.store.clone(),
            edge: base.edge.clone(),
        }
    }
}

impl<S: ConversationCloser + LimitStore + KeyStore> Handler for CloseConversation<S> {
    type Body = Body;

    async fn handle(&self, req: Request) -> Response<Body> {
        let (store, edge) = (&self.store, &self.edge);
        respond(req, &edge.cors, async |req, headers| {
            let caller = chat_edge::auth::caller(edge, store, req.headers()).await?;
            let ConversationId(id) = conversation_id(&req)?;
            let request = CloseRequest::parse(body(&req)?)?;
            let reason = request.reason.as_ref().map(|r| r.as_str());
            // Counted before the write, not beside it: a close refused with 429 must not
            // have closed anything.
            let limits = count_reads(&edge.limiter, store, caller, Timestamp::now()).await?;
            headers.extend(limits.headers());
            limits.check()?;
            let outcome = store
                .close_conversation(caller, id, reason, Timestamp::now())
                .await
                .map_err(|e| for_conversation(e, id))?;
            let message = match outcome {
                CloseOutcome::Closed => CLOSED_MESSAGE,
                CloseOutcome::AlreadyClosed => ALREADY_CLOSED_MESSAGE,
            };
            Ok(json_response(
                http::StatusCode::OK,
                &json!({ "success": true, "message": message }),
            ))
        })
        .await
    }
}
