//! `GET /v2/conversations/{conversationId}`: the caller's conversation with its newest
//! 1,000 messages, oldest first. One DynamoDB Query for a conversation under 1 MB.

use chat_shared::auth::Authenticator;
use chat_shared::cors::Cors;
use chat_shared::input::ConversationId;
use chat_shared::rate_limit::{RateLimiter, count_reads};
use chat_shared::respond::{json_response, respond};
use chat_shared::storage::{ConversationReader, LimitStore};
use chat_shared::timestamp::Timestamp;
use lambda_http::{Body, Request, Response};

/// Handles one get request; every outcome, errors included, is a response.
pub async fn handle(
    store: &(impl ConversationReader + LimitStore),
    auth: &Authenticator,
    limiter: &RateLimiter,
    cors: &Cors,
    req: Request,
) -> Response<Body> {
    respond(req, cors, async |req, headers| {
        let caller = auth.authenticate(req.headers())?;
        let ConversationId(id) = ConversationId::from_path(&req)?;
        // The rate-limit counters move alongside the read: no extra round trip.
        let (conversation, limits) = tokio::join!(
            store.conversation_with_messages(caller, id),
            count_reads(limiter, store, caller, Timestamp::now()),
        );
        let limits = limits?;
        headers.extend(limits.headers());
        limits.check()?;
        let conversation = conversation.map_err(|e| e.for_conversation(id))?;
        Ok(json_response(http::StatusCode::OK, &conversation))
    })
    .await
}
