//! Failing dependencies against the real handlers: DynamoDB throttling, gone and slow
//! (through a proxy in front of the engine that injects the fault), and providers that
//! time out or cannot be reached. Each test checks the status, the body and what is
//! stored afterwards.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::json;

use aws_sdk_dynamodb::types::AttributeValue;
use chat_storage::items::conversation::IS_HUMAN_HANDLED;
use chat_storage::items::key;
use chat_storage::keys::{CONVERSATION_SK, conversation_pk};
use chat_testkit::{TestApp, bearer, json, new_caller, serve_http, user};

/// What the proxy does to a request for an operation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Fault {
    /// Pass it on.
    None,
    /// Answer `ProvisionedThroughputExceededException`, as DynamoDB does when throttling.
    Throttle,
    /// Hold it longer than the client waits.
    Stall,
    /// Pass it on after a delay of up to 40 ms, different for each request: the spread of
    /// latencies a real network has, which commits concurrent writes out of the order they
    /// were made in.
    Jitter,
    /// Answer `502 Bad Gateway` with an HTML page, as a proxy or load balancer in front of
    /// the store does: no DynamoDB error code at all.
    HtmlBadGateway,
    /// Hold the first such request until the test has done something in between (another
    /// client's write landing between a handler's read and its write), then pass it on.
    PauseOnce,
}

/// Which operations fail, and how; and the two signals of a [`Fault::PauseOnce`].
#[derive(Default)]
pub(crate) struct Faults {
    rules: Mutex<Vec<(&'static str, Fault)>>,
    paused: tokio::sync::Notify,
    resume: tokio::sync::Notify,
}

/// The proxy's faults, shared with the test.
pub(crate) type Rules = Arc<Faults>;

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
    let fault = {
        let mut active = rules.rules.lock().unwrap();
        let found = active
            .iter()
            .position(|(op, _)| *op == "*" || (*op == operation && !counter));
        match found.map(|index| (index, active[index].1)) {
            Some((index, Fault::PauseOnce)) => {
                active.remove(index);
                Fault::PauseOnce
            }
            Some((_, fault)) => fault,
            None => Fault::None,
        }
    };
    if fault == Fault::PauseOnce {
        rules.paused.notify_one();
        rules.resume.notified().await;
    }
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
        Fault::HtmlBadGateway => {
            let mut response = hyper::Response::new(Full::new(Bytes::from_static(
                b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>",
            )));
            *response.status_mut() = hyper::StatusCode::BAD_GATEWAY;
            response
                .headers_mut()
                .insert("content-type", "text/html".parse().unwrap());
            response
        }
        Fault::Jitter | Fault::None | Fault::PauseOnce => {
            if fault == Fault::Jitter {
                let millis = u64::from(uuid::Uuid::new_v4().as_bytes()[0]) % 40;
                tokio::time::sleep(Duration::from_millis(millis)).await;
            }
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
    faulty_app_with(|_| {}).await
}

/// As [`faulty_app`], with a last say over the settings.
pub(crate) async fn faulty_app_with(
    customize: impl FnOnce(&mut chat_local::app::LocalSettings) + Send + 'static,
) -> (TestApp, Rules) {
    let rules: Rules = Arc::default();
    let proxy_rules = rules.clone();
    let app = TestApp::builder()
        .settings(|config| {
            config.base.store.dynamo.max_attempts = 2;
            config.base.store.dynamo.attempt_timeout = Duration::from_millis(300);
            config.base.store.dynamo.operation_timeout = Duration::from_millis(800);
            customize(config);
        })
        .dynamo_through(move |engine| start_proxy(engine, proxy_rules))
        .spawn()
        .await;
    (app, rules)
}

pub(crate) fn set(rules: &Rules, new: &[(&'static str, Fault)]) {
    *rules.rules.lock().unwrap() = new.to_vec();
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
async fn a_5xx_page_from_a_proxy_in_front_of_dynamodb_is_503_and_changes_nothing() {
    let (app, rules) = faulty_app().await;
    let caller = new_caller();
    let id = app.create_conversation(caller, 2).await.to_string();
    let auth = bearer(&app.token(caller));
    let before = app.snapshot().await;
    for operation in ["Query", "UpdateItem", "BatchGetItem"] {
        set(&rules, &[(operation, Fault::HtmlBadGateway)]);
        let response = match operation {
            "Query" => app.get(&id, Some(&auth)).await,
            "UpdateItem" => app.close(&id, Some(&auth), None).await,
            _ => {
                app.complete(
                    caller,
                    &json!({"messages": [user("hi")], "conversationId": id}),
                )
                .await
            }
        };
        assert_503(response).await;
    }
    set(&rules, &[]);
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn last_interaction_and_updated_at_only_move_forward_under_concurrent_turns() {
    // Thirty turns at once, their transactions delayed by a spread of latencies, commit in
    // another order than they took their times: the last to commit must not leave the
    // conversation with an older time than its newest message.
    // Thirty turns of one visitor at once: past any per-visitor limit.
    let (app, rules) = faulty_app_with(|settings| {
        settings.base.limits.enabled = false;
        // Ordering is the subject, not timeouts: the store's default timeouts, not the fault
        // tests' short ones, which a loaded machine's slow transaction would run past (503).
        let dynamo = &mut settings.base.store.dynamo;
        dynamo.max_attempts = 3;
        dynamo.attempt_timeout = Duration::from_secs(2);
        dynamo.operation_timeout = Duration::from_secs(5);
    })
    .await;
    set(&rules, &[("TransactWriteItems", Fault::Jitter)]);
    let caller = new_caller();
    let conversation = app.create_conversation(caller, 0).await.to_string();
    let assistant = app
        .put_assistant(
            caller,
            "offline:first=0,gap=0,tokens=2",
            chat_domain::assistant::Tier::Standard,
        )
        .await
        .to_string();
    for round in 0..3 {
        let results = futures_util::future::join_all((0..30).map(|n| {
            let body = json!({"messages": [user(&format!("q {round}.{n}"))], "conversationId": conversation, "assistantId": assistant});
            let app = &app;
            async move { app.complete(caller, &body).await.status().as_u16() }
        }))
        .await;
        assert!(results.iter().all(|status| *status == 200), "{results:?}");
        let stored = app.read(caller, &conversation).await;
        let newest = stored["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["createdAt"].as_str().unwrap())
            .max()
            .unwrap()
            .to_owned();
        // The newest thousand, once there are more.
        assert_eq!(
            stored["messages"].as_array().unwrap().len(),
            (60 * (round + 1)).min(1_000)
        );
        assert_eq!(
            stored["lastInteractionAt"],
            newest.as_str(),
            "round {round}"
        );
        assert_eq!(stored["updatedAt"], newest.as_str(), "round {round}");
        // The visitor index sorts by the same time.
        let item = app
            .dynamo
            .get_item()
            .table_name(&app.table)
            .set_key(Some(chat_storage::items::key(
                chat_storage::keys::conversation_pk(caller.project, conversation.parse().unwrap()),
                chat_storage::keys::CONVERSATION_SK,
            )))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .unwrap();
        assert_eq!(
            item[chat_storage::keys::VISITOR_INDEX_SK].as_s().unwrap(),
            &newest,
            "round {round}"
        );
    }
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
    let app = TestApp::builder()
        .settings(|config| {
            config.base.store.dynamo.max_attempts = 2;
            config.base.store.dynamo.attempt_timeout = Duration::from_millis(300);
        })
        .dynamo_through(move |_| async move { address })
        .spawn()
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
    let app = TestApp::builder()
        .settings(|config| {
            config.turns.first_token_timeout = Duration::from_millis(100);
            config.providers.openai_base_url = "http://127.0.0.1:9/v1".into();
        })
        .spawn()
        .await;
    let caller = new_caller();
    let slow = app
        .put_assistant(
            caller,
            "offline:first=2000",
            chat_domain::assistant::Tier::Standard,
        )
        .await
        .to_string();
    let refused = chat_domain::assistant::Assistant {
        id: Some(uuid::Uuid::now_v7()),
        name: "refused".into(),
        provider: chat_domain::assistant::ProviderKind::OpenAi,
        model: "gpt".into(),
        system_prompt: None,
        temperature: None,
        max_output_tokens: None,
        tier: chat_domain::assistant::Tier::Standard,
        fallback_message: None,
    };
    app.store_assistant(caller, &refused).await;
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

#[tokio::test]
async fn a_handoff_between_a_sends_read_and_its_write_leaves_the_answer_to_the_agent() {
    let (app, rules) = faulty_app().await;
    let caller = new_caller();
    let id = app.create_conversation(caller, 2).await;
    set(&rules, &[("TransactWriteItems", Fault::PauseOnce)]);
    let send = {
        let (http, base, token) = (app.http.clone(), app.base.clone(), app.token(caller));
        tokio::spawn(async move {
            http.post(format!("{base}/v2/conversations/{id}/messages"))
                .header("authorization", bearer(&token))
                .json(&json!({"content": "Still there?", "stream": true}))
                .send()
                .await
                .unwrap()
        })
    };
    // The send has read the conversation as the assistant's; an agent takes it over now.
    rules.paused.notified().await;
    app.dynamo
        .update_item()
        .table_name(&app.table)
        .set_key(Some(key(
            conversation_pk(caller.project, id),
            CONVERSATION_SK,
        )))
        .update_expression("SET #human = :yes")
        .expression_attribute_names("#human", IS_HUMAN_HANDLED)
        .expression_attribute_values(":yes", AttributeValue::Bool(true))
        .send()
        .await
        .unwrap();
    rules.resume.notify_one();
    let response = send.await.unwrap();
    assert_eq!(response.status(), 202);
    assert_eq!(response.text().await.unwrap(), "Message sent");
    let stored = app.read(caller, &id.to_string()).await;
    let messages = stored["messages"].as_array().unwrap();
    assert_eq!(
        messages.len(),
        3,
        "the two before and the visitor's: {stored}"
    );
    assert_eq!(messages[2]["role"], "user");
    assert_eq!(messages[2]["parts"][0]["text"], "Still there?");
    assert_eq!(stored["isHumanHandled"], true);
}
