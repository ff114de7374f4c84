//! The WebSocket API's routes, one Lambda: `$connect` decides the handshake (the code the
//! local server runs too: [`chat_sockets::handshake::admit`]) and records the connection;
//! `$disconnect` forgets it; `$default` answers text `ping` with `pong` through the route's
//! response (a two-way route: no Management API call, so this function needs no
//! `execute-api:ManageConnections`) and ignores anything else.
//!
//! API Gateway refuses the handshake with whatever non-2xx status `$connect` answers (the
//! contract's 400, 401, 403 or 404, with its JSON body).

use std::sync::Arc;

use chat_domain::ApiError;
use chat_domain::live::{PING, PONG};
use chat_edge::request_id::REQUEST_ID_HEADER;
use chat_edge::{Base, Edge};
use chat_sockets::handshake::{API_KEY_PARAM, CONVERSATION_PARAM, Handshake, admit};
use chat_storage::DynamoStore;
use chat_storage::ports::{ConnectionStore, KeyStore};
use http::header::{CONTENT_TYPE, HeaderValue, ORIGIN};
use lambda_http::Body;
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest,
};
use tracing::Instrument;

/// The route keys of the WebSocket API.
pub const CONNECT: &str = "$connect";
/// The route API Gateway calls when a connection ends.
pub const DISCONNECT: &str = "$disconnect";
/// The route of every message no other route selects (all of the widget's).
pub const DEFAULT: &str = "$default";

/// The live function's state.
pub struct Live<S> {
    /// The storage adapter.
    pub store: S,
    /// Key lookups and their cache.
    pub edge: Arc<Edge>,
}

impl Live<DynamoStore> {
    /// The state of a process built from `base`.
    pub fn new(base: &Base) -> Self {
        Self {
            store: base.store.clone(),
            edge: base.edge.clone(),
        }
    }
}

impl<S: KeyStore + ConnectionStore> Live<S> {
    /// Answers one event of the WebSocket API; every outcome is a response.
    pub async fn handle(&self, event: ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
        let context = &event.request_context;
        let connection = context.connection_id.as_deref().unwrap_or_default();
        let span = tracing::info_span!(
            "socket",
            request_id = context.request_id.as_deref().unwrap_or_default(),
            route = context.route_key.as_deref().unwrap_or_default(),
            connection,
        );
        let routed = async {
            match context.route_key.as_deref() {
                Some(CONNECT) => self.connect(&event, connection).await,
                Some(DISCONNECT) => self.disconnect(connection).await,
                _ => default_route(&event),
            }
        };
        let mut response = routed.instrument(span.clone()).await;
        let _entered = span.enter();
        if let Some(id) = context
            .request_id
            .as_deref()
            .and_then(|id| HeaderValue::from_str(id).ok())
        {
            response.headers.insert(REQUEST_ID_HEADER, id);
        }
        tracing::info!(status = response.status_code, "socket event done");
        response
    }

    async fn connect(
        &self,
        event: &ApiGatewayWebsocketProxyRequest,
        connection: &str,
    ) -> ApiGatewayProxyResponse {
        let handshake = Handshake {
            api_key: event.query_string_parameters.first(API_KEY_PARAM),
            conversation_id: event.query_string_parameters.first(CONVERSATION_PARAM),
            origin: event.headers.get(ORIGIN).and_then(|v| v.to_str().ok()),
            connection_id: connection,
        };
        match admit(&self.edge, &self.store, handshake).await {
            Ok(admitted) => {
                tracing::info!(conversation_id = %admitted.conversation_id, "socket opened");
                answer(200, None)
            }
            Err(error) => {
                error.log();
                refusal(&error)
            }
        }
    }

    async fn disconnect(&self, connection: &str) -> ApiGatewayProxyResponse {
        // The connection is gone whatever is answered; a failure here is swept by the TTL.
        if let Err(error) = self.store.close_connection(connection).await {
            tracing::warn!(%error, "forgetting a closed socket failed");
        }
        answer(200, None)
    }
}

/// `ping` gets `pong` as the route's response; anything else, no answer.
fn default_route(event: &ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
    match event.body.as_deref() {
        Some(text) if text == PING => answer(200, Some(PONG.to_owned())),
        _ => answer(200, None),
    }
}

fn answer(status: i64, body: Option<String>) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = status;
    response.body = body.map(Body::Text);
    response
}

fn refusal(error: &ApiError) -> ApiGatewayProxyResponse {
    let mut response = answer(
        i64::from(error.status().as_u16()),
        Some(error.envelope().to_string()),
    );
    response
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
