//! The local server's WebSocket: the widget's socket at
//! `/v2/conversations/{conversationId}/ws?apiKey=<pk>`, an HTTP upgrade on the API's own
//! listener, where the widget looks for it (on AWS it is another API, behind the same host). The handshake is decided by the code `$connect`
//! runs ([`chat_sockets::handshake::admit`]), the connection is recorded in the same
//! table, and pushes reach it through the in-process push port
//! ([`chat_sockets::in_process`]). Text `ping` gets `pong`; anything else a client sends is
//! ignored.

use std::sync::Arc;

use bytes::Bytes;
use chat_domain::ApiError;
use chat_domain::live::{PING, PONG};
use chat_edge::request_id::REQUEST_ID_HEADER;
use chat_edge::respond::error_response;
use chat_sockets::handshake::{API_KEY_PARAM, Admitted, Handshake, admit};
use chat_sockets::in_process::Outbox;
use chat_storage::ports::ConnectionStore;
use futures_util::{SinkExt, StreamExt};
use http::header::{
    CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, UPGRADE,
};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use lambda_http::aws_lambda_events::query_map::QueryMap;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

use crate::app::App;
use crate::body::{LocalBody, full};

/// The socket's path, as `openapi.yaml` declares it.
pub const SOCKET_TEMPLATE: &str = "/v2/conversations/{conversationId}/ws";

/// The conversation id of a socket path, when `path` is one.
pub fn socket_conversation(path: &str) -> Option<&str> {
    let id = path
        .strip_prefix("/v2/conversations/")?
        .strip_suffix("/ws")?;
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

/// Answers an opening request: 101 and a socket, or the contract's error.
pub async fn open_socket(app: Arc<App>, mut req: Request<Incoming>) -> Response<LocalBody> {
    let Some(conversation) = socket_conversation(req.uri().path()).map(str::to_owned) else {
        return refuse(&ApiError::RouteNotFound);
    };
    if req.method() != Method::GET {
        return refuse(&ApiError::MethodNotAllowed { allow: "GET" });
    }
    let key = match websocket_key(&req) {
        Ok(key) => key,
        Err(error) => return refuse(&error),
    };
    let query: QueryMap = req
        .uri()
        .query()
        .unwrap_or_default()
        .parse()
        .unwrap_or_else(|never| match never {});
    let origin = req
        .headers()
        .get(http::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let connection_id = uuid::Uuid::new_v4().simple().to_string();
    // Before the connection is recorded: a push that finds the record finds the socket.
    let outbox = app.sockets.register(&connection_id);
    let decided = admit(
        &app.edge,
        &app.store,
        Handshake {
            api_key: query.first(API_KEY_PARAM),
            conversation_id: Some(&conversation),
            origin: origin.as_deref(),
            connection_id: &connection_id,
        },
    )
    .await;
    let admitted = match decided {
        Ok(admitted) => admitted,
        Err(error) => {
            app.sockets.unregister(&connection_id);
            error.log();
            return refuse(&error);
        }
    };
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(run_socket(app, admitted, connection_id, upgrade, outbox));
    let mut response = Response::new(full(Bytes::new()));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(accept) = HeaderValue::from_str(&derive_accept_key(key.as_bytes())) {
        headers.insert(SEC_WEBSOCKET_ACCEPT, accept);
    }
    response
}

/// The `Sec-WebSocket-Key` of a WebSocket opening request (400 for any other request).
fn websocket_key(req: &Request<Incoming>) -> Result<String, ApiError> {
    let header = |name| {
        req.headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let upgrade = header(UPGRADE).is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let version = header(SEC_WEBSOCKET_VERSION) == Some("13");
    match (upgrade && version, header(SEC_WEBSOCKET_KEY)) {
        (true, Some(key)) => Ok(key.to_owned()),
        _ => Err(ApiError::invalid(
            "upgrade",
            "this path takes a WebSocket opening request (Upgrade: websocket, version 13)",
        )),
    }
}

/// Writes pushed frames to one socket and answers its pings, until it closes; then forgets
/// the connection, as `$disconnect` does on AWS.
async fn run_socket(
    app: Arc<App>,
    admitted: Admitted,
    connection_id: String,
    upgrade: OnUpgrade,
    mut outbox: Outbox,
) {
    match upgrade.await {
        Ok(upgraded) => {
            let mut socket =
                WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
            loop {
                tokio::select! {
                    frame = outbox.recv() => match frame {
                        Some(text) => {
                            if socket.send(Message::text(text)).await.is_err() {
                                break;
                            }
                        }
                        None => break,
                    },
                    incoming = socket.next() => match incoming {
                        Some(Ok(Message::Text(text))) if text.as_str() == PING => {
                            if socket.send(Message::text(PONG)).await.is_err() {
                                break;
                            }
                        }
                        Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                        Some(Ok(_)) => {}
                    },
                }
            }
        }
        Err(error) => tracing::debug!(%error, "socket upgrade failed"),
    }
    app.sockets.unregister(&connection_id);
    if let Err(error) = app
        .store
        .forget_connection(admitted.project, admitted.conversation_id, &connection_id)
        .await
    {
        tracing::warn!(%error, "forgetting a closed socket failed");
    }
}

fn refuse(error: &ApiError) -> Response<LocalBody> {
    let mut response =
        error_response::<lambda_http::Body>(error).map(|body| full(body.as_ref().to_vec()));
    // As every answer of the HTTP routes carries one.
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        response.headers_mut().insert(REQUEST_ID_HEADER, id);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_socket_paths_name_a_conversation() {
        assert_eq!(socket_conversation("/v2/conversations/abc/ws"), Some("abc"));
        for other in [
            "/v2/conversations//ws",
            "/v2/conversations/a/b/ws",
            "/v2/conversations/abc",
            "/v2/conversations/abc/ws/",
            "/v1/conversations/abc/ws",
        ] {
            assert_eq!(socket_conversation(other), None, "{other}");
        }
    }
}
