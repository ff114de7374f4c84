//! The agents function (API.md §12, the agent side), called by a site's team through its
//! backend with a project's secret key:
//! - `POST /v2/conversations/{conversationId}/handoff`: a human agent takes the conversation
//!   over (another handoff replaces the agent); one conditional UpdateItem.
//! - `POST /v2/conversations/{conversationId}/agent-messages`: the agent writes to the
//!   visitor; one consistent read (beside the rate-limit counters), one transaction.
//! - `POST /v2/conversations/{conversationId}/release`: back to the AI; one conditional
//!   UpdateItem, which changes nothing when no agent had it.
//!
//! Each handler writes, then answers with exactly what the store says it wrote. The
//! widget's sockets learn of the write (`human_assigned`, `new_message`) from the table's
//! stream (the `push` function), off this route's path.

use std::sync::Arc;

use chat_domain::ApiError;
use chat_domain::conversation::Conversation;
use chat_domain::ids::Caller;
use chat_domain::input::ConversationId;
use chat_domain::input::agents::{AgentMessageRequest, HandoffRequest};
use chat_domain::message::Message;
use chat_domain::timestamp::Timestamp;
use chat_edge::limits::count_reads;
use chat_edge::request::{body, conversation_id};
use chat_edge::respond::{json_response, respond};
use chat_edge::store_errors::for_conversation;
use chat_edge::{Base, Edge, Handler};
use chat_storage::ports::{AgentStore, KeyStore, LimitStore};
use http::StatusCode;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use uuid::Uuid;

/// What a session token on an agent route is told.
pub const SESSION_TOKEN_REFUSAL: &str =
    "Agent routes take a secret key of the project, not a visitor's session token";

/// The agents function's state: the store it writes and the edge.
pub struct Agents<S> {
    /// Where conversations and messages are.
    pub store: S,
    /// Auth, limits, CORS.
    pub edge: Arc<Edge>,
}

impl Agents<chat_storage::DynamoStore> {
    /// The state of a process built from `base`.
    pub fn new(base: &Base) -> Self {
        Self {
            store: base.store.clone(),
            edge: base.edge.clone(),
        }
    }
}

/// The last segment of the route's path (`handoff`, `agent-messages`, `release`): from the
/// resource API Gateway matched, else from the path itself.
fn action(req: &Request) -> String {
    let resource = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => context.resource_path.clone(),
        _ => None,
    };
    let path = resource.unwrap_or_else(|| req.uri().path().to_owned());
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned()
}

impl<S: AgentStore + LimitStore + KeyStore> Agents<S> {
    /// Who may call an agent route, and the conversation it names: the checks every route
    /// makes before its body (auth, then the path id).
    async fn target(&self, req: &Request) -> Result<(Caller, Uuid), ApiError> {
        let caller = chat_edge::auth::project_caller(
            &self.edge,
            &self.store,
            req.headers(),
            SESSION_TOKEN_REFUSAL,
        )
        .await?;
        let ConversationId(id) = conversation_id(req)?;
        Ok((caller, id))
    }

    /// `POST /v2/conversations/{conversationId}/handoff`: 200 with the conversation as
    /// stored, handled by the agent the body names.
    pub async fn handoff(&self, req: Request) -> Response<Body> {
        respond(req, &self.edge.cors, async |req, headers| {
            let (caller, id) = self.target(&req).await?;
            let request = HandoffRequest::parse(body(&req)?)?;
            // Counted before the write, like close: a handoff refused with 429 did nothing.
            let limits =
                count_reads(&self.edge.limiter, &self.store, caller, Timestamp::now()).await?;
            headers.extend(limits.headers());
            limits.check()?;
            let conversation: Conversation = self
                .store
                .hand_off(caller, id, &request.agent, Timestamp::now())
                .await
                .map_err(|e| for_conversation(e, id))?;
            Ok(json_response(StatusCode::OK, &conversation))
        })
        .await
    }

    /// `POST /v2/conversations/{conversationId}/agent-messages`: 201 with the
    /// `human_agent` message as stored.
    pub async fn agent_message(&self, req: Request) -> Response<Body> {
        respond(req, &self.edge.cors, async |req, headers| {
            let (caller, id) = self.target(&req).await?;
            let request = AgentMessageRequest::parse(body(&req)?)?;
            // Counted beside the read, and refused before the write.
            let (conversation, limits) = tokio::join!(
                self.store.conversation(caller, id),
                count_reads(&self.edge.limiter, &self.store, caller, Timestamp::now()),
            );
            let limits = limits?;
            headers.extend(limits.headers());
            limits.check()?;
            let conversation = conversation.map_err(|e| for_conversation(e, id))?;
            let message: Message = self
                .store
                .write_agent_message(caller, &conversation, &request.content, Timestamp::now())
                .await
                .map_err(|e| for_conversation(e, id))?;
            Ok(json_response(StatusCode::CREATED, &message))
        })
        .await
    }

    /// `POST /v2/conversations/{conversationId}/release`: 200 with the conversation as
    /// stored, answered by the AI again.
    pub async fn release(&self, req: Request) -> Response<Body> {
        respond(req, &self.edge.cors, async |req, headers| {
            let (caller, id) = self.target(&req).await?;
            // Release takes no body and ignores one, within the size every route allows.
            body(&req)?;
            let limits =
                count_reads(&self.edge.limiter, &self.store, caller, Timestamp::now()).await?;
            headers.extend(limits.headers());
            limits.check()?;
            let conversation: Conversation = self
                .store
                .release(caller, id, Timestamp::now())
                .await
                .map_err(|e| for_conversation(e, id))?;
            Ok(json_response(StatusCode::OK, &conversation))
        })
        .await
    }
}

impl<S: AgentStore + LimitStore + KeyStore> Handler for Agents<S> {
    type Body = Body;

    async fn handle(&self, req: Request) -> Response<Body> {
        match action(&req).as_str() {
            "handoff" => self.handoff(req).await,
            "agent-messages" => self.agent_message(req).await,
            "release" => self.release(req).await,
            _ => {
                respond(req, &self.edge.cors, async |_, _| {
                    Err::<Response<Body>, _>(ApiError::RouteNotFound)
                })
                .await
            }
        }
    }
}
