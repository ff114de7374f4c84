//! Failing dependencies against the real handlers: DynamoDB throttling, gone and slow
//! (through a proxy in front of the engine that injects the fault), and providers that
//! time out or cannot be reached. Each test checks the status, the body and what is
//! stored afterwards.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::json;

use crate::helpers::{
    TestApp, bearer, json, new_caller, serve_http, spawn_app_routed, spawn_app_with, user,
};

/// What the proxy does to a request for an operation.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    /// Pass it on.
    None,
    /// Answer `ProvisionedThroughputExceededException`, as DynamoDB does when throttling.
    Throttle,
    /// Hold it longer than the client waits.
    Stall,
}

/// Which operations fail, and how.
type Rules = Arc<Mutex<Vec<(&'static str, Fault)>>>;

/// A proxy in front of the engine injecting faults per operation.
async fn start_proxy(engine: String, rules: Rules) -> String {
    let client = reqwest::Client::new();
    serve_http(move |req| proxy(req, engine.clone(), rules.clone(), client.clone())).await
}

/// Forwards one request to the engine, or fails it as the rules say.
async fn proxy(
    req: hyper::Request<hyper::body::Incoming>,
    engine: String,
    rules: Rules,
    client: reqwest::Client,
) -> hyper::Response<Full<Bytes>> {
    let headers = req.headers().clone();
    let target = headers
        .get("x-amz-target")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let operation = target.rsplit('.').next().unwrap_or("").to_owned();
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let counter = body.windows(4).any(|w| w == b"\"RL#");
    let fault = rules
        .lock()
        .unwrap()
        .iter()
        .find(|(op, _)| *op == "*" || (*op == operation && !counter))
        .map(|(_, fault)| *fault)
        .unwrap_or(Fault::None);
    match fault {
        Fault::Throttle => {
            let mut response = hyper::Response::new(Full::new(Bytes::from(
                json!({"__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                       "message": "The level of configured provisioned throughput for the table was exceeded."}).to_string(),
            )));
            *response.status_mut() = hyper::StatusCode::BAD_REQUEST;
            response.headers_mut().insert(
                "content-type",
                "application/x-amz-json-1.0".parse().unwrap(),
            );
            response
        }
        Fault::Stall => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            hyper::Response::new(Full::new(Bytes::new()))
        }
        Fault::None => {
            let mut forward = client.post(&engine).body(body);
            for (name, value) in &headers {
                if name != "host" && name != "content-length" {
                    forward = forward.header(name, value);
                }
            }
            let upstream = forward.send().await.unwrap();
            let status = upstream.status();
            let upstream_headers = upstream.headers().clone();
            let mut response = hyper::Response::new(Full::new(upstream.bytes().await.unwrap()));
            *response.status_mut() = status;
            for (name, value) in &upstream_headers {
                if name != "content-length" && name != "transfer-encoding" {
                    response.headers_mut().insert(name, value.clone());
                }
            }
            response
        }
    }
}

/// An app whose DynamoDB traffic goes through a fault proxy, with short timeouts.
async fn faulty_app() -> (TestApp, Rules) {
    let rules: Rules = Arc::new(Mutex::new(Vec::new()));
    let proxy_rules = rules.clone();
    let app = spawn_app_routed(
        &[],
        |config| {
            config.dynamo.max_attempts = 2;
            config.dynamo.attempt_timeout = Duration::from_millis(300);
            config.dynamo.operation_timeout = Duration::from_millis(800);
        },
        move |engine| start_proxy(engine, proxy_rules),
    )
    .await;
    (app, rules)
}

fn set(rules: &Rules, new: &[(&'static str, Fault)]) {
    *rules.lock().unwrap() = new.to_vec();
}

async fn assert_503(response: reqwest::Response) {
    let retry = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let (status, body) = json(response).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "SERVICE_UNAVAILABLE");
    assert_eq!(body["error"]["details"], json!({"retryAfter": 1}));
    assert_eq!(retry.as_deref(), Some("1"));
    assert!(
        !body.to_string().contains("Throughput"),
        "no SDK internals: {body}"
    );
}

#[tokio::test]
async fn throttling_past_the_retries_is_503_and_changes_nothing() {
    let (app, rules) = faulty_app().await;
    let caller = new_caller();
    let id = app.create_conversation(caller, 2).await.to_string();
    let auth = bearer(&app.token(caller));
    let before = app.snapshot().await;
    for operation in ["Query", "UpdateItem"] {
        set(&rules, &[(operation, Fault::Throttle)]);
        let response = if operation == "Query" {
            app.get(&id, Some(&auth)).await
        } else {
            app.close(&id, Some(&auth), None).await
        };
        assert_503(response).await;
    }
    // A turn whose transaction is throttled leaves no half turn behind.
    set(&rules, &[("TransactWriteItems", Fault::Throttle)]);
    assert_503(
        app.complete(
            caller,
            &json!({"messages": [user("hi")], "conversationId": id}),
        )
        .await,
    )
    .await;
    assert_eq!(app.snapshot().await, before);
    set(&rules, &[]);
    let (status, _) = json(
        app.complete(
            caller,
            &json!({"messages": [user("hi")], "conversationId": id}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "recovers once DynamoDB does");
}

#[tokio::test]
async fn dynamodb_slow_past_the_timeout_is_503() {
    let (app, rules) = faulty_app().await;
    let caller = new_caller();
    let id = app.create_conversation(caller, 1).await.to_string();
    let before = app.snapshot().await;
    set(&rules, &[("*", Fault::Stall)]);
    let started = std::time::Instant::now();
    assert_503(app.get(&id, Some(&bearer(&app.token(caller)))).await).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "bounded by the operation timeout"
    );
    assert_503(
        app.complete(
            caller,
            &json!({"messages": [user("hi")], "conversationId": id}),
        )
        .await,
    )
    .await;
    set(&rules, &[]);
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn dynamodb_gone_is_503() {
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let app = spawn_app_routed(
        &[],
        |config| {
            config.dynamo.max_attempts = 2;
            config.dynamo.attempt_timeout = Duration::from_millis(300);
        },
        move |_| async move { address },
    )
    .await;
    let caller = new_caller();
    let id = app.create_conversation(caller, 1).await.to_string();
    let auth = bearer(&app.token(caller));
    let before = app.snapshot().await;
    assert_503(app.get(&id, Some(&auth)).await).await;
    assert_503(app.close(&id, Some(&auth), None).await).await;
    assert_503(
        app.complete(caller, &json!({"messages": [user("hi")], "stream": true}))
            .await,
    )
    .await;
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn provider_timeouts_and_refused_connections_are_503_in_both_modes_with_the_turn_stored() {
    let app = spawn_app_with(|config| {
        config.completion.first_token_timeout = Duration::from_millis(100);
        config.completion.openai_base_url = "http://127.0.0.1:9/v1".into();
    })
    .await;
    let caller = new_caller();
    let slow = app
        .put_assistant(
            caller,
            "offline:first=2000",
            chat_shared::assistant::Tier::Standard,
        )
        .await
        .to_string();
    let refused = chat_shared::assistant::Assistant {
        id: Some(uuid::Uuid::now_v7()),
        name: "refused".into(),
        provider: chat_shared::assistant::ProviderKind::OpenAi,
        model: "gpt".into(),
        system_prompt: None,
        temperature: None,
        max_output_tokens: None,
        tier: chat_shared::assistant::Tier::Standard,
    };
    app.dynamo
        .put_item()
        .table_name(&app.table)
        .set_item(Some(chat_shared::storage::items::assistant_item(
            caller.project,
            &refused,
        )))
        .send()
        .await
        .unwrap();
    for assistant in [slow, refused.id.unwrap().to_string()] {
        for stream in [false, true] {
            let response = app
                .complete(
                    caller,
                    &json!({"messages": [user("hi")], "assistantId": assistant, "stream": stream}),
                )
                .await;
            let conversation = response.headers()["x-conversation-id"]
                .to_str()
                .unwrap()
                .to_owned();
            assert!(response.headers().contains_key("retry-after"));
            let (status, body) = json(response).await;
            assert_eq!(status, 503, "{body}");
            let messages = app.read(caller, &conversation).await["messages"].clone();
            assert_eq!(messages[0]["status"], "complete");
            assert_eq!(messages[1]["status"], "error");
        }
    }
}
