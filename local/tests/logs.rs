//! Visitors' text (prompts, answers, close reasons) and session tokens never reach the
//! logs, even with `LOG_LEVEL=trace`: dependencies that log bodies are capped by
//! `telemetry::body_logging_cap`. A binary of its own, with one test, because it installs
//! the global subscriber (a thread-local one races with tests on other threads over
//! tracing's interest cache and loses lines).

use std::io::Write;
use std::sync::{Arc, Mutex};

use chat_edge::telemetry::{body_logging_cap, level_filter};
use serde_json::json;
use tracing_subscriber::prelude::*;

use chat_testkit::{TestApp, bearer, new_caller};

/// A `MakeWriter` appending every log line to a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn prompts_answers_reasons_and_tokens_are_not_logged_even_at_trace() {
    // The subscriber the functions install (telemetry::init), with LOG_LEVEL=trace; the
    // embedded engine is test scaffolding, not a deployed component, so it is left out.
    let captured = Captured::default();
    let subscriber = tracing_subscriber::registry()
        .with(level_filter("trace,dynoxide=off"))
        .with(body_logging_cap())
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(captured.clone()),
        );
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");

    let app = TestApp::builder().instant_answers().spawn().await;
    let caller = new_caller();
    let token = app.token(caller);
    let prompt = "PROMPT-MARKER-4f1c my card number";
    let reason = "REASON-MARKER-9d2e";
    for stream in [false, true] {
        let response = app
            .complete(
                caller,
                &json!({ "messages": [{"role": "user", "content": prompt}], "stream": stream }),
            )
            .await;
        assert_eq!(response.status(), 200);
        let _ = response.text().await.unwrap();
    }
    let id = app.create_conversation(caller, 2).await.to_string();
    let closed = app
        .close(
            &id,
            Some(&bearer(&token)),
            Some(&json!({ "closeReason": reason }).to_string()),
        )
        .await;
    assert_eq!(closed.status(), 200);
    let read = app.get(&id, Some(&bearer(&token))).await;
    assert_eq!(read.status(), 200);
    let _ = read.text().await;
    // A refused body is not logged either.
    let refused = app
        .complete(
            caller,
            &json!({ "messages": [{"role": "assistant", "content": prompt}] }),
        )
        .await;
    assert_eq!(refused.status(), 422);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("request done"), "the capture works: {logs}");
    for secret in ["PROMPT-MARKER-4f1c", reason, token.as_str()] {
        assert!(!logs.contains(secret), "{secret:?} appears in the logs");
    }
}
