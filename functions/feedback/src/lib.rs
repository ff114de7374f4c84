//! `POST /v2/messages/{messageId}/feedback`: the visitor rates an assistant message. Two
//! round trips: the message's pointer (beside the rate-limit counters), then one
//! conditional UpdateItem of the message; the conversation is not written.

use std::sync::Arc;

use chat_domain::ApiError;
use chat_domain::ids::Access;
use chat_domain::input::feedback::FeedbackRequest;
use chat_domain::message::MessageRole;
use chat_domain::timestamp::Timestamp;
use chat_edge::limits::count_reads;
use chat_edge::request::{body, message_id};
use chat_edge::respond::{json_response, respond};
use chat_edge::store_errors::api_error;
use chat_edge::{Base, Edge, Handler};
use chat_storage::StoreError;
use chat_storage::ports::{FeedbackStore, KeyStore, LimitStore};
use lambda_http::{Body, Request, Response};
use serde_json::json;
use uuid::Uuid;

/// The feedback function's state: the store it writes and the edge.
pub struct FeedbackFunction<S> {
    /// Where messages are.
    pub store: S,
    /// Auth, limits, CORS.
    pub edge: Arc<Edge>,
}

impl FeedbackFunction<chat_storage::DynamoStore> {
    /// The state of a process built from `base`.
    pub fn new(base: &Base) -> Self {
        Self {
            store: base.store.clone(),
            edge: base.edge.clone(),
        }
    }
}

/// The contract's error for a storage failure concerning message `id`.
fn for_message(error: StoreError, id: Uuid) -> ApiError {
    match error {
        StoreError::NotFound => ApiError::MessageNotFound {
            message_id: id.to_string(),
        },
        StoreError::NotOwner => ApiError::Forbidden,
        other => api_error(other),
    }
}

impl<S: FeedbackStore + LimitStore + KeyStore> Handler for FeedbackFunction<S> {
    type Body = Body;

    async fn handle(&self, req: Request) -> Response<Body> {
        let (store, edge) = (&self.store, &self.edge);
        respond(req, &edge.cors, async |req, headers| {
            let caller = chat_edge::auth::caller(edge, store, req.headers()).await?;
            let id = message_id(&req)?;
            let request = FeedbackRequest::parse(body(&req)?)?;
            // Counted beside the read, and refused before the write: a 429 rated nothing.
            let (pointer, limits) = tokio::join!(
                store.message_pointer(caller, id),
                count_reads(&edge.limiter, store, caller, Timestamp::now()),
            );
            let limits = limits?;
            headers.extend(limits.headers());
            limits.check()?;
            let pointer = pointer.map_err(|e| for_message(e, id))?;
            match caller.access(pointer.owner) {
                Access::Allowed => {}
                Access::NotOwner => return Err(ApiError::Forbidden),
                // The project's own conversation: for a visitor its messages do not exist.
                Access::Hidden => return Err(for_message(StoreError::NotFound, id)),
            }
            if pointer.role != MessageRole::Assistant {
                return Err(ApiError::validation(
                    "messageId",
                    "feedback is only given on an assistant message",
                ));
            }
            store
                .set_feedback(
                    caller,
                    pointer.conversation_id,
                    id,
                    request.feedback,
                    Timestamp::now(),
                )
                .await
                .map_err(|e| for_message(e, id))?;
            Ok(json_response(
                http::StatusCode::OK,
                &json!({ "feedback": request.feedback }),
            ))
        })
        .await
    }
}
