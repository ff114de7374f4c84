//! The local HTTP server: one route table, one router and one accept loop (the tests run the
//! same, watching every answer). Each route calls the same handler its Lambda runs, with the
//! request converted into the shape `lambda_http` hands it over in.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use chat_domain::ApiError;
use chat_edge::Handler;
use chat_edge::respond::respond;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use lambda_http::RequestExt;
use lambda_http::aws_lambda_events::apigw::ApiGatewayProxyRequestContext;
use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::request::RequestContext;
use tokio::net::{TcpListener, TcpStream};

use crate::app::App;
use crate::body::{LocalBody, full};
use crate::live::{open_socket, socket_conversation};

/// API Gateway's own limit on a request payload; the handlers apply the API's smaller one.
pub const MAX_GATEWAY_BODY_BYTES: usize = 10 * 1024 * 1024;

/// The API's operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// `GET /v2/conversations/{conversationId}`.
    GetConversation,
    /// `POST /v2/conversations/{conversationId}/close`.
    CloseConversation,
    /// `POST /v2/chat/completions`.
    ChatCompletion,
    /// `GET /v2/projects/current`.
    CurrentProject,
    /// `POST /v2/identity/init`.
    IdentityInit,
    /// `GET /v2/identity/me`.
    IdentityMe,
    /// `GET /v2/conversations`.
    ListConversations,
    /// `POST /v2/conversations`.
    StartConversation,
    /// `GET /v2/conversations/{conversationId}/messages`.
    ListMessages,
    /// `POST /v2/messages/{messageId}/feedback`.
    MessageFeedback,
    /// `POST /v2/conversations/{conversationId}/messages`.
    SendMessage,
    /// `POST /v2/conversations/{conversationId}/handoff`.
    HandOff,
    /// `POST /v2/conversations/{conversationId}/agent-messages`.
    AgentMessage,
    /// `POST /v2/conversations/{conversationId}/release`.
    Release,
    /// `GET /v2/search`.
    Search,
    /// `GET /v2/knowledge/sources`.
    ListSources,
    /// `POST /v2/knowledge/sources`.
    CreateSource,
    /// `GET /v2/knowledge/sources/{sourceId}`.
    GetSource,
    /// `PATCH /v2/knowledge/sources/{sourceId}`.
    UpdateSource,
    /// `DELETE /v2/knowledge/sources/{sourceId}`.
    DeleteSource,
    /// `POST /v2/knowledge/sources/{sourceId}/sync`.
    SyncSource,
    /// `GET /v2/knowledge/sources/{sourceId}/pages`.
    ListSourcePages,
    /// `GET /v2/projects/{projectId}/qnas`.
    ListQnas,
    /// `POST /v2/projects/{projectId}/qnas`.
    CreateQna,
    /// `GET /v2/projects/{projectId}/qnas/{qnaId}`.
    GetQna,
    /// `PATCH /v2/projects/{projectId}/qnas/{qnaId}`.
    UpdateQna,
    /// `DELETE /v2/projects/{projectId}/qnas/{qnaId}`.
    DeleteQna,
}

impl Operation {
    /// Whether a publishable key authorises it (its allowed origins decide CORS).
    pub fn takes_api_key(self) -> bool {
        matches!(
            self,
            Self::CurrentProject | Self::IdentityInit | Self::Search
        )
    }
}

/// One route: a method and a path template whose `{name}` segments are path parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    /// `GET`, `POST`.
    pub method: &'static str,
    /// `/v2/conversations/{conversationId}`.
    pub template: &'static str,
    /// What it does.
    pub operation: Operation,
}

/// The API's routes: what [`route`] serves, and what `openapi.yaml` and `template.yaml`
/// must declare (checked by the tests and `scripts/check-template.sh`).
pub const ROUTES: [Route; 27] = [
    Route {
        method: "GET",
        template: "/v2/conversations/{conversationId}",
        operation: Operation::GetConversation,
    },
    Route {
        method: "POST",
        template: "/v2/conversations/{conversationId}/close",
        operation: Operation::CloseConversation,
    },
    Route {
        method: "POST",
        template: "/v2/chat/completions",
        operation: Operation::ChatCompletion,
    },
    Route {
        method: "GET",
        template: "/v2/projects/current",
        operation: Operation::CurrentProject,
    },
    Route {
        method: "POST",
        template: "/v2/identity/init",
        operation: Operation::IdentityInit,
    },
    Route {
        method: "GET",
        template: "/v2/identity/me",
        operation: Operation::IdentityMe,
    },
    Route {
        method: "GET",
        template: "/v2/conversations",
        operation: Operation::ListConversations,
    },
    Route {
        method: "POST",
        template: "/v2/conversations",
        operation: Operation::StartConversation,
    },
    Route {
        method: "GET",
        template: "/v2/conversations/{conversationId}/messages",
        operation: Operation::ListMessages,
    },
    Route {
        method: "POST",
        template: "/v2/messages/{messageId}/feedback",
        operation: Operation::MessageFeedback,
    },
    Route {
        method: "POST",
        template: "/v2/conversations/{conversationId}/messages",
        operation: Operation::SendMessage,
    },
    Route {
        method: "POST",
        template: "/v2/conversations/{conversationId}/handoff",
        operation: Operation::HandOff,
    },
    Route {
        method: "POST",
        template: "/v2/conversations/{conversationId}/agent-messages",
        operation: Operation::AgentMessage,
    },
    Route {
        method: "POST",
        template: "/v2/conversations/{conversationId}/release",
        operation: Operation::Release,
    },
    Route {
        method: "GET",
        template: "/v2/search",
        operation: Operation::Search,
    },
    Route {
        method: "GET",
        template: "/v2/knowledge/sources",
        operation: Operation::ListSources,
    },
    Route {
        method: "POST",
        template: "/v2/knowledge/sources",
        operation: Operation::CreateSource,
    },
    Route {
        method: "GET",
        template: "/v2/knowledge/sources/{sourceId}",
        operation: Operation::GetSource,
    },
    Route {
        method: "PATCH",
        template: "/v2/knowledge/sources/{sourceId}",
        operation: Operation::UpdateSource,
    },
    Route {
        method: "DELETE",
        template: "/v2/knowledge/sources/{sourceId}",
        operation: Operation::DeleteSource,
    },
    Route {
        method: "POST",
        template: "/v2/knowledge/sources/{sourceId}/sync",
        operation: Operation::SyncSource,
    },
    Route {
        method: "GET",
        template: "/v2/knowledge/sources/{sourceId}/pages",
        operation: Operation::ListSourcePages,
    },
    Route {
        method: "GET",
        template: "/v2/projects/{projectId}/qnas",
        operation: Operation::ListQnas,
    },
    Route {
        method: "POST",
        template: "/v2/projects/{projectId}/qnas",
        operation: Operation::CreateQna,
    },
    Route {
        method: "GET",
        template: "/v2/projects/{projectId}/qnas/{qnaId}",
        operation: Operation::GetQna,
    },
    Route {
        method: "PATCH",
        template: "/v2/projects/{projectId}/qnas/{qnaId}",
        operation: Operation::UpdateQna,
    },
    Route {
        method: "DELETE",
        template: "/v2/projects/{projectId}/qnas/{qnaId}",
        operation: Operation::DeleteQna,
    },
];

/// The path parameters of `path` if it matches `template`.
fn matches(template: &str, path: &str) -> Option<HashMap<String, String>> {
    let path = path.trim_end_matches('/');
    let mut wanted = template.split('/');
    let mut given = path.split('/');
    let mut parameters = HashMap::new();
    loop {
        match (wanted.next(), given.next()) {
            (None, None) => return Some(parameters),
            (Some(w), Some(g)) if w.starts_with('{') && w.ends_with('}') && !g.is_empty() => {
                parameters.insert(w[1..w.len() - 1].to_owned(), g.to_owned());
            }
            (Some(w), Some(g)) if w == g => {}
            _ => return None,
        }
    }
}

/// What a path is: a route's, with its parameters, or the methods its templates take.
pub enum Resolved {
    /// A route and the path's parameters.
    Route(&'static Route, HashMap<String, String>),
    /// A known path taking other methods (405).
    WrongMethod(Vec<&'static str>),
    /// No route has this path (404).
    Unknown,
}

/// Resolves `method` and `path` against [`ROUTES`].
pub fn resolve(method: &str, path: &str) -> Resolved {
    let mut methods = Vec::new();
    for route in &ROUTES {
        if let Some(parameters) = matches(route.template, path) {
            if route.method == method {
                return Resolved::Route(route, parameters);
            }
            methods.push(route.method);
        }
    }
    if methods.is_empty() {
        Resolved::Unknown
    } else {
        Resolved::WrongMethod(methods)
    }
}

/// The methods a preflight allows, spelled as template.yaml's preflights do.
pub fn preflight_methods(methods: &[&str]) -> &'static str {
    let has = |method| methods.contains(&method);
    match (has("GET"), has("POST"), has("PATCH") || has("DELETE")) {
        (true, false, true) => "GET,PATCH,DELETE,OPTIONS",
        (true, false, false) => "GET,OPTIONS",
        (false, true, false) => "POST,OPTIONS",
        _ => "GET,POST,OPTIONS",
    }
}

/// Serves one request from `peer`; also says which route it was for, when it was one of
/// the API's.
pub async fn route(
    app: &App,
    req: Request<Incoming>,
    peer: Option<SocketAddr>,
) -> (Response<LocalBody>, Option<Route>) {
    let resolved = resolve(req.method().as_str(), req.uri().path());
    if req.method() == Method::OPTIONS {
        // On AWS, API Gateway answers the preflight; here nothing else would. A path no
        // route has is answered too, so that the browser goes on to see the 404.
        let methods = match &resolved {
            Resolved::Route(route, _) => vec![route.method],
            Resolved::WrongMethod(methods) => methods.clone(),
            Resolved::Unknown => vec!["GET", "POST"],
        };
        let origin = req.headers().get(http::header::ORIGIN);
        let mut response = Response::new(full(Bytes::new()));
        *response.status_mut() = StatusCode::NO_CONTENT;
        *response.headers_mut() = app.edge.cors.preflight(origin, preflight_methods(&methods));
        // A publishable key's route lets any page ask, as template.yaml's preflight does:
        // its answer carries Access-Control-Allow-Origin only where the key allows.
        let path = req.uri().path();
        let key_route = ROUTES.iter().any(|route| {
            route.operation.takes_api_key() && matches(route.template, path).is_some()
        });
        if let (true, Some(origin)) = (key_route, origin) {
            response
                .headers_mut()
                .insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        }
        return (response, None);
    }
    let (parts, body) = req.into_parts();
    let bytes = match Limited::new(body, MAX_GATEWAY_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            let error = ApiError::validation("body", "the request body is too large");
            return (refuse(app, parts, error).await, None);
        }
    };
    let body = if bytes.is_empty() {
        lambda_http::Body::Empty
    } else {
        lambda_http::Body::Binary(bytes.to_vec())
    };
    let (route, parameters) = match resolved {
        Resolved::Route(route, parameters) => (*route, parameters),
        Resolved::WrongMethod(methods) => {
            let error = ApiError::MethodNotAllowed {
                allow: preflight_methods(&methods),
            };
            return (refuse(app, parts, error).await, None);
        }
        Resolved::Unknown => return (refuse(app, parts, ApiError::RouteNotFound).await, None),
    };
    // API Gateway hands a function the query string parsed; so does this server.
    let query: QueryMap = parts
        .uri
        .query()
        .unwrap_or_default()
        .parse()
        .unwrap_or_else(|never| match never {});
    let req = Request::from_parts(parts, body)
        .with_path_parameters(parameters)
        .with_query_string_parameters(query)
        .with_request_context(gateway_context(peer, route.template));
    let response = match route.operation {
        Operation::GetConversation => app.get.handle(req).await.map(lambda_body),
        Operation::CloseConversation => app.close.handle(req).await.map(lambda_body),
        Operation::ListConversations | Operation::StartConversation | Operation::ListMessages => {
            app.conversations.handle(req).await.map(lambda_body)
        }
        Operation::MessageFeedback => app.feedback.handle(req).await.map(lambda_body),
        Operation::HandOff | Operation::AgentMessage | Operation::Release => {
            app.agents.handle(req).await.map(lambda_body)
        }
        Operation::CurrentProject => app.projects.handle(req).await.map(lambda_body),
        Operation::Search
        | Operation::ListSources
        | Operation::CreateSource
        | Operation::GetSource
        | Operation::UpdateSource
        | Operation::DeleteSource
        | Operation::SyncSource
        | Operation::ListSourcePages
        | Operation::ListQnas
        | Operation::CreateQna
        | Operation::GetQna
        | Operation::UpdateQna
        | Operation::DeleteQna => app.knowledge.handle(req).await.map(lambda_body),
        Operation::IdentityInit | Operation::IdentityMe => {
            app.identity.handle(req).await.map(lambda_body)
        }
        // Streams: each chunk is written to the socket as the generation task sends it.
        Operation::ChatCompletion | Operation::SendMessage => app
            .completions
            .handle(req)
            .await
            .map(|body| body.map_err(|never| match never {}).boxed()),
    };
    (response, Some(route))
}

/// What API Gateway tells a function about the request: here, the address it came from
/// and the resource (route template) it matched, which a function serving several routes
/// tells them apart by.
fn gateway_context(peer: Option<SocketAddr>, resource: &str) -> RequestContext {
    let mut context = ApiGatewayProxyRequestContext::default();
    context.identity.source_ip = peer.map(|p| p.ip().to_string());
    context.resource_path = Some(resource.to_owned());
    RequestContext::ApiGatewayV1(context)
}

/// The contract's error for a request no handler takes, in the frame every handler runs
/// in: the envelope, `x-request-id` and the CORS headers.
async fn refuse(app: &App, parts: http::request::Parts, error: ApiError) -> Response<LocalBody> {
    let req = Request::from_parts(parts, lambda_http::Body::Empty);
    respond(req, &app.edge.cors, async |_, _| {
        Err::<Response<lambda_http::Body>, _>(error)
    })
    .await
    .map(lambda_body)
}

fn lambda_body(body: lambda_http::Body) -> LocalBody {
    full(Bytes::from(body.as_ref().to_vec()))
}

/// Told of every answer: the route it was for (none for preflights and refusals of
/// unknown routes) and its status. The tests check each against `openapi.yaml`.
pub type Observer = Arc<dyn Fn(Option<Route>, StatusCode) + Send + Sync>;

/// Accepts connections on `listener` until `shutdown` resolves, telling `observer` (when
/// there is one) of every answer.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()>,
    observer: Option<Observer>,
) {
    accept_until(listener, shutdown, move |stream, peer| {
        let (app, observer) = (app.clone(), observer.clone());
        async move {
            let service = hyper::service::service_fn(move |req| {
                let (app, observer) = (app.clone(), observer.clone());
                async move {
                    // The widget derives its socket's URL from the API's: the same host,
                    // port and path prefix (API.md §12), so the upgrade is taken here.
                    if socket_conversation(req.uri().path()).is_some() {
                        return Ok::<_, Infallible>(open_socket(app, req).await);
                    }
                    let (response, route) = route(&app, req, Some(peer)).await;
                    if let Some(observer) = &observer {
                        observer(route, response.status());
                    }
                    Ok(response)
                }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
        }
    })
    .await;
}

/// The one accept loop of the local server's ports (the API with its sockets, the demo
/// site): accepts connections on `listener` until `shutdown` resolves, each served on a
/// task of its own by `serve_connection`.
pub async fn accept_until<F, Fut>(
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    serve_connection: F,
) where
    F: Fn(TcpStream, SocketAddr) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    continue;
                }
            },
            () = &mut shutdown => return,
        };
        // A stream's chunks are small writes: without this, each waits for the ACK of the
        // one before (Nagle's algorithm meeting delayed ACKs: 40 ms on Linux).
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY not set");
        }
        tokio::spawn(serve_connection(stream, peer));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_to_their_routes_with_their_parameters() {
        let Resolved::Route(route, parameters) = resolve("GET", "/v2/conversations/abc") else {
            panic!("a route");
        };
        assert_eq!(route.operation, Operation::GetConversation);
        assert_eq!(parameters["conversationId"], "abc");
        let Resolved::Route(route, _) = resolve("POST", "/v2/conversations/abc/close/") else {
            panic!("a route");
        };
        assert_eq!(route.operation, Operation::CloseConversation);
        let Resolved::Route(route, _) = resolve("GET", "/v2/conversations") else {
            panic!("a route");
        };
        assert_eq!(route.operation, Operation::ListConversations);
        assert!(matches!(
            resolve("GET", "/v2/conversation"),
            Resolved::Unknown
        ));
        assert!(matches!(
            resolve("POST", "/v2/chat/completions/x"),
            Resolved::Unknown
        ));
        assert!(matches!(
            resolve("GET", "/v1/conversations/abc"),
            Resolved::Unknown
        ));
        assert!(matches!(
            resolve("DELETE", "/v2/conversations/abc"),
            Resolved::WrongMethod(ref m) if m == &["GET"]
        ));
    }

    #[test]
    fn every_route_resolves_to_itself() {
        for route in &ROUTES {
            let path = route
                .template
                .replace("{conversationId}", "x")
                .replace("{messageId}", "x")
                .replace("{sourceId}", "x")
                .replace("{projectId}", "x")
                .replace("{qnaId}", "x");
            let Resolved::Route(found, _) = resolve(route.method, &path) else {
                panic!("{} {}", route.method, route.template);
            };
            assert_eq!(found, route);
        }
    }
}
