//! `POST /v2/chat/completions`: validation, the stream's exact shape, timing, what is
//! stored, failures before and after the first token, a departed client, concurrency
//! and round trips.

use std::time::{Duration, Instant};

use chat_domain::assistant::{Plan, Tier};
use futures_util::StreamExt;
use serde_json::{Value, json};
use uuid::Uuid;

use chat_testkit::{
    TestApp, json, new_caller, same_project_other_visitor, spawn_app, stream_events, user,
};

/// Keys each chunk type carries, exactly.
fn expected_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "start" => &["type", "messageId", "messageMetadata"],
        "start-step" | "finish-step" => &["type"],
        "text-start" | "text-end" => &["type", "id"],
        "text-delta" => &["type", "id", "delta"],
        "finish" => &["type", "messageMetadata"],
        "error" => &["type", "errorText"],
        other => panic!("unexpected chunk type {other}"),
    }
}

/// Parses a stream's events, checking strict key sets; returns the JSON chunks.
fn chunks(text: &str) -> Vec<Value> {
    let events = stream_events(text);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"), "{text}");
    events[..events.len() - 1]
        .iter()
        .filter(|e| !e.starts_with(':'))
        .map(|e| {
            let chunk: Value = serde_json::from_str(e).unwrap();
            let keys: Vec<&str> = chunk
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(
                keys,
                expected_keys(chunk["type"].as_str().unwrap()),
                "{chunk}"
            );
            chunk
        })
        .collect()
}

fn streamed_text(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter(|c| c["type"] == "text-delta")
        .map(|c| c["delta"].as_str().unwrap())
        .collect()
}

async fn assistant_with(app: &TestApp, caller: chat_domain::ids::Caller, model: &str) -> String {
    app.put_assistant(caller, model, Tier::Standard)
        .await
        .to_string()
}

#[tokio::test]
async fn a_streamed_answer_has_the_exact_shape_and_matches_what_is_stored_and_the_json_answer() {
    let app = spawn_app().await;
    let caller = new_caller();
    let assistant = assistant_with(&app, caller, "offline:first=0,gap=0,tokens=7").await;
    let body =
        json!({"messages": [user("Where is my order?")], "stream": true, "assistantId": assistant});
    app.calls.clear();
    let response = app.complete(caller, &body).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    for (name, value) in [
        ("content-type", "text/event-stream"),
        ("cache-control", "no-cache"),
        ("connection", "keep-alive"),
        ("x-vercel-ai-ui-message-stream", "v1"),
        ("x-accel-buffering", "no"),
    ] {
        assert_eq!(headers[name], value, "{name}");
    }
    assert!(headers.get("content-length").is_none());
    assert!(headers.contains_key("x-request-id"));
    let conversation_id = headers["x-conversation-id"].to_str().unwrap().to_owned();
    let text = response.text().await.unwrap();
    let chunks = chunks(&text);
    let kinds: Vec<&str> = chunks.iter().map(|c| c["type"].as_str().unwrap()).collect();
    let mut expected = vec!["start", "start-step", "text-start"];
    expected.extend(std::iter::repeat_n("text-delta", 7));
    expected.extend(["text-end", "finish-step", "finish"]);
    assert_eq!(kinds, expected);
    assert_eq!(
        chunks[0]["messageMetadata"],
        json!({"conversationId": conversation_id})
    );
    let text_id = &chunks[2]["id"];
    assert!(chunks[2..11].iter().all(|c| &c["id"] == text_id));
    let finish = &chunks[12]["messageMetadata"];
    assert_eq!(finish["finishReason"], "stop");
    let usage_keys: Vec<&str> = finish["usage"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        usage_keys,
        [
            "inputTokens",
            "outputTokens",
            "totalTokens",
            "reasoningTokens",
            "cachedInputTokens"
        ]
    );
    assert_eq!(
        app.calls.data_calls(),
        ["BatchGetItem", "TransactWriteItems", "UpdateItem"]
    );
    assert_eq!(
        app.calls.calls().len(),
        6,
        "and three rate-limit and quota counters"
    );
    assert_eq!(app.calls.round_trips(), 3, "{:?}", app.calls.entries());

    let streamed = streamed_text(&chunks);
    let stored = app.read(caller, &conversation_id).await;
    let messages = stored["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["role"], "user");
    assert_eq!(messages[0]["status"], "complete");
    assert_eq!(
        messages[0]["parts"],
        json!([{"type": "text", "text": "Where is my order?"}])
    );
    assert_eq!(messages[1]["role"], "assistant");
    assert_eq!(messages[1]["id"], chunks[0]["messageId"]);
    assert_eq!(messages[1]["status"], "complete");
    assert_eq!(
        messages[1]["parts"],
        json!([{"type": "text", "text": streamed}])
    );
    assert_eq!(
        messages[1]["metadata"]["model"],
        "offline:first=0,gap=0,tokens=7"
    );
    assert_eq!(messages[1]["metadata"]["finishReason"], "stop");
    assert_eq!(&messages[1]["metadata"]["usage"], &finish["usage"]);
    assert_eq!(stored["lastInteractionAt"], messages[1]["createdAt"]);

    let mut same = body.clone();
    same["stream"] = json!(false);
    app.calls.clear();
    let response = app.complete(caller, &same).await;
    assert_eq!(response.headers()["content-type"], "application/json");
    let other_conversation = response.headers()["x-conversation-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let (status, answer) = json(response).await;
    assert_eq!(status, 200);
    assert_eq!(
        app.calls.data_calls(),
        ["BatchGetItem", "TransactWriteItems", "UpdateItem"]
    );
    assert_eq!(app.calls.round_trips(), 3);
    let keys: Vec<&str> = answer
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["conversationId", "messageId", "steps"]);
    assert_eq!(answer["conversationId"], other_conversation);
    assert_ne!(
        other_conversation, conversation_id,
        "no conversationId: a new conversation"
    );
    assert_eq!(
        answer["steps"][0]["content"],
        json!([{"type": "text", "text": streamed}])
    );
    assert_eq!(answer["steps"][0]["finishReason"], "stop");
    assert_eq!(answer["steps"][0]["usage"], finish["usage"]);
}

#[tokio::test]
async fn deltas_reach_the_client_as_the_provider_yields_them() {
    let app = spawn_app().await;
    let caller = new_caller();
    let assistant = assistant_with(&app, caller, "offline:first=200,gap=50,tokens=6").await;
    let started = Instant::now();
    let response = app
        .complete(
            caller,
            &json!({"messages": [user("hi")], "stream": true, "assistantId": assistant}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let headers_at = started.elapsed();
    let mut stream = response.bytes_stream();
    let mut buffer = String::new();
    let mut delta_times = Vec::new();
    while let Some(bytes) = stream.next().await {
        let now = started.elapsed();
        buffer.push_str(std::str::from_utf8(&bytes.unwrap()).unwrap());
        let seen = buffer.matches("\"type\":\"text-delta\"").count();
        while delta_times.len() < seen {
            delta_times.push(now);
        }
    }
    assert_eq!(delta_times.len(), 6, "{buffer}");
    // The 200 waits for the first token, which comes at 200 ms.
    assert!(
        headers_at >= Duration::from_millis(195),
        "headers at {headers_at:?}"
    );
    assert!(
        delta_times[0] >= Duration::from_millis(195),
        "{delta_times:?}"
    );
    assert!(
        delta_times[0] < Duration::from_millis(600),
        "first delta late: {delta_times:?}"
    );
    // Each later delta arrives about 50 ms after the one before, not all at the end.
    for pair in delta_times.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= Duration::from_millis(35),
            "bunched deltas: {delta_times:?}"
        );
    }
    assert!(
        delta_times[5] - delta_times[0] >= Duration::from_millis(240),
        "{delta_times:?}"
    );
}

#[tokio::test]
async fn a_provider_that_fails_at_once_gets_json_502_or_503_and_both_messages_are_stored() {
    let app = spawn_app().await;
    let caller = new_caller();
    for (model, status, code) in [
        ("offline:first=0,fail=now", 502, "BAD_GATEWAY"),
        ("offline:first=0,fail=busy", 503, "SERVICE_UNAVAILABLE"),
    ] {
        let assistant = assistant_with(&app, caller, model).await;
        for stream in [true, false] {
            let response = app
                .complete(caller, &json!({"messages": [user("hello")], "stream": stream, "assistantId": assistant}))
                .await;
            assert_eq!(
                response.headers()["content-type"],
                "application/json",
                "{model}"
            );
            let conversation_id = response.headers()["x-conversation-id"]
                .to_str()
                .unwrap()
                .to_owned();
            let retry_after = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            let (got, body) = json(response).await;
            assert_eq!(got, status, "{model} stream={stream}: {body}");
            assert_eq!(body["error"]["code"], code);
            if status == 503 {
                assert_eq!(retry_after.as_deref(), Some("7"));
                assert_eq!(body["error"]["details"], json!({"retryAfter": 7}));
            } else {
                assert_eq!(
                    body["error"]["details"],
                    json!({"service": "ai_model_service"})
                );
                assert!(
                    !body.to_string().contains("fail=now"),
                    "no internals: {body}"
                );
            }
            let messages = app.read(caller, &conversation_id).await["messages"].clone();
            assert_eq!(messages[0]["status"], "complete");
            assert_eq!(messages[0]["parts"][0]["text"], "hello");
            assert_eq!(messages[1]["status"], "error");
            assert!(messages[1]["error"].is_string());
            assert_eq!(messages[1]["parts"], json!([{"type": "text", "text": ""}]));
        }
    }
}

#[tokio::test]
async fn a_failure_after_tokens_ends_the_stream_with_an_error_and_keeps_the_partial_text() {
    let app = spawn_app().await;
    let caller = new_caller();
    for model in [
        "offline:first=0,gap=0,tokens=9,fail=after-3",
        "offline:first=0,gap=0,tokens=9,fail=stall-3",
    ] {
        let assistant = assistant_with(&app, caller, model).await;
        let response = app
            .complete(
                caller,
                &json!({"messages": [user("hello")], "stream": true, "assistantId": assistant}),
            )
            .await;
        assert_eq!(response.status(), 200);
        let conversation_id = response.headers()["x-conversation-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let chunks = chunks(&response.text().await.unwrap());
        let kinds: Vec<&str> = chunks.iter().map(|c| c["type"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "start",
                "start-step",
                "text-start",
                "text-delta",
                "text-delta",
                "text-delta",
                "error"
            ],
            "{model}"
        );
        let error_text = chunks[6]["errorText"].as_str().unwrap();
        assert!(
            error_text.ends_with('.') && !error_text.contains("offline"),
            "{error_text}"
        );
        let partial = streamed_text(&chunks);
        let messages = app.read(caller, &conversation_id).await["messages"].clone();
        assert_eq!(messages[1]["status"], "error");
        assert_eq!(
            messages[1]["parts"],
            json!([{"type": "text", "text": partial}])
        );
        assert_eq!(messages[1]["error"], error_text);
    }
    // Without streaming the same failure is a 502, with the partial text stored.
    let assistant =
        assistant_with(&app, caller, "offline:first=0,gap=0,tokens=9,fail=after-3").await;
    let response = app
        .complete(
            caller,
            &json!({"messages": [user("hello")], "assistantId": assistant}),
        )
        .await;
    let conversation_id = response.headers()["x-conversation-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let (status, _) = json(response).await;
    assert_eq!(status, 502);
    let messages = app.read(caller, &conversation_id).await["messages"].clone();
    assert_eq!(messages[1]["status"], "error");
    assert_eq!(messages[1]["parts"][0]["text"], "This is the");
}

#[tokio::test]
async fn generation_finishes_and_is_stored_when_the_client_goes_away() {
    let app = spawn_app().await;
    let caller = new_caller();
    let assistant = assistant_with(&app, caller, "offline:first=0,gap=30,tokens=10").await;
    let response = app
        .complete(
            caller,
            &json!({"messages": [user("hello")], "stream": true, "assistantId": assistant}),
        )
        .await;
    let conversation_id = response.headers()["x-conversation-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let mut stream = response.bytes_stream();
    let first = stream.next().await.unwrap().unwrap();
    assert!(
        std::str::from_utf8(&first)
            .unwrap()
            .contains("\"type\":\"start\"")
    );
    drop(stream);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let messages = app.read(caller, &conversation_id).await["messages"].clone();
        if messages[1]["status"] == "complete" {
            let text = messages[1]["parts"][0]["text"].as_str().unwrap();
            assert_eq!(text.split_whitespace().count(), 10, "{text}");
            break;
        }
        assert!(Instant::now() < deadline, "never completed: {messages}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn keep_alive_comments_fill_silences() {
    let app = TestApp::builder()
        .settings(|config| {
            config.turns.keep_alive = Duration::from_millis(40);
        })
        .spawn()
        .await;
    let caller = new_caller();
    let assistant = assistant_with(&app, caller, "offline:first=0,gap=150,tokens=3").await;
    let response = app
        .complete(
            caller,
            &json!({"messages": [user("hi")], "stream": true, "assistantId": assistant}),
        )
        .await;
    let events = stream_events(&response.text().await.unwrap());
    assert!(events.iter().any(|e| e == ": keep-alive"), "{events:?}");
    assert_eq!(events.last().unwrap(), "[DONE]");
}

#[tokio::test]
async fn twenty_concurrent_turns_into_one_conversation_store_forty_messages_in_order() {
    let app = spawn_app().await;
    let caller = new_caller();
    let conversation = app.create_conversation(caller, 0).await.to_string();
    let assistant = assistant_with(&app, caller, "offline:first=0,gap=0,tokens=3").await;
    let results = futures_util::future::join_all((0..20).map(|n| {
        let body = json!({"messages": [user(&format!("question {n}"))], "conversationId": conversation, "assistantId": assistant});
        let app = &app;
        async move { json(app.complete(caller, &body).await).await }
    }))
    .await;
    assert!(
        results.iter().all(|(status, _)| *status == 200),
        "{results:?}"
    );
    let stored = app.read(caller, &conversation).await;
    let messages = stored["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 40);
    let ids: Vec<&str> = messages.iter().map(|m| m["id"].as_str().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted, "oldest first");
    let created: Vec<&str> = messages
        .iter()
        .map(|m| m["createdAt"].as_str().unwrap())
        .collect();
    assert!(created.windows(2).all(|w| w[0] <= w[1]), "{created:?}");
    for n in 0..20 {
        let question = format!("question {n}");
        assert_eq!(
            messages
                .iter()
                .filter(|m| m["parts"][0]["text"] == question.as_str())
                .count(),
            1
        );
    }
    assert_eq!(
        messages
            .iter()
            .filter(|m| m["role"] == "assistant" && m["status"] == "complete")
            .count(),
        20
    );
    for (_, body) in &results {
        let id = body["messageId"].as_str().unwrap();
        assert!(ids.contains(&id));
    }
}

#[tokio::test]
async fn a_named_conversation_is_created_with_that_id_and_moves_forward_on_each_turn() {
    let app = spawn_app().await;
    let caller = new_caller();
    let id = Uuid::now_v7().to_string();
    let body = json!({"messages": [user("first")], "conversationId": id});
    let response = app.complete(caller, &body).await;
    assert_eq!(response.headers()["x-conversation-id"], id.as_str());
    assert_eq!(json(response).await.0, 200);
    let first = app.read(caller, &id).await;
    assert_eq!(first["status"], "open");
    assert_eq!(first["createdAt"], first["messages"][0]["createdAt"]);
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(
        json(
            app.complete(
                caller,
                &json!({"messages": [user("second")], "conversationId": id})
            )
            .await
        )
        .await
        .0,
        200
    );
    let second = app.read(caller, &id).await;
    assert_eq!(second["createdAt"], first["createdAt"]);
    assert!(second["updatedAt"].as_str() > first["updatedAt"].as_str());
    assert!(second["lastInteractionAt"].as_str() > first["lastInteractionAt"].as_str());
    assert_eq!(second["messages"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn refusals_before_generation_are_json_errors_and_write_nothing() {
    let app = spawn_app().await;
    let owner = new_caller();
    app.put_project(owner, Plan::Free, Some("offline:first=0,gap=0"))
        .await;
    let advanced = app
        .put_assistant(owner, "offline:first=0", Tier::Advanced)
        .await
        .to_string();
    let open = app.create_conversation(owner, 2).await.to_string();
    let closed = app.create_conversation(owner, 2).await.to_string();
    json(
        app.close(
            &closed,
            Some(&chat_testkit::bearer(&app.token(owner))),
            None,
        )
        .await,
    )
    .await;
    let other = same_project_other_visitor(owner);
    let cases = [
        (
            owner,
            json!({"messages": [user("x")], "assistantId": advanced}),
            402,
            "PAYMENT_REQUIRED",
            json!({"currentPlan": "free", "requiredPlan": "pro", "feature": "advanced_ai_models"}),
        ),
        (
            owner,
            json!({"messages": [user("x")], "assistantId": Uuid::now_v7()}),
            422,
            "VALIDATION_ERROR",
            Value::Null,
        ),
        (
            owner,
            json!({"messages": [user("x")], "conversationId": closed}),
            409,
            "CONFLICT",
            json!({"resource": "conversation", "conflictingField": "status"}),
        ),
        (
            other,
            json!({"messages": [user("x")], "conversationId": open}),
            403,
            "FORBIDDEN",
            Value::Null,
        ),
    ];
    let before = app.snapshot().await;
    for stream in [false, true] {
        for (caller, body, status, code, details) in &cases {
            let mut body = body.clone();
            body["stream"] = json!(stream);
            let response = app.complete(*caller, &body).await;
            assert_eq!(response.headers()["content-type"], "application/json");
            let (got, error) = json(response).await;
            assert_eq!(got, *status, "{body}: {error}");
            assert_eq!(error["error"]["code"], *code);
            if *status == 422 {
                assert_eq!(error["error"]["details"]["field"], "assistantId");
            } else if details.is_null() {
                assert!(error["error"].get("details").is_none());
            } else {
                assert_eq!(&error["error"]["details"], details);
            }
        }
    }
    assert_eq!(app.snapshot().await, before);
    // The project's default assistant is used when none is named, and a pro project
    // may use the advanced one.
    let (status, answer) = json(app.complete(owner, &json!({"messages": [user("x")]})).await).await;
    assert_eq!(status, 200);
    let stored = app
        .read(owner, answer["conversationId"].as_str().unwrap())
        .await;
    assert_eq!(
        stored["messages"][1]["metadata"]["model"],
        "offline:first=0,gap=0"
    );
    app.put_project(owner, Plan::Pro, None).await;
    let (status, _) = json(
        app.complete(
            owner,
            &json!({"messages": [user("x")], "assistantId": advanced}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn every_validation_rule_is_checked_at_its_boundary_with_nothing_stored() {
    let app = spawn_app().await;
    let caller = new_caller();
    let many = |n: usize| -> Vec<Value> { (0..n).map(|_| user("x")).collect() };
    let cases = [
        (json!({"messages": many(0)}), 422, "messages"),
        (json!({"messages": many(101)}), 422, "messages"),
        (
            json!({"messages": [user(&"a".repeat(10_001))]}),
            422,
            "messages[0].content",
        ),
        (json!({"messages": [user("")]}), 422, "messages[0].content"),
        (
            json!({"messages": [user("a"), {"role": "assistant", "content": "b"}]}),
            422,
            "messages[1].role",
        ),
        (
            json!({"messages": [{"role": "robot", "content": "b"}]}),
            400,
            "messages[0].role",
        ),
        (
            json!({"messages": [user("a")], "assistantId": "not-a-uuid"}),
            400,
            "assistantId",
        ),
        (
            json!({"messages": [user("a")], "conversationId": "123"}),
            400,
            "conversationId",
        ),
        (
            json!({"messages": [user("a")], "stream": "true"}),
            400,
            "stream",
        ),
        (json!({"messages": {"role": "user"}}), 400, "messages"),
        (json!({}), 400, "messages"),
        (json!([]), 400, "body"),
    ];
    let before = app.snapshot().await;
    for (body, status, field) in cases {
        let (got, error) = json(app.complete(caller, &body).await).await;
        assert_eq!(got, status, "{field}: {error}");
        assert_eq!(error["error"]["details"]["field"], field);
        assert_eq!(
            error["error"]["code"],
            if status == 400 {
                "INVALID_REQUEST_BODY"
            } else {
                "VALIDATION_ERROR"
            }
        );
    }
    let raw = app
        .http
        .post(format!("{}/v2/chat/completions", app.base))
        .header("authorization", chat_testkit::bearer(&app.token(caller)))
        .body("{\"messages\": [")
        .send()
        .await
        .unwrap();
    assert_eq!(json(raw).await.1["error"]["details"]["field"], "body");
    assert_eq!(app.snapshot().await, before);
    assert!(
        app.calls.calls().is_empty(),
        "refused before any read: {:?}",
        app.calls.calls()
    );
    // The boundaries that pass: 1 and 100 messages, content of 10,000 characters.
    for body in [
        json!({"messages": many(1)}),
        json!({"messages": many(100)}),
        json!({"messages": [user(&"a".repeat(10_000))]}),
    ] {
        assert_eq!(json(app.complete(caller, &body).await).await.0, 200);
    }
}
