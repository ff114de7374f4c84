//! The local HTTP server: routes the API's paths to the same handler functions the
//! Lambdas run, converting requests into the shape `lambda_http` hands them over in.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use chat_completion::Completion;
use chat_shared::auth::Authenticator;
use chat_shared::config::Config;
use chat_shared::provider::registry::Providers;
use chat_shared::rate_limit::RateLimiter;
use chat_shared::services::Services;
use chat_shared::storage::dynamo::DynamoStore;
use http::header::{ALLOW, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use lambda_http::RequestExt;
use tokio::net::TcpListener;

/// The body type the local server answers with.
pub type LocalBody = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// API Gateway's own limit on a request payload; the handlers apply the API's smaller one.
pub const MAX_GATEWAY_BODY_BYTES: usize = 10 * 1024 * 1024;

/// What every request is served with: built once, shared by all connections.
pub struct App {
    /// The configuration it was built from.
    pub config: Config,
    /// The storage adapter.
    pub store: DynamoStore,
    /// The session-token verifier.
    pub auth: Arc<Authenticator>,
    /// Rate limits and quotas.
    pub limiter: Arc<RateLimiter>,
    /// The completion's dependencies (the same store and verifier, and the providers).
    pub completion: Completion<DynamoStore>,
}

impl App {
    /// An app from the process's services and its model providers.
    pub fn new(services: Services, providers: Providers) -> Self {
        let auth = Arc::new(services.auth);
        let limiter = Arc::new(services.limiter);
        Self {
            completion: Completion {
                store: services.store.clone(),
                auth: auth.clone(),
                providers: Arc::new(providers),
                settings: Arc::new(services.config.completion.clone()),
                limiter: limiter.clone(),
                cors: services.config.cors.clone(),
            },
            config: services.config,
            store: services.store,
            auth,
            limiter,
        }
    }
}

/// The API's operations as `(method, path template)`: what `match_route` serves, and
/// what `openapi.yaml` must declare (checked by `local/tests/api/openapi.rs`).
pub const ROUTES: [(&str, &str); 3] = [
    ("GET", "/v2/conversations/{conversationId}"),
    ("POST", "/v2/conversations/{conversationId}/close"),
    ("POST", "/v2/chat/completions"),
];

/// The API's routes.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    GetConversation(String),
    CloseConversation(String),
    ChatCompletion,
}

/// Matches a path to a route and the method it answers (besides `OPTIONS`).
fn match_route(path: &str) -> Option<(Route, Method)> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    match segments.as_slice() {
        ["", "v2", "conversations", id] => {
            Some((Route::GetConversation((*id).to_owned()), Method::GET))
        }
        ["", "v2", "conversations", id, "close"] => {
            Some((Route::CloseConversation((*id).to_owned()), Method::POST))
        }
        ["", "v2", "chat", "completions"] => Some((Route::ChatCompletion, Method::POST)),
        _ => None,
    }
}

/// The methods a route's preflight allows, spelled as template.yaml's preflights do.
fn allowed_methods(method: &Method) -> &'static str {
    if method == Method::GET {
        "GET,OPTIONS"
    } else {
        "POST,OPTIONS"
    }
}

/// Serves one request.
pub async fn route(app: &App, req: Request<Incoming>) -> Response<LocalBody> {
    let Some((route, method)) = match_route(req.uri().path()) else {
        return plain_error(StatusCode::NOT_FOUND, "NOT_FOUND", "No such route", None);
    };
    if req.method() == Method::OPTIONS {
        // On AWS, API Gateway answers the preflight; here nothing else would.
        let origin = req.headers().get(http::header::ORIGIN);
        let mut response = Response::new(full(Bytes::new()));
        *response.status_mut() = StatusCode::NO_CONTENT;
        *response.headers_mut() = app.config.cors.preflight(origin, allowed_methods(&method));
        return response;
    }
    if req.method() != method {
        return plain_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "Method not allowed on this route",
            Some(allowed_methods(&method)),
        );
    }
    let (parts, body) = req.into_parts();
    let bytes = match Limited::new(body, MAX_GATEWAY_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return plain_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                "Request body too large",
                None,
            );
        }
    };
    let body = if bytes.is_empty() {
        lambda_http::Body::Empty
    } else {
        lambda_http::Body::Binary(bytes.to_vec())
    };
    let lambda_req = Request::from_parts(parts, body);
    match route {
        Route::GetConversation(id) => get_conversation::handle(
            &app.store,
            &app.auth,
            &app.limiter,
            &app.config.cors,
            with_id(lambda_req, id),
        )
        .await
        .map(lambda_body),
        Route::CloseConversation(id) => close_conversation::handle(
            &app.store,
            &app.auth,
            &app.limiter,
            &app.config.cors,
            with_id(lambda_req, id),
        )
        .await
        .map(lambda_body),
        // Streams: each chunk is written to the socket as the generation task sends it.
        Route::ChatCompletion => chat_completion::handle(&app.completion, lambda_req)
            .await
            .map(|body| body.map_err(|never| match never {}).boxed()),
    }
}

fn with_id(req: lambda_http::Request, id: String) -> lambda_http::Request {
    req.with_path_parameters(HashMap::from([("conversationId".to_owned(), id)]))
}

fn lambda_body(body: lambda_http::Body) -> LocalBody {
    full(Bytes::from(body.as_ref().to_vec()))
}

fn full(bytes: Bytes) -> LocalBody {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}

fn plain_error(
    status: StatusCode,
    code: &str,
    message: &str,
    allow: Option<&'static str>,
) -> Response<LocalBody> {
    let body = serde_json::json!({ "error": { "message": message, "code": code } }).to_string();
    let mut response = Response::new(full(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(methods) = allow {
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static(methods));
    }
    response
}

/// Accepts connections on `listener` until `shutdown` resolves.
pub async fn serve(listener: TcpListener, app: Arc<App>, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    continue;
                }
            },
            () = &mut shutdown => return,
        };
        let app = app.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let app = app.clone();
                async move { Ok::<_, Infallible>(route(&app, req).await) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_the_api_paths() {
        assert_eq!(
            match_route("/v2/conversations/abc"),
            Some((Route::GetConversation("abc".into()), Method::GET))
        );
        assert_eq!(
            match_route("/v2/conversations/abc/close"),
            Some((Route::CloseConversation("abc".into()), Method::POST))
        );
        assert_eq!(match_route("/v2/conversations"), None);
        assert_eq!(match_route("/v2/chat/completions/x"), None);
        assert_eq!(match_route("/v1/conversations/abc"), None);
    }

    #[test]
    fn the_route_table_is_what_match_route_serves() {
        let mut kinds = Vec::new();
        for (method, template) in ROUTES {
            let (route, served) =
                match_route(&template.replace("{conversationId}", "x")).expect("a route");
            assert_eq!(served.as_str(), method, "{template}");
            kinds.push(std::mem::discriminant(&route));
        }
        // Each of the three routes appears once.
        kinds.dedup();
        assert_eq!(kinds.len(), 3);
    }
}
