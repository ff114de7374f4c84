//! `POST /v2/conversations/{conversationId}/close`: closes the caller's conversation.
//! Idempotent; one conditional DynamoDB UpdateItem tells not-found, another visitor's and
//! already-closed apart. With rate limits on, the counters are moved first.

use chat_shared::auth::Authenticator;
use chat_shared::cors::Cors;
use chat_shared::input::{CloseRequest, ConversationId, body_bytes};
use chat_shared::rate_limit::{RateLimiter, count_reads};
use chat_shared::respond::{json_response, respond};
use chat_shared::storage::{CloseOutcome, ConversationCloser, LimitStore};
use chat_shared::timestamp::Timestamp;
use lambda_http::{Body, Request, Response};
use serde_json::json;

/// The message of a close that closed the conversation.
pub const CLOSED_MESSAGE: &str = "Conversation closed successfully.";
/// The message of a close that found it closed already.
pub const ALREADY_CLOSED_MESSAGE: &str = "Conversation was already closed.";

/// Handles one close request; every outcome, errors included, is a response.
pub async fn handle(
    store: &(impl ConversationCloser + LimitStore),
    auth: &Authenticator,
    limiter: &RateLimiter,
    cors: &Cors,
    req: Request,
) -> Response<Body> {
    respond(req, cors, async |req, headers| {
        let caller = auth.authenticate(req.headers())?;
        let ConversationId(id) = ConversationId::from_path(&req)?;
        let body = CloseRequest::parse(body_bytes(&req)?)?;
        let reason = body.reason.as_ref().map(|r| r.as_str());
        // Counted before the write, not beside it: a close refused with 429 must not
        // have closed anything.
        let limits = count_reads(limiter, store, caller, Timestamp::now()).await?;
        headers.extend(limits.headers());
        limits.check()?;
        let outcome = store
            .close_conversation(caller, id, reason, Timestamp::now())
            .await
            .map_err(|e| e.for_conversation(id))?;
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
