//! The conversations function: `GET /v2/conversations` (the visitor's conversations, one
//! page in any order; with a secret key the project's own, and with `scope=project` every
//! conversation of the project), `POST /v2/conversations` (start one, empty) and
//! `GET /v2/conversations/{conversationId}/messages` (its messages, oldest first). One
//! Lambda for the three, since they read and write the same items with the same rights.

use std::sync::Arc;

use chat_domain::ApiError;
use chat_domain::conversation::{Conversation, ConversationPage, ListedConversation};
use chat_domain::ids::new_id;
use chat_domain::input::ConversationId;
use chat_domain::input::conversations::{ListQuery, ListScope, MessageQuery, StartRequest};
use chat_domain::timestamp::Timestamp;
use chat_edge::interrupted;
use chat_edge::limits::count_reads;
use chat_edge::request::{body, conversation_id, query_param};
use chat_edge::respond::{json_response, respond};
use chat_edge::store_errors::{api_error, for_conversation};
use chat_edge::{Base, Edge, Handler};
use chat_storage::ports::{
    ConversationLister, ConversationStarter, KeyStore, LimitStore, MessageLister,
};
use http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;

/// What a session token asking for `scope=project` is told.
pub const PROJECT_SCOPE_REFUSAL: &str =
    "scope=project lists every visitor's conversations: it takes a secret key of the project";

/// The conversations function's state: the store it reads and writes and the edge.
pub struct Conversations<S> {
    /// Where conversations and messages are.
    pub store: S,
    /// Auth, limits, CORS.
    pub edge: Arc<Edge>,
}

impl Conversations<chat_storage::DynamoStore> {
    /// The state of a process built from `base`.
    pub fn new(base: &Base) -> Self {
        Self {
            store: base.store.clone(),
            edge: base.edge.clone(),
        }
    }
}

impl<S> Conversations<S>
where
    S: ConversationLister + ConversationStarter + MessageLister + LimitStore + KeyStore,
{
    /// `GET /v2/conversations`: one page of the caller's conversations; with
    /// `scope=project` and a secret key, of every conversation of its project.
    pub async fn list(&self, req: Request) -> Response<Body> {
        let (store, edge) = (&self.store, &self.edge);
        respond(req, &edge.cors, async |req, headers| {
            let caller = chat_edge::auth::caller(edge, store, req.headers()).await?;
            let query = ListQuery::parse(|name| query_param(&req, name))?;
            if query.scope == ListScope::Project && !caller.is_project_scope() {
                return Err(ApiError::WrongCredential(PROJECT_SCOPE_REFUSAL));
            }
            let (page, limits) = tokio::join!(
                store.list_conversations(caller, &query),
                count_reads(&edge.limiter, store, caller, Timestamp::now()),
            );
            let limits = limits?;
            headers.extend(limits.headers());
            limits.check()?;
            let page = page.map_err(api_error)?;
            let now = Timestamp::now();
            let mut stale = Vec::new();
            let data = page
                .data
                .into_iter()
                .map(|(conversation, mut last_message)| {
                    let shown =
                        interrupted::show(&edge.interrupt, last_message.as_mut_slice(), now);
                    if !shown.is_empty() {
                        stale.push((conversation.id, shown));
                    }
                    ListedConversation {
                        conversation,
                        last_message,
                    }
                })
                .collect();
            for (id, messages) in &stale {
                interrupted::repair(store, caller, *id, messages).await;
            }
            let body = ConversationPage {
                object: "list",
                total: page.total,
                limit: query.limit,
                offset: query.offset,
                data,
            };
            Ok(json_response(StatusCode::OK, &body))
        })
        .await
    }

    /// `POST /v2/conversations`: a new, empty, open conversation of the caller.
    pub async fn start(&self, req: Request) -> Response<Body> {
        let (store, edge) = (&self.store, &self.edge);
        respond(req, &edge.cors, async |req, headers| {
            let caller = chat_edge::auth::caller(edge, store, req.headers()).await?;
            // Validated, not stored: no object of the API carries a conversation's page;
            // each message records the page it was sent from.
            let _request = StartRequest::parse(body(&req)?)?;
            // Counted before the write, like close: a start refused with 429 made nothing.
            let limits = count_reads(&edge.limiter, store, caller, Timestamp::now()).await?;
            headers.extend(limits.headers());
            limits.check()?;
            let conversation = Conversation::new(new_id(), caller.visitor, Timestamp::now());
            store
                .start_conversation(caller, &conversation)
                .await
                .map_err(api_error)?;
            let mut shown = conversation;
            shown.messages = Some(Vec::new());
            Ok(json_response(StatusCode::CREATED, &shown))
        })
        .await
    }

    /// `GET /v2/conversations/{conversationId}/messages`: a page of its messages.
    pub async fn messages(&self, req: Request) -> Response<Body> {
        let (store, edge) = (&self.store, &self.edge);
        respond(req, &edge.cors, async |req, headers| {
            let caller = chat_edge::auth::caller(edge, store, req.headers()).await?;
            let ConversationId(id) = conversation_id(&req)?;
            let query = MessageQuery::parse(|name| query_param(&req, name))?;
            let (page, limits) = tokio::join!(
                store.list_messages(caller, id, &query, edge.interrupt, Timestamp::now()),
                count_reads(&edge.limiter, store, caller, Timestamp::now()),
            );
            let limits = limits?;
            headers.extend(limits.headers());
            limits.check()?;
            let page = page.map_err(|e| for_conversation(e, id))?;
            interrupted::repair(store, caller, id, &page.interrupted).await;
            Ok(json_response(
                StatusCode::OK,
                &json!({ "object": "list", "data": page.messages }),
            ))
        })
        .await
    }
}

impl<S> Handler for Conversations<S>
where
    S: ConversationLister + ConversationStarter + MessageLister + LimitStore + KeyStore,
{
    type Body = Body;

    async fn handle(&self, req: Request) -> Response<Body> {
        // API Gateway sends the three routes here; the path parameter tells them apart.
        let names_conversation = req
            .path_parameters_ref()
            .and_then(|p| p.first("conversationId"))
            .is_some();
        match (req.method(), names_conversation) {
            (&Method::POST, _) => self.start(req).await,
            (_, true) => self.messages(req).await,
            (_, false) => self.list(req).await,
        }
    }
}
