//! The widget's WebSocket against the local server, with a real WebSocket client: the
//! handshake's refusals, ping/pong, the visitor's messages pushed to every socket of their
//! conversation (and no other), gone sockets forgotten without failing the write, a push
//! to 200 sockets, `human_assigned` through the publisher, and the Management API adapter
//! against a stand-in for the Management API endpoint. Pushes come from the table's stream
//! (the push function's handler, fed as the local server feeds it), never from the write
//! itself.

use std::sync::Arc;
use std::time::Duration;

use chat_domain::api_key::KeyKind;
use chat_domain::conversation::Conversation;
use chat_domain::ids::{Caller, ProjectId};
use chat_domain::live::CONNECTION_TTL_SECS;
use chat_domain::timestamp::Timestamp;
use chat_local::admin::create_key;
use chat_sockets::Delivery;
use chat_sockets::Publisher;
use chat_sockets::management::ManagementApi;
use chat_storage::items::key_of;
use chat_storage::ports::ConnectionStore;
use chat_testkit::{TestApp, bearer, new_caller, serve_http};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use uuid::Uuid;

use crate::agents::{agent_post, secret_key};
use crate::send::{send, started};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a test waits for a frame that must come.
const FRAME_WAIT: Duration = Duration::from_secs(10);

async fn app() -> TestApp {
    TestApp::builder().instant_answers().pushing().spawn().await
}

/// A publishable key of `caller`'s project allowing `origins` (empty: any).
async fn key_for(app: &TestApp, caller: Caller, origins: &[&str]) -> String {
    create_key(
        &app.store,
        caller.project,
        KeyKind::Publishable,
        None,
        None,
        origins.iter().map(|o| (*o).to_owned()).collect(),
    )
    .await
    .unwrap()
}

/// Opens the socket of `conversation` with `key` (none: no `apiKey`) from `origin`, at the
/// API's own address as the widget derives it: the socket, or the refusal's status and JSON
/// body.
async fn open(
    app: &TestApp,
    conversation: &str,
    key: Option<&str>,
    origin: Option<&str>,
) -> Result<Socket, (u16, Value)> {
    let query = key.map(|k| format!("?apiKey={k}")).unwrap_or_default();
    let base = app.base.replacen("http://", "ws://", 1);
    let url = format!("{base}/v2/conversations/{conversation}/ws{query}");
    let mut request = url.into_client_request().unwrap();
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, response)) => {
            assert_eq!(response.status(), 101);
            Ok(socket)
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let status = response.status().as_u16();
            let body = response.into_body().unwrap_or_default();
            Err((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
        }
        Err(other) => panic!("the handshake failed otherwise: {other}"),
    }
}

/// The next text frame of `socket`.
async fn next_text(socket: &mut Socket) -> String {
    loop {
        let frame = tokio::time::timeout(FRAME_WAIT, socket.next())
            .await
            .expect("a frame in time")
            .expect("the socket is open")
            .expect("a frame");
        if let Message::Text(text) = frame {
            return text.as_str().to_owned();
        }
    }
}

/// The next frame of `socket` as JSON.
async fn next_frame(socket: &mut Socket) -> Value {
    serde_json::from_str(&next_text(socket).await).unwrap()
}

/// Asserts nothing was pushed to `socket`: once every change so far is pushed, a ping is
/// answered before anything else.
async fn assert_nothing_pushed(app: &TestApp, socket: &mut Socket) {
    app.pushed().await;
    socket.send(Message::text("ping")).await.unwrap();
    assert_eq!(next_text(socket).await, "pong", "no frame before the pong");
}

/// The connections recorded for a conversation.
async fn recorded(app: &TestApp, project: ProjectId, conversation: Uuid) -> Vec<String> {
    app.store
        .connections(project, conversation, Timestamp::now().unix_seconds())
        .await
        .unwrap()
}

/// Waits until `conversation` has `count` recorded connections.
async fn until_recorded(app: &TestApp, project: ProjectId, conversation: Uuid, count: usize) {
    for _ in 0..200 {
        if recorded(app, project, conversation).await.len() == count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{conversation} never had {count} connections");
}

#[tokio::test]
async fn ping_gets_pong_and_other_text_is_ignored() {
    let app = app().await;
    let caller = new_caller();
    let key = key_for(&app, caller, &[]).await;
    let id = started(&app, caller).await;
    let mut socket = open(&app, &id, Some(&key), None).await.unwrap();
    socket.send(Message::text("hello")).await.unwrap();
    socket
        .send(Message::text("{\"action\":\"x\"}"))
        .await
        .unwrap();
    socket.send(Message::text("ping")).await.unwrap();
    assert_eq!(next_text(&mut socket).await, "pong");
    socket.send(Message::text("ping")).await.unwrap();
    assert_eq!(next_text(&mut socket).await, "pong");
}

/// The widget derives the socket's URL from the API's (API.md §12): one listener serves
/// both, and an HTTP connection that asked a REST route can still be upgraded.
#[tokio::test]
async fn the_socket_is_served_on_the_apis_own_host_port_and_path_prefix() {
    let app = app().await;
    let caller = new_caller();
    let conversation = started(&app, caller).await;
    let key = key_for(&app, caller, &[]).await;
    let project = app
        .http
        .get(format!("{}/v2/projects/current?apiKey={key}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(project.status(), 200);

    // A raw keep-alive connection: a REST request, then the upgrade on the same socket.
    let stream = TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    let path = format!("/v2/conversations/{conversation}/ws?apiKey={key}");
    let rest = format!("GET /v2/projects/current?apiKey={key} HTTP/1.1\r\nhost: x\r\n\r\n");
    let upgrade = format!(
        "GET {path} HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\
         sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    let mut stream = BufReader::new(stream);
    stream.get_mut().write_all(rest.as_bytes()).await.unwrap();
    let head = read_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let length: usize = header_value(&head, "content-length").parse().unwrap();
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.unwrap();
    stream
        .get_mut()
        .write_all(upgrade.as_bytes())
        .await
        .unwrap();
    let head = read_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert_eq!(
        header_value(&head, "sec-websocket-accept"),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );

    async fn read_head(stream: &mut BufReader<TcpStream>) -> String {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            stream.read_line(&mut line).await.unwrap();
            if line == "\r\n" || line.is_empty() {
                return head;
            }
            head.push_str(&line);
        }
    }
    fn header_value(head: &str, name: &str) -> String {
        head.lines()
            .find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.eq_ignore_ascii_case(name)
                    .then(|| value.trim().to_owned())
            })
            .unwrap_or_default()
    }
}

/// The local server follows a table its seed has written to before the follower starts:
/// the engine then describes its one open shard with an ending sequence number, which must
/// not read as a shard that has ended (it did, and nothing was ever pushed).
#[tokio::test]
async fn a_table_that_holds_data_before_it_is_followed_is_pushed_from() {
    let app = TestApp::builder().instant_answers().spawn().await;
    let caller = new_caller();
    let key = key_for(&app, caller, &[]).await;
    let id = started(&app, caller).await;
    let follower = app.app.follow_changes().await.unwrap();
    let mut socket = open(&app, &id, Some(&key), None).await.unwrap();
    let response = send(&app, caller, &id, &json!({"content": "After the seed"})).await;
    assert_eq!(response.status(), 200);
    follower.caught_up().await;
    let frame = next_frame(&mut socket).await;
    assert_eq!(frame["type"], "new_message");
    assert_eq!(frame["message"]["parts"][0]["text"], "After the seed");
}

#[tokio::test]
async fn a_sent_message_reaches_every_tab_of_its_conversation_as_stored_and_no_other() {
    let app = app().await;
    let caller = new_caller();
    let key = key_for(&app, caller, &[]).await;
    let id = started(&app, caller).await;
    let other = started(&app, caller).await;
    let mut first_tab = open(&app, &id, Some(&key), None).await.unwrap();
    let mut second_tab = open(&app, &id, Some(&key), None).await.unwrap();
    let mut elsewhere = open(&app, &other, Some(&key), None).await.unwrap();
    app.calls.clear();

    // The first tab sends, streaming; the second tab sees it, and so does the first.
    let response = send(
        &app,
        caller,
        &id,
        &json!({"content": "Hello from tab one", "stream": true}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let _ = response.bytes().await.unwrap();
    // One Query lists the sockets (the push function's, after the answer); posting is
    // in-process.
    app.pushed().await;
    assert_eq!(app.calls.live_calls(), ["Query:live"]);
    assert_eq!(app.calls.live_round_trips(), 1);
    let stored = app.read(caller, &id).await;
    let user = stored["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "user")
        .unwrap()
        .clone();
    for tab in [&mut first_tab, &mut second_tab] {
        let frame = next_frame(tab).await;
        assert_eq!(
            frame,
            json!({"type": "new_message", "chatId": id, "message": user}),
            "the stored Message, as GET shows it"
        );
        let keys: Vec<&str> = frame
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["type", "chatId", "message"]);
    }
    // The assistant's answer is not pushed: the sender streams it.
    assert_nothing_pushed(&app, &mut first_tab).await;
    assert_nothing_pushed(&app, &mut second_tab).await;
    assert_nothing_pushed(&app, &mut elsewhere).await;

    // A JSON (not streamed) send is pushed too.
    let response = send(
        &app,
        caller,
        &id,
        &json!({"content": "Second", "stream": false}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let frame = next_frame(&mut second_tab).await;
    assert_eq!(frame["message"]["parts"][0]["text"], "Second");
    assert_eq!(frame["message"]["role"], "user");
    assert_nothing_pushed(&app, &mut elsewhere).await;
}

#[tokio::test]
async fn a_message_to_a_human_agent_is_pushed_with_the_202() {
    let app = app().await;
    let caller = new_caller();
    let key = key_for(&app, caller, &[]).await;
    let id = Uuid::now_v7();
    let mut conversation = Conversation::new(id, caller.visitor, Timestamp::now());
    conversation.is_human_handled = true;
    app.store
        .import_conversation(caller.project, &conversation, &[])
        .await
        .unwrap();
    let mut socket = open(&app, &id.to_string(), Some(&key), None).await.unwrap();
    let response = send(
        &app,
        caller,
        &id.to_string(),
        &json!({"content": "Anyone there?"}),
    )
    .await;
    assert_eq!(response.status(), 202);
    let frame = next_frame(&mut socket).await;
    let stored = app.read(caller, &id.to_string()).await;
    assert_eq!(stored["messages"].as_array().unwrap().len(), 1);
    assert_eq!(
        frame,
        json!({"type": "new_message", "chatId": id, "message": stored["messages"][0]})
    );
}

#[tokio::test]
async fn handshakes_are_refused_for_unknown_conversations_other_projects_bad_origins_and_keys() {
    let app = app().await;
    let caller = new_caller();
    let key = key_for(&app, caller, &["https://shop.example"]).await;
    let id = started(&app, caller).await;
    let stranger = new_caller();
    let strangers_key = key_for(&app, stranger, &[]).await;
    let before = app.snapshot().await;

    let (status, body) = open(
        &app,
        &Uuid::now_v7().to_string(),
        Some(&key),
        Some("https://shop.example"),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("CONVERSATION_NOT_FOUND"))
    );
    // Another project's key: for it, the conversation does not exist.
    let (status, _) = open(&app, &id, Some(&strangers_key), None)
        .await
        .unwrap_err();
    assert_eq!(status, 404);
    let (status, body) = open(&app, &id, Some(&key), Some("https://evil.example"))
        .await
        .unwrap_err();
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (403, Some("Origin not allowed for this API key"))
    );
    let (status, body) = open(&app, &id, None, None).await.unwrap_err();
    assert_eq!(
        (status, body["error"]["details"]["field"].as_str()),
        (400, Some("apiKey")),
        "{body}"
    );
    let (status, _) = open(&app, &id, Some("pk_unknown0000000000000000000000"), None)
        .await
        .unwrap_err();
    assert_eq!(status, 401);
    let (status, _) = open(&app, "not-a-uuid", Some(&key), Some("https://shop.example"))
        .await
        .unwrap_err();
    assert_eq!(status, 400);
    assert_eq!(
        app.snapshot().await,
        before,
        "a refused handshake records nothing"
    );
    assert!(app.app.sockets.is_empty());
    let declared = &chat_testkit::declared_statuses()[&(
        "GET".to_owned(),
        chat_local::live::SOCKET_TEMPLATE.to_owned(),
    )];
    for status in [101, 400, 401, 403, 404] {
        assert!(
            declared.contains(&status),
            "openapi.yaml declares {status} for the socket"
        );
    }

    // A plain GET of the socket's path is no handshake.
    let response = app
        .http
        .get(format!(
            "{}/v2/conversations/{id}/ws?apiKey={key}",
            app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    // The allowed origin gets in; so does a request with no Origin (a server, curl).
    app.calls.clear();
    let _from_the_shop = open(&app, &id, Some(&key), Some("https://shop.example"))
        .await
        .unwrap();
    // The key was read by the refusals above: the handshake is one transaction.
    assert_eq!(app.calls.live_calls(), ["TransactWriteItems:live"]);
    let _from_a_server = open(&app, &id, Some(&key), None).await.unwrap();
    until_recorded(&app, caller.project, Uuid::parse_str(&id).unwrap(), 2).await;
}

#[tokio::test]
async fn a_connection_is_recorded_with_a_ttl_and_forgotten_when_its_socket_closes() {
    let app = app().await;
    let caller = new_caller();
    let key = key_for(&app, caller, &[]).await;
    let id = started(&app, caller).await;
    let conversation = Uuid::parse_str(&id).unwrap();
    let mut socket = open(&app, &id, Some(&key), None).await.unwrap();
    let items = app.snapshot().await;
    let now = Timestamp::now().unix_seconds();
    let connection: Vec<_> = items
        .iter()
        .filter(|item| key_of(item).1.starts_with("WS#"))
        .collect();
    assert_eq!(connection.len(), 1);
    let expires: i64 = connection[0]["expiresAt"].as_n().unwrap().parse().unwrap();
    assert!(
        (now + CONNECTION_TTL_SECS - expires).abs() <= 5,
        "the TTL is {CONNECTION_TTL_SECS} s"
    );
    socket.close(None).await.unwrap();
    until_recorded(&app, caller.project, conversation, 0).await;
    assert!(
        !app.snapshot()
            .await
            .iter()
            .any(|item| key_of(item).0.starts_with("WS#") || key_of(item).1.starts_with("WS#")),
        "the connection and its pointer are gone"
    );
}

#[tokio::test]
async fn a_vanished_socket_is_forgotten_and_the_write_still_succeeds() {
    let app = app().await;
    let caller = new_caller();
    let key = key_for(&app, caller, &[]).await;
    let id = started(&app, caller).await;
    let conversation = Uuid::parse_str(&id).unwrap();
    let mut alive = open(&app, &id, Some(&key), None).await.unwrap();
    // A connection recorded whose socket this server does not hold: closed without the
    // server knowing (the push port answers gone, as GoneException does on AWS).
    let expires = Timestamp::now().unix_seconds() + CONNECTION_TTL_SECS;
    app.store
        .open_connection(caller.project, conversation, "vanished", expires)
        .await
        .unwrap();
    assert_eq!(recorded(&app, caller.project, conversation).await.len(), 2);
    app.calls.clear();
    let response = send(&app, caller, &id, &json!({"content": "Still here?"})).await;
    assert_eq!(response.status(), 200);
    assert_eq!(next_frame(&mut alive).await["type"], "new_message");
    app.pushed().await;
    let left = recorded(&app, caller.project, conversation).await;
    assert_eq!(left.len(), 1);
    assert_ne!(left[0], "vanished");
    // The listing, then the gone connection and its pointer deleted together.
    assert_eq!(
        app.calls.live_calls(),
        ["Query:live", "DeleteItem:live", "DeleteItem:live"]
    );
    assert_eq!(app.calls.live_round_trips(), 2);

    // A publish straight through the publisher says what it did.
    app.store
        .open_connection(caller.project, conversation, "vanished-too", expires)
        .await
        .unwrap();
    let delivery = app
        .app
        .push
        .publisher
        .human_assigned(caller.project, conversation)
        .await;
    assert_eq!(
        delivery,
        Delivery {
            delivered: 1,
            gone: 1,
            failed: 0,
            unlisted: false
        }
    );
}

#[tokio::test]
async fn a_handoff_and_an_agents_message_reach_every_socket_of_the_conversation_and_none_other() {
    let app = app().await;
    let caller = new_caller();
    let key = key_for(&app, caller, &[]).await;
    let agent = bearer(&secret_key(&app, caller.project).await);
    let id = started(&app, caller).await;
    let other = started(&app, caller).await;
    let mut tabs = vec![
        open(&app, &id, Some(&key), None).await.unwrap(),
        open(&app, &id, Some(&key), None).await.unwrap(),
    ];
    let mut elsewhere = open(&app, &other, Some(&key), None).await.unwrap();
    let handoff = json!({"humanAgent": {"name": "Dana", "image": null}});
    let response = agent_post(&app, Some(&agent), &id, "handoff", Some(handoff)).await;
    assert_eq!(response.status(), 200);
    for tab in &mut tabs {
        assert_eq!(
            next_text(tab).await,
            format!("{{\"type\":\"human_assigned\",\"chatId\":\"{id}\"}}")
        );
    }
    let body = json!({"content": "Hi, I am Dana."});
    let response = agent_post(&app, Some(&agent), &id, "agent-messages", Some(body)).await;
    assert_eq!(response.status(), 201);
    let stored: Value = response.json().await.unwrap();
    for tab in &mut tabs {
        let frame = next_frame(tab).await;
        assert_eq!(frame["type"], "new_message");
        assert_eq!(frame["chatId"], id.as_str());
        assert_eq!(frame["message"], stored, "the Message as stored");
        assert_eq!(frame["message"]["role"], "human_agent");
    }
    // Release has no frame; the other conversation heard nothing of all this.
    let response = agent_post(&app, Some(&agent), &id, "release", None).await;
    assert_eq!(response.status(), 200);
    assert_nothing_pushed(&app, &mut tabs[0]).await;
    assert_nothing_pushed(&app, &mut elsewhere).await;
}

#[tokio::test]
async fn two_hundred_sockets_of_one_conversation_all_receive_a_push() {
    let app = app().await;
    let caller = new_caller();
    let key = key_for(&app, caller, &[]).await;
    let id = started(&app, caller).await;
    let mut sockets = Vec::with_capacity(200);
    for _ in 0..200 {
        sockets.push(open(&app, &id, Some(&key), None).await.unwrap());
    }
    app.calls.clear();
    let response = send(&app, caller, &id, &json!({"content": "To everyone"})).await;
    assert_eq!(response.status(), 200);
    // All 200 listed in one Query page.
    app.pushed().await;
    assert_eq!(app.calls.live_calls(), ["Query:live"]);
    for socket in &mut sockets {
        let frame = next_frame(socket).await;
        assert_eq!(frame["message"]["parts"][0]["text"], "To everyone");
    }
}

#[tokio::test]
async fn the_management_api_adapter_forgets_a_connection_the_endpoint_calls_gone() {
    let app = app().await;
    let caller = new_caller();
    let id = started(&app, caller).await;
    let conversation = Uuid::parse_str(&id).unwrap();
    let posts = Arc::new(std::sync::Mutex::new(Vec::<(String, String, String)>::new()));
    let seen = posts.clone();
    // The Management API: POST /{stage}/@connections/{id} with the frame as the body;
    // 410 GoneException for a closed connection.
    let endpoint = serve_http(move |req: hyper::Request<hyper::body::Incoming>| {
        let seen = seen.clone();
        async move {
            let path = req.uri().path().to_owned();
            let method = req.method().to_string();
            let body = http_body_util::BodyExt::collect(req.into_body())
                .await
                .unwrap()
                .to_bytes();
            seen.lock().unwrap().push((
                method,
                path.clone(),
                String::from_utf8_lossy(&body).into_owned(),
            ));
            let gone = path.ends_with("/@connections/gone-one");
            hyper::Response::builder()
                .status(if gone { 410 } else { 200 })
                .header("x-amzn-errortype", if gone { "GoneException" } else { "" })
                .header("content-type", "application/json")
                .body(http_body_util::Full::new(bytes::Bytes::from(if gone {
                    "{\"message\":\"\"}"
                } else {
                    ""
                })))
                .unwrap()
        }
    })
    .await;
    let sdk = chat_storage::client::sdk_config(&app.settings.base.store.dynamo)
        .await
        .unwrap();
    let publisher = Publisher::new(
        app.store.clone(),
        Arc::new(ManagementApi::new(&sdk, &format!("{endpoint}/live"))),
    );
    let expires = Timestamp::now().unix_seconds() + CONNECTION_TTL_SECS;
    for connection in ["open-one", "gone-one", "open-two"] {
        app.store
            .open_connection(caller.project, conversation, connection, expires)
            .await
            .unwrap();
    }
    let delivery = publisher.human_assigned(caller.project, conversation).await;
    assert_eq!(
        delivery,
        Delivery {
            delivered: 2,
            gone: 1,
            failed: 0,
            unlisted: false
        }
    );
    let mut left = recorded(&app, caller.project, conversation).await;
    left.sort();
    assert_eq!(left, ["open-one", "open-two"]);
    let mut posts = posts.lock().unwrap().clone();
    posts.sort();
    let frame = format!("{{\"type\":\"human_assigned\",\"chatId\":\"{id}\"}}");
    assert_eq!(
        posts,
        [
            (
                "POST".to_owned(),
                "/live/@connections/gone-one".to_owned(),
                frame.clone()
            ),
            (
                "POST".to_owned(),
                "/live/@connections/open-one".to_owned(),
                frame.clone()
            ),
            (
                "POST".to_owned(),
                "/live/@connections/open-two".to_owned(),
                frame
            ),
        ]
    );
}

#[tokio::test]
async fn an_unreachable_management_api_fails_no_write() {
    let app = app().await;
    let caller = new_caller();
    let id = started(&app, caller).await;
    let conversation = Uuid::parse_str(&id).unwrap();
    let sdk = chat_storage::client::sdk_config(&app.settings.base.store.dynamo)
        .await
        .unwrap();
    // Nothing listens there.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}/live", closed.local_addr().unwrap());
    drop(closed);
    let publisher = Publisher::new(
        app.store.clone(),
        Arc::new(ManagementApi::new(&sdk, &endpoint)),
    );
    let expires = Timestamp::now().unix_seconds() + CONNECTION_TTL_SECS;
    app.store
        .open_connection(caller.project, conversation, "somewhere", expires)
        .await
        .unwrap();
    let delivery = publisher.human_assigned(caller.project, conversation).await;
    assert_eq!(
        delivery,
        Delivery {
            delivered: 0,
            gone: 0,
            failed: 1,
            unlisted: false
        }
    );
    assert_eq!(
        recorded(&app, caller.project, conversation).await,
        ["somewhere"],
        "kept: not known to be gone"
    );
}

/// A WebSocket API event for the live function.
fn socket_event(
    route: &str,
    connection: &str,
    query: Value,
    body: Option<&str>,
) -> lambda_http::aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest {
    serde_json::from_value(json!({
        "headers": {"Host": "abc123live.execute-api.us-east-1.amazonaws.com"},
        "multiValueHeaders": {"Host": ["abc123live.execute-api.us-east-1.amazonaws.com"]},
        "queryStringParameters": query,
        "requestContext": {
            "routeKey": route, "connectionId": connection, "requestId": "r-1", "stage": "prod",
            "connectedAt": 0, "requestTimeEpoch": 0, "apiId": "abc123live",
        },
        "body": body,
        "isBase64Encoded": false,
    }))
    .unwrap()
}

#[tokio::test]
async fn the_live_function_records_and_forgets_a_connection_in_counted_round_trips() {
    let app = app().await;
    let caller = new_caller();
    let key = key_for(&app, caller, &[]).await;
    let id = started(&app, caller).await;
    let conversation = Uuid::parse_str(&id).unwrap();
    let live = &app.app.live;
    app.calls.clear();
    let query = json!({"apiKey": key, "conversationId": id});
    let opened = live
        .handle(socket_event("$connect", "AAAA1234=", query.clone(), None))
        .await;
    assert_eq!(opened.status_code, 200);
    // A cold key: its read, then the one transaction (conversation checked, both records put).
    assert_eq!(
        app.calls.calls(),
        ["BatchGetItem", "TransactWriteItems:live"]
    );
    assert_eq!(app.calls.round_trips() + app.calls.live_round_trips(), 2);
    assert_eq!(
        recorded(&app, caller.project, conversation).await,
        ["AAAA1234="]
    );
    // A second socket with the key cached: one round trip.
    app.calls.clear();
    let second = live
        .handle(socket_event("$connect", "BBBB1234=", query, None))
        .await;
    assert_eq!(second.status_code, 200);
    assert_eq!(app.calls.calls(), ["TransactWriteItems:live"]);

    let pong = live
        .handle(socket_event(
            "$default",
            "AAAA1234=",
            json!({}),
            Some("ping"),
        ))
        .await;
    assert_eq!(pong.body, Some(lambda_http::Body::Text("pong".into())));
    for other in ["pong", "{\"action\":\"ping\"}", "PING", ""] {
        let ignored = live
            .handle(socket_event(
                "$default",
                "AAAA1234=",
                json!({}),
                Some(other),
            ))
            .await;
        assert_eq!(
            (ignored.status_code, ignored.body),
            (200, None),
            "{other:?} is ignored"
        );
    }

    app.calls.clear();
    let closed = live
        .handle(socket_event("$disconnect", "AAAA1234=", json!({}), None))
        .await;
    assert_eq!(closed.status_code, 200);
    // The pointer (returning where the connection was), then the connection.
    assert_eq!(
        app.calls.live_calls(),
        ["DeleteItem:live", "DeleteItem:live"]
    );
    assert_eq!(app.calls.live_round_trips(), 2);
    assert_eq!(
        recorded(&app, caller.project, conversation).await,
        ["BBBB1234="]
    );
    // A $disconnect API Gateway repeats, or of a connection already forgotten: no error.
    let again = live
        .handle(socket_event("$disconnect", "AAAA1234=", json!({}), None))
        .await;
    assert_eq!(again.status_code, 200);
}

#[tokio::test]
async fn writes_list_no_sockets_themselves_so_their_latency_does_not_depend_on_them() {
    // No follower of the table's stream: nothing but the writes runs.
    let app = TestApp::builder().instant_answers().spawn().await;
    let caller = new_caller();
    let key = key_for(&app, caller, &[]).await;
    let agent = bearer(&secret_key(&app, caller.project).await);
    let id = started(&app, caller).await;
    let mut socket = open(&app, &id, Some(&key), None).await.unwrap();
    app.calls.clear();
    for stream in [false, true] {
        let response = send(
            &app,
            caller,
            &id,
            &json!({"content": "Hi", "stream": stream}),
        )
        .await;
        assert_eq!(response.status(), 200);
        let _ = response.bytes().await.unwrap();
    }
    let handoff = json!({"humanAgent": {"name": "Dana"}});
    let response = agent_post(&app, Some(&agent), &id, "handoff", Some(handoff)).await;
    assert_eq!(response.status(), 200);
    let response = send(&app, caller, &id, &json!({"content": "Still there?"})).await;
    assert_eq!(response.status(), 202);
    let body = json!({"content": "Yes."});
    let response = agent_post(&app, Some(&agent), &id, "agent-messages", Some(body)).await;
    assert_eq!(response.status(), 201);
    assert_eq!(app.calls.live_calls(), Vec::<String>::new());
    // The socket heard nothing: pushes come from the stream alone.
    socket.send(Message::text("ping")).await.unwrap();
    assert_eq!(next_text(&mut socket).await, "pong");
}

#[tokio::test]
async fn the_push_function_asks_again_for_a_change_whose_sockets_could_not_be_listed() {
    // The store is unreachable: no connection can be listed.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let app = TestApp::builder()
        .dynamo_through(move |_| async move { dead })
        .spawn()
        .await;
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../events/push-handoff-and-agent-message.json"),
    )
    .unwrap();
    let event: aws_lambda_events::event::dynamodb::Event = serde_json::from_str(&text).unwrap();
    let first = event.records[0].change.sequence_number.clone();
    let response = app.app.push.handle(event).await;
    // The first record reached nobody: it and all after it are told again.
    let failures: Vec<Option<String>> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(failures, [first]);
}
