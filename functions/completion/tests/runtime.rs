//! The real `chat-completion` binary under a Lambda Runtime API: what Lambda receives
//! is a streaming response whose prelude carries the status and headers, for a stream
//! and for an early JSON error alike, and the body is never empty.

use std::process::Stdio;

use chat_testkit::runtime_api::RuntimeApi;
use chat_testkit::{DEV_SIGNING_KEYS, demo_engine};

fn event(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../../events/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[tokio::test]
async fn the_streaming_runtime_carries_status_headers_and_body_for_streams_and_errors() {
    let (engine, _store) = demo_engine("chat-runtime-test").await;

    let runtime = RuntimeApi::start().await.unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_chat-completion"))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", runtime.address())
        .env("AWS_LAMBDA_FUNCTION_NAME", "chat-completion")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("TABLE_NAME", "chat-runtime-test")
        .env("SESSION_SIGNING_KEYS", DEV_SIGNING_KEYS)
        .env("DYNAMODB_ENDPOINT", engine.endpoint())
        .env("OFFLINE_FIRST_TOKEN_MS", "5")
        .env("OFFLINE_TOKEN_GAP_MS", "1")
        .env("LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();

    runtime.invoke("stream-1", &event("chat-completion-stream.json"));
    let invocation = runtime.response("stream-1").await;
    assert!(invocation.streaming && !invocation.error);
    let (prelude, body) = invocation.split_prelude().expect("a prelude");
    assert_eq!(prelude["statusCode"], 200);
    let headers = &prelude["headers"];
    assert_eq!(headers["content-type"], "text/event-stream");
    assert_eq!(headers["x-vercel-ai-ui-message-stream"], "v1");
    assert_eq!(headers["x-request-id"], "stream-1", "the Lambda request id");
    assert_eq!(
        headers["x-conversation-id"],
        "0192f0a0-0000-7000-8000-00000000d003"
    );
    let body = std::str::from_utf8(body).unwrap();
    assert!(body.starts_with("data: {\"type\":\"start\""), "{body}");
    assert!(body.ends_with("data: [DONE]\n\n"), "{body}");
    assert!(
        invocation.frames.len() > 5,
        "streamed in many frames, not buffered"
    );

    runtime.invoke(
        "error-1",
        &event("chat-completion-advanced-on-free-plan.json"),
    );
    let invocation = runtime.response("error-1").await;
    assert!(invocation.streaming);
    let (prelude, body) = invocation.split_prelude().expect("a prelude");
    assert_eq!(prelude["statusCode"], 402);
    assert_eq!(prelude["headers"]["content-type"], "application/json");
    let error: serde_json::Value =
        serde_json::from_slice(body).expect("a JSON body, not an empty one");
    assert_eq!(error["error"]["code"], "PAYMENT_REQUIRED");

    runtime.invoke("json-1", &event("chat-completion.json"));
    let invocation = runtime.response("json-1").await;
    let (prelude, body) = invocation.split_prelude().expect("a prelude");
    assert_eq!(prelude["statusCode"], 200);
    let answer: serde_json::Value = serde_json::from_slice(body).unwrap();
    assert!(
        answer["steps"][0]["content"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("This is the offline")
    );
    child.kill().await.unwrap();
}
