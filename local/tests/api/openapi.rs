//! `openapi.yaml` and the code in step: the spec's operations are the server's routes,
//! every status a request here gets is declared for its operation (with the headers the
//! spec requires), and the required keys of the spec's objects are exactly the keys the
//! code emits, taken from real responses of the running local server.
//!
//! Beyond the requests made here, the test server (`helpers::serve_checked`) checks the
//! status of every API response any test observes against the spec, and fails that test
//! when one is undeclared.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use chat_domain::assistant::Tier;
use chat_local::server::ROUTES;
use serde_json::{Value, json};
use uuid::Uuid;

use chat_testkit::{TestApp, bearer, new_caller, same_project_other_visitor, stream_events, user};

fn spec() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../openapi.yaml");
    let text = std::fs::read_to_string(&path).expect("openapi.yaml at the repo root");
    serde_yaml_ng::from_str(&text).expect("openapi.yaml is YAML")
}

/// Follows `$ref`s (local ones: `#/components/...`) until a value without one.
fn deref<'a>(spec: &'a Value, mut value: &'a Value) -> &'a Value {
    while let Some(Value::String(reference)) = value.get("$ref") {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("only local $refs: {reference}"));
        value = spec
            .pointer(pointer)
            .unwrap_or_else(|| panic!("dangling $ref {reference}"));
    }
    value
}

fn schema<'a>(spec: &'a Value, name: &str) -> &'a Value {
    spec.pointer(&format!("/components/schemas/{name}"))
        .unwrap_or_else(|| panic!("no schema {name}"))
}

fn required(schema: &Value) -> BTreeSet<String> {
    schema["required"]
        .as_array()
        .unwrap_or_else(|| panic!("no required list in {schema}"))
        .iter()
        .map(|key| key.as_str().unwrap().to_owned())
        .collect()
}

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect()
}

/// The spec's operations as `(METHOD, path)`.
fn spec_operations(spec: &Value) -> BTreeSet<(String, String)> {
    let mut operations = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "put", "post", "delete", "patch", "head", "options"]
                .contains(&method.as_str())
            {
                operations.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    operations
}

#[test]
fn the_spec_declares_exactly_the_servers_routes() {
    let spec = spec();
    assert_eq!(spec["openapi"], "3.1.0");
    let mut served: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|route| (route.method.to_owned(), route.template.to_owned()))
        .collect();
    // The widget's socket, served on its own port (chat_local::live).
    served.insert((
        "GET".to_owned(),
        chat_local::live::SOCKET_TEMPLATE.to_owned(),
    ));
    assert_eq!(spec_operations(&spec), served);
}

#[test]
fn every_status_the_sample_events_get_is_declared() {
    // The events run through the handlers in-process (events.rs), not over HTTP, so the
    // test server's own check (helpers::serve_checked) does not see them.
    let declared = chat_testkit::declared_statuses();
    for (file, status) in crate::events::EXPECTED {
        if file.starts_with("live-") {
            // The WebSocket API's events: $connect's answer is the handshake's (200 opens
            // the socket: 101); $disconnect and $default have no HTTP counterpart.
            if file.starts_with("live-connect") {
                let key = (
                    "GET".to_owned(),
                    chat_local::live::SOCKET_TEMPLATE.to_owned(),
                );
                let status = if *status == 200 { 101 } else { *status };
                assert!(declared[&key].contains(&status), "events/{file}: {status}");
            }
            continue;
        }
        if file.starts_with("push-") || file.starts_with("crawl-worker-") {
            // The table stream's batches, the knowledge queue's and its schedule's events:
            // no HTTP counterpart.
            continue;
        }
        let text = std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../events")
                .join(file),
        )
        .unwrap();
        let event: Value = serde_json::from_str(&text).unwrap();
        let operation = (
            event["httpMethod"].as_str().unwrap(),
            event["resource"].as_str().unwrap(),
        );
        let key = (operation.0.to_owned(), operation.1.to_owned());
        assert!(declared[&key].contains(status), "events/{file}: {status}");
    }
}

#[test]
fn every_ref_in_the_spec_resolves() {
    fn walk(spec: &Value, value: &Value) {
        match value {
            Value::Object(map) => {
                if map.contains_key("$ref") {
                    deref(spec, value);
                }
                map.values().for_each(|v| walk(spec, v));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(spec, v)),
            _ => {}
        }
    }
    let spec = spec();
    walk(&spec, &spec);
}

/// One observed response: the operation it answered and what came back.
struct Seen {
    operation: (&'static str, &'static str),
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

const GET: (&str, &str) = ("GET", "/v2/conversations/{conversationId}");
const CLOSE: (&str, &str) = ("POST", "/v2/conversations/{conversationId}/close");
const COMPLETE: (&str, &str) = ("POST", "/v2/chat/completions");

async fn seen(operation: (&'static str, &'static str), response: reqwest::Response) -> Seen {
    Seen {
        operation,
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.text().await.unwrap(),
    }
}

async fn post(app: &TestApp, path: &str, auth: Option<&str>, body: &str) -> reqwest::Response {
    let mut request = app
        .http
        .post(format!("{}{path}", app.base))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    request.send().await.unwrap()
}

/// Every status each operation can produce locally, from real requests.
async fn observe_every_status(app: &TestApp) -> Vec<Seen> {
    let caller = new_caller();
    let other = same_project_other_visitor(caller);
    let token = bearer(&app.token(caller));
    let other_token = bearer(&app.token(other));
    let mut all = Vec::new();

    let id = app.create_conversation(caller, 2).await.to_string();
    let unknown = Uuid::now_v7().to_string();
    all.push(seen(GET, app.get(&id, Some(&token)).await).await);
    all.push(seen(GET, app.get("not-a-uuid", Some(&token)).await).await);
    all.push(seen(GET, app.get(&id, None).await).await);
    all.push(seen(GET, app.get(&id, Some("Bearer not.a.jwt")).await).await);
    all.push(seen(GET, app.get(&id, Some(&other_token)).await).await);
    all.push(seen(GET, app.get(&unknown, Some(&token)).await).await);

    let closing = app.create_conversation(caller, 0).await.to_string();
    let long_reason = json!({ "closeReason": "x".repeat(257) }).to_string();
    let huge = format!("{{\"closeReason\":\"{}\"}}", "x".repeat(300 * 1024));
    for (id, auth, body) in [
        (closing.as_str(), Some(token.as_str()), None),
        (closing.as_str(), Some(token.as_str()), Some("{}")),
        ("not-a-uuid", Some(token.as_str()), None),
        (id.as_str(), None, None),
        (id.as_str(), Some(other_token.as_str()), None),
        (unknown.as_str(), Some(token.as_str()), None),
        (id.as_str(), Some(token.as_str()), Some("{not json")),
        (
            id.as_str(),
            Some(token.as_str()),
            Some(long_reason.as_str()),
        ),
        (id.as_str(), Some(token.as_str()), Some(huge.as_str())),
    ] {
        all.push(seen(CLOSE, app.close(id, auth, body).await).await);
    }

    let completions = "/v2/chat/completions";
    let ask = |extra: Value| {
        let mut body = json!({ "messages": [user("Do you ship to Canada?")] });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body.to_string()
    };
    let advanced = app
        .put_assistant(caller, "offline:first=0", Tier::Advanced)
        .await;
    let failing = app
        .put_assistant(caller, "offline:first=0,fail=now", Tier::Standard)
        .await;
    let busy = app
        .put_assistant(caller, "offline:first=0,fail=busy", Tier::Standard)
        .await;
    let open = app.create_conversation(caller, 2).await;
    let bodies = [
        (Some(&token), ask(json!({ "conversationId": open }))),
        (
            Some(&token),
            ask(json!({ "conversationId": open, "stream": true })),
        ),
        (Some(&token), ask(json!({}))),
        (Some(&token), "{\"messages\": 5}".to_owned()),
        (None, ask(json!({}))),
        (Some(&token), ask(json!({ "assistantId": advanced }))),
        (Some(&other_token), ask(json!({ "conversationId": open }))),
        (Some(&token), ask(json!({ "conversationId": closing }))),
        (Some(&token), ask(json!({ "assistantId": Uuid::now_v7() }))),
        (Some(&token), ask(json!({ "assistantId": failing }))),
        (Some(&token), ask(json!({ "assistantId": busy }))),
    ];
    for (auth, body) in bodies {
        let response = post(app, completions, auth.map(String::as_str), &body).await;
        all.push(seen(COMPLETE, response).await);
    }
    all
}

fn operation<'a>(spec: &'a Value, (method, path): (&str, &str)) -> &'a Value {
    &spec["paths"][path][method.to_lowercase()]
}

fn header_names(spec: &Value, response: &Value) -> BTreeSet<String> {
    let Some(headers) = response.get("headers").and_then(Value::as_object) else {
        return BTreeSet::new();
    };
    headers
        .iter()
        .filter(|(_, header)| deref(spec, header)["required"] == true)
        .map(|(name, _)| name.to_lowercase())
        .collect()
}

/// The `details` keys the spec requires of the error schema of `response`.
fn details_required(spec: &Value, response: &Value) -> BTreeSet<String> {
    let schema = deref(spec, &response["content"]["application/json"]["schema"]);
    let error = &schema["allOf"][1]["properties"]["error"];
    match error.pointer("/properties/details") {
        Some(details) => required(deref(spec, details)),
        None => {
            assert_eq!(error["not"], json!({ "required": ["details"] }));
            BTreeSet::new()
        }
    }
}

#[tokio::test]
async fn every_observed_status_is_declared_and_bodies_have_the_specs_keys() {
    let spec = spec();
    let app = TestApp::builder()
        .settings(|config| {
            config.providers.offline.first_token_delay = std::time::Duration::ZERO;
            config.providers.offline.token_gap = std::time::Duration::ZERO;
        })
        .spawn()
        .await;
    let all = observe_every_status(&app).await;

    let mut statuses: BTreeMap<&str, BTreeSet<u16>> = BTreeMap::new();
    for seen in &all {
        let op = operation(&spec, seen.operation);
        let declared = op["responses"]
            .get(seen.status.to_string())
            .unwrap_or_else(|| {
                panic!(
                    "{} {} answered {} ({}), which openapi.yaml does not declare",
                    seen.operation.0, seen.operation.1, seen.status, seen.body
                )
            });
        let declared = deref(&spec, declared);
        statuses
            .entry(op["operationId"].as_str().unwrap())
            .or_default()
            .insert(seen.status);
        // Every header the spec says is required is there.
        for name in header_names(&spec, declared) {
            assert!(
                seen.headers.contains_key(name.as_str()),
                "{:?} {}: no {name} header",
                seen.operation,
                seen.status
            );
        }
        let content_type = seen.headers["content-type"].to_str().unwrap();
        assert!(
            declared["content"].get(content_type).is_some(),
            "{:?} {}: content-type {content_type} not declared",
            seen.operation,
            seen.status
        );
        if seen.status >= 400 {
            let body: Value = serde_json::from_str(&seen.body).unwrap();
            assert_eq!(keys(&body), required(schema(&spec, "Error")));
            let error = &body["error"];
            let inner = &schema(&spec, "Error")["properties"]["error"];
            let allowed = keys(&inner["properties"]);
            assert!(required(inner).is_subset(&keys(error)), "{body}");
            assert!(keys(error).is_subset(&allowed), "{body}");
            let details = error.get("details").map(keys).unwrap_or_default();
            assert_eq!(
                details,
                details_required(&spec, declared),
                "{:?} {}: details of {body}",
                seen.operation,
                seen.status
            );
        }
    }
    // The situations above reach every status the code has for each operation.
    let expect = |codes: &[u16]| codes.iter().copied().collect::<BTreeSet<u16>>();
    assert_eq!(
        statuses["getConversation"],
        expect(&[200, 400, 401, 403, 404])
    );
    assert_eq!(
        statuses["closeConversation"],
        expect(&[200, 400, 401, 403, 404, 422])
    );
    assert_eq!(
        statuses["createChatCompletion"],
        expect(&[200, 400, 401, 402, 403, 409, 422, 502, 503])
    );
    // The contract's other statuses are declared too, with their headers.
    for op in ["/v2/conversations/{conversationId}", "/v2/chat/completions"] {
        let responses = &spec["paths"][op]
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap()["responses"];
        for status in ["429", "500", "503"] {
            assert!(responses.get(status).is_some(), "{op} {status}");
        }
        let limited = deref(&spec, &responses["429"]);
        assert!(header_names(&spec, limited).contains("retry-after"));
        let unauthorized = deref(&spec, &responses["401"]);
        assert!(header_names(&spec, unauthorized).contains("www-authenticate"));
    }

    // Objects: the spec's required keys are exactly the keys the code emits.
    let get_ok = all
        .iter()
        .find(|s| s.operation == GET && s.status == 200)
        .unwrap();
    let conversation: Value = serde_json::from_str(&get_ok.body).unwrap();
    let with_messages = schema(&spec, "ConversationWithMessages");
    let mut conversation_keys = required(deref(&spec, &with_messages["allOf"][0]));
    conversation_keys.extend(required(&with_messages["allOf"][1]));
    assert_eq!(keys(&conversation), conversation_keys);
    let messages = conversation["messages"].as_array().unwrap();
    assert!(!messages.is_empty());
    for message in messages {
        assert_eq!(keys(message), required(schema(&spec, "Message")));
        assert_eq!(required(schema(&spec, "Message")).len(), 15);
    }

    let close_ok = all
        .iter()
        .find(|s| s.operation == CLOSE && s.status == 200)
        .unwrap();
    let closed: Value = serde_json::from_str(&close_ok.body).unwrap();
    assert_eq!(keys(&closed), required(schema(&spec, "CloseResponse")));

    let completion = all
        .iter()
        .find(|s| {
            s.operation == COMPLETE
                && s.status == 200
                && s.headers["content-type"] == "application/json"
        })
        .unwrap();
    let answer: Value = serde_json::from_str(&completion.body).unwrap();
    let response_schema = schema(&spec, "CompletionResponse");
    assert_eq!(keys(&answer), required(response_schema));
    let step_schema = &response_schema["properties"]["steps"]["items"];
    let step = &answer["steps"][0];
    assert_eq!(keys(step), required(step_schema));
    assert_eq!(
        keys(&step["content"][0]),
        required(&step_schema["properties"]["content"]["items"])
    );
    assert_eq!(keys(&step["usage"]), required(schema(&spec, "Usage")));

    // Streams: each chunk has exactly the keys of its variant.
    let stream = all
        .iter()
        .find(|s| {
            s.operation == COMPLETE
                && s.status == 200
                && s.headers["content-type"] == "text/event-stream"
        })
        .unwrap();
    let variants: BTreeMap<String, &Value> = schema(&spec, "UiMessageChunk")["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|variant| (variant["title"].as_str().unwrap().to_owned(), variant))
        .collect();
    let events = stream_events(&stream.body);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    for event in &events[..events.len() - 1] {
        let chunk: Value = serde_json::from_str(event).unwrap();
        let variant = variants[chunk["type"].as_str().unwrap()];
        assert_eq!(keys(&chunk), required(variant), "{event}");
        for nested in ["messageMetadata"] {
            if let Some(inner) = chunk.get(nested) {
                assert_eq!(keys(inner), required(&variant["properties"][nested]));
            }
        }
    }
    let error_chunk = ui_stream_error_chunk();
    assert_eq!(keys(&error_chunk), required(variants["error"]));
}

fn ui_stream_error_chunk() -> Value {
    let bytes = chat_domain::ui_stream::error("The assistant stopped unexpectedly.");
    let text = std::str::from_utf8(&bytes).unwrap();
    serde_json::from_str(text.trim_start_matches("data: ").trim_end()).unwrap()
}

#[tokio::test]
async fn the_conversation_routes_bodies_have_exactly_the_specs_keys() {
    let spec = spec();
    let app = TestApp::builder().instant_answers().spawn().await;
    let caller = new_caller();
    let token = bearer(&app.token(caller));
    let get = |path: String| {
        app.http
            .get(format!("{}{path}", app.base))
            .header("authorization", &token)
    };
    let started: Value = post(&app, "/v2/conversations", Some(&token), "{}")
        .await
        .json()
        .await
        .unwrap();
    let with_messages = schema(&spec, "ConversationWithMessages");
    let mut conversation_keys = required(deref(&spec, &with_messages["allOf"][0]));
    conversation_keys.extend(required(&with_messages["allOf"][1]));
    assert_eq!(keys(&started), conversation_keys);
    let id = started["id"].as_str().unwrap().to_owned();
    let sent: Value = post(
        &app,
        &format!("/v2/conversations/{id}/messages"),
        Some(&token),
        r#"{"content":"Hi"}"#,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(keys(&sent), required(schema(&spec, "CompletionResponse")));

    let list: Value = get("/v2/conversations".into())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(keys(&list), required(schema(&spec, "ConversationList")));
    let listed = schema(&spec, "ListedConversation");
    let mut listed_keys = required(deref(&spec, &listed["allOf"][0]));
    listed_keys.extend(required(&listed["allOf"][1]));
    assert_eq!(keys(&list["data"][0]), listed_keys);
    assert_eq!(
        keys(&list["data"][0]["lastMessage"]),
        required(schema(&spec, "Message"))
    );

    let messages: Value = get(format!("/v2/conversations/{id}/messages"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(keys(&messages), required(schema(&spec, "MessageList")));
    let answer = sent["messageId"].as_str().unwrap();
    let rated: Value = post(
        &app,
        &format!("/v2/messages/{answer}/feedback"),
        Some(&token),
        r#"{"feedback":"like"}"#,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(keys(&rated), required(schema(&spec, "FeedbackResponse")));
}
