//! `GET /v2/conversations/{conversationId}`: the caller's conversation with its newest
//! 1,000 messages, oldest first. One DynamoDB Query for a conversation under 1 MB; an
//! answer whose generation died is shown as `error` and repaired (one UpdateItem more).

use std::sync::Arc;

use chat_domain::input::ConversationId;
use chat_domain::timestamp::Timestamp;
use chat_edge::interrupted;
use chat_edge::limits::count_reads;
use chat_edge::request::conversation_id;
use chat_edge::respond::{json_response, respond};
use chat_edge::store_errors::for_conversation;
use chat_edge::{Base, Edge, Handler};
use chat_storage::ports::{ConversationReader, KeyStore, LimitStore, MessageLister};
use lambda_http::{Body, Request, Response};

/// The get function's state: the store it reads and the edge.
pub struct GetConversation<S> {
    /// Where conversations are read.
    pub store: S,
    /// Auth, limits, CORS.
    pub edge: Arc<Edge>,
}

impl GetConversation<chat_storage::DynamoStore> {
    /// The state of a process built from `base`.
    pub fn new(base: &Base) -> Self {
        Self {
            store: base.store.clone(),
            edge: base.edge.clone(),
        }
    }
}

impl<S: ConversationReader + MessageLister + LimitStore + KeyStore> Handler for GetConversation<S> {
    type Body = Body;

    async fn handle(&self, req: Request) -> Response<Body> {
        let (store, edge) = (&self.store, &self.edge);
        respond(req, &edge.cors, async |req, headers| {
            let caller = chat_edge::auth::caller(edge, store, req.headers()).await?;
            let ConversationId(id) = conversation_id(&req)?;
            // The rate-limit counters move alongside the read: no extra round trip.
            let (conversation, limits) = tokio::join!(
                store.conversation_with_messages(caller, id),
                count_reads(&edge.limiter, store, caller, Timestamp::now()),
            );
            let limits = limits?;
            headers.extend(limits.headers());
            limits.check()?;
            let mut conversation = conversation.map_err(|e| for_conversation(e, id))?;
            let messages = conversation.messages.as_deref_mut().unwrap_or_default();
            let stale = interrupted::show(&edge.interrupt, messages, Timestamp::now());
            interrupted::repair(store, caller, id, &stale).await;
            Ok(json_response(http::StatusCode::OK, &conversation))
        })
        .await
    }
}
