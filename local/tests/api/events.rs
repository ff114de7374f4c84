//! Every sample event in `events/` runs through the real handler in-process, as the
//! Lambda runtime would hand it over, against the seeded demo data, in file-name order
//! (the agent events hand the demo conversation off, write into it, then give it back,
//! before any completion is sent into it).

use std::collections::BTreeMap;
use std::path::PathBuf;

use chat_edge::Handler;
use chat_local::seed::seed_demo;
use chat_testkit::TestApp;

/// The status each sample event must produce. A new file needs a line here.
pub const EXPECTED: &[(&str, u16)] = &[
    ("chat-completion.json", 200),
    ("chat-completion-stream.json", 200),
    ("chat-completion-new-conversation.json", 200),
    ("chat-completion-no-token.json", 401),
    ("chat-completion-advanced-on-free-plan.json", 402),
    ("chat-completion-unknown-assistant.json", 422),
    ("chat-completion-last-message-not-user.json", 422),
    ("chat-completion-other-visitor.json", 403),
    ("chat-completion-send-message.json", 200),
    ("chat-completion-send-message-stream.json", 200),
    ("chat-completion-send-message-not-found.json", 404),
    ("chat-completion-send-message-empty-content.json", 422),
    ("chat-completion-send-message-other-visitor.json", 403),
    ("conversations-list.json", 200),
    ("conversations-list-limit-out-of-range.json", 422),
    ("conversations-list-unknown-order.json", 400),
    ("conversations-list-no-token.json", 401),
    ("conversations-list-project-scope.json", 200),
    ("conversations-list-project-scope-session-token.json", 403),
    ("conversations-start.json", 201),
    ("conversations-start-page-url-too-long.json", 422),
    ("conversations-messages.json", 200),
    ("conversations-messages-not-found.json", 404),
    ("conversations-messages-other-visitor.json", 403),
    ("feedback-like.json", 200),
    ("feedback-unknown-message.json", 404),
    ("feedback-missing-key.json", 400),
    ("feedback-no-token.json", 401),
    ("get-conversation.json", 200),
    ("get-conversation-not-found.json", 404),
    ("get-conversation-bad-id.json", 400),
    ("get-conversation-no-token.json", 401),
    ("get-conversation-other-visitor.json", 403),
    ("close-conversation-with-reason.json", 200),
    ("close-conversation-no-body.json", 200),
    ("close-conversation-reason-too-long.json", 422),
    ("close-conversation-malformed-body.json", 400),
    ("close-conversation-expired-token.json", 401),
    ("close-conversation-not-found.json", 404),
    ("chat-projects-current.json", 200),
    ("chat-projects-current-no-key.json", 400),
    ("chat-projects-current-unknown-key.json", 401),
    ("chat-identity-init.json", 201),
    ("chat-identity-init-device-id-too-long.json", 422),
    ("chat-identity-init-no-key.json", 400),
    ("chat-identity-init-unknown-key.json", 401),
    ("chat-identity-me.json", 200),
    ("chat-identity-me-no-token.json", 401),
    ("chat-agents-handoff.json", 200),
    ("chat-agents-handoff-name-too-long.json", 422),
    ("chat-agents-handoff-no-token.json", 401),
    ("chat-agents-handoff-not-found.json", 404),
    ("chat-agents-handoff-session-token.json", 403),
    ("chat-agents-message.json", 201),
    ("chat-agents-release.json", 200),
    ("chat-agents-unhanded-message.json", 409),
    ("live-connect.json", 200),
    ("live-connect-unknown-conversation.json", 404),
    ("live-connect-other-project-key.json", 404),
    ("live-connect-bad-origin.json", 403),
    ("live-disconnect.json", 200),
    ("live-default-ping.json", 200),
    // The push function's stream batches: 200 is "no record to be told again".
    ("push-handoff-and-agent-message.json", 200),
    ("push-message-stored.json", 200),
    // The knowledge function's routes: reads and refusals (none needs the queue).
    ("knowledge-search.json", 200),
    ("knowledge-search-size-out-of-range.json", 422),
    ("knowledge-search-no-credential.json", 400),
    ("knowledge-sources-list.json", 200),
    ("knowledge-sources-list-session-token.json", 403),
    ("knowledge-source-not-found.json", 404),
    ("knowledge-source-pages-not-found.json", 404),
    ("knowledge-qnas-list.json", 200),
    ("knowledge-qna-other-project.json", 404),
    ("knowledge-source-create-invalid.json", 400),
    ("knowledge-source-update-not-found.json", 404),
    ("knowledge-source-delete-not-found.json", 404),
    ("knowledge-source-sync-not-found.json", 404),
    ("knowledge-qna-create-invalid.json", 400),
    ("knowledge-qna-not-found.json", 404),
    ("knowledge-qna-update-not-found.json", 404),
    ("knowledge-qna-delete-not-found.json", 404),
    // The crawl worker's queue batch and schedule tick: 200 is "no job to be given again".
    ("crawl-worker-batch.json", 200),
    ("crawl-worker-tick.json", 200),
];

/// The keys the `live-connect-*` events use besides the demo key (which allows any origin):
/// one of the demo project allowing only `https://shop.example`, and one of another project.
/// `scripts/local-invoke.sh` skips the events that name them (the demo seed has neither).
pub const SAMPLE_KEYS: [(&str, &str, &[&str]); 2] = [
    (
        "pk_0192f0a000007000800000000000d001_5a0b5a0b5a0b5a0b5a0b5a0b5a0b5a0b",
        "0192f0a0-0000-7000-8000-00000000d001",
        &["https://shop.example"],
    ),
    (
        "pk_0192f0a000007000800000000000e001_0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e",
        "0192f0a0-0000-7000-8000-00000000e001",
        &[],
    ),
];

async fn store_sample_keys(app: &TestApp) {
    for (key, project, origins) in SAMPLE_KEYS {
        let record = chat_domain::api_key::KeyRecord {
            kind: chat_domain::api_key::KeyKind::Publishable,
            project: chat_domain::ids::ProjectId(uuid::Uuid::parse_str(project).unwrap()),
            assistant: None,
            allowed_origins: origins.iter().map(|o| (*o).to_owned()).collect(),
            label: Some("sample events".into()),
            revoked: false,
            created_at: chat_domain::timestamp::Timestamp::now(),
            display: key.to_owned(),
        };
        app.store.create_key(key, &record).await.unwrap();
    }
}

/// A WebSocket API event (`live-*`) through the live function: its status, headers, body.
async fn replay_socket_event(
    app: &TestApp,
    name: &str,
    text: &str,
) -> (http::StatusCode, http::HeaderMap, Vec<u8>) {
    let event: lambda_http::aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest =
        serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("events/{name} is not a WebSocket API event: {e}"));
    let response = app.app.live.handle(event).await;
    let body = match response.body {
        Some(lambda_http::Body::Text(text)) => text.into_bytes(),
        Some(other) => other.as_ref().to_vec(),
        None => Vec::new(),
    };
    let status = http::StatusCode::from_u16(response.status_code as u16).unwrap();
    if name == "live-default-ping.json" {
        assert_eq!(body, b"pong", "events/{name}: ping gets pong");
    }
    // live-connect records the connection that live-disconnect (after it in name order)
    // forgets.
    let recorded = chat_storage::ports::ConnectionStore::connections(
        &app.store,
        chat_local::seed::demo_caller().project,
        chat_local::seed::DEMO_CONVERSATION,
        chat_domain::timestamp::Timestamp::now().unix_seconds(),
    )
    .await
    .unwrap();
    let open = match name {
        "live-connect.json" | "live-default-ping.json" => vec!["TWegAcC4EowCHnA=".to_owned()],
        _ => Vec::new(),
    };
    assert_eq!(
        recorded, open,
        "events/{name}: the sockets recorded after it"
    );
    (status, response.headers, body)
}

/// A DynamoDB stream batch (`push-*`) through the push function: 200 when no record is to
/// be told again. A connection of the demo conversation that this server does not hold is
/// recorded first: the push reaching it finds it gone and forgets it, which shows that the
/// batch was pushed to the demo conversation.
async fn replay_stream_event(app: &TestApp, name: &str, text: &str) -> u16 {
    let event: aws_lambda_events::event::dynamodb::Event = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("events/{name} is not a DynamoDB stream event: {e}"));
    let project = chat_local::seed::demo_caller().project;
    let conversation = chat_local::seed::DEMO_CONVERSATION;
    let now = chat_domain::timestamp::Timestamp::now().unix_seconds();
    let connections = |app: &TestApp| {
        let store = app.store.clone();
        async move {
            chat_storage::ports::ConnectionStore::connections(&store, project, conversation, now)
                .await
                .unwrap()
        }
    };
    chat_storage::ports::ConnectionStore::open_connection(
        &app.store,
        project,
        conversation,
        "closed-elsewhere",
        now + 60,
    )
    .await
    .unwrap();
    let response = app.app.push.handle(event).await;
    assert!(
        connections(app).await.is_empty(),
        "events/{name}: pushed to the demo conversation"
    );
    if response.batch_item_failures.is_empty() {
        200
    } else {
        500
    }
}

/// A queue batch or a schedule tick (`crawl-worker-*`) through the crawl worker, with the
/// app's store, blobs and crawler: 200 when the batch names no failed job, or the tick
/// answered its counts.
async fn replay_worker_event(app: &TestApp, name: &str, text: &str) -> u16 {
    let worker = crawl_worker::CrawlWorker {
        worker: app.app.worker.as_ref().clone(),
        queue: app.app.jobs.clone(),
    };
    let event: serde_json::Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("events/{name} is not JSON: {e}"));
    if event.get("Records").is_some() {
        let batch: aws_lambda_events::event::sqs::SqsEvent = serde_json::from_value(event)
            .unwrap_or_else(|e| panic!("events/{name} is not an SQS event: {e}"));
        let response = worker.batch(batch).await;
        return if response.batch_item_failures.is_empty() {
            200
        } else {
            500
        };
    }
    match worker.tick(chat_domain::timestamp::Timestamp::now()).await {
        Ok(_) => 200,
        Err(_) => 500,
    }
}

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events")
}

#[tokio::test]
async fn every_sample_event_gets_its_expected_status_from_the_real_handler() {
    // Instant answers, so the streaming events finish at once.
    let app = TestApp::builder().instant_answers().spawn().await;
    seed_demo(&app.store).await.unwrap();
    store_sample_keys(&app).await;
    let expected: BTreeMap<&str, u16> = EXPECTED.iter().copied().collect();
    let mut files: Vec<String> = std::fs::read_dir(events_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".json"))
        .collect();
    files.sort();
    let mut ran = 0;
    for name in files {
        let want = *expected
            .get(name.as_str())
            .unwrap_or_else(|| panic!("events/{name} has no expected status in this test"));
        let text = std::fs::read_to_string(events_dir().join(&name)).unwrap();
        if name.starts_with("push-") {
            assert_eq!(
                replay_stream_event(&app, &name, &text).await,
                want,
                "events/{name}"
            );
            ran += 1;
            continue;
        }
        if name.starts_with("crawl-worker-") {
            assert_eq!(
                replay_worker_event(&app, &name, &text).await,
                want,
                "events/{name}"
            );
            ran += 1;
            continue;
        }
        let request = || {
            lambda_http::request::from_str(&text)
                .unwrap_or_else(|e| panic!("events/{name} is not an API Gateway event: {e}"))
        };
        let (status, headers, body) = if name.starts_with("get-") {
            let (parts, body) = app.app.get.handle(request()).await.into_parts();
            (parts.status, parts.headers, body.as_ref().to_vec())
        } else if name.starts_with("close-") {
            let (parts, body) = app.app.close.handle(request()).await.into_parts();
            (parts.status, parts.headers, body.as_ref().to_vec())
        } else if name.starts_with("chat-projects-") {
            let (parts, body) = app.app.projects.handle(request()).await.into_parts();
            (parts.status, parts.headers, body.as_ref().to_vec())
        } else if name.starts_with("chat-identity-") {
            let (parts, body) = app.app.identity.handle(request()).await.into_parts();
            (parts.status, parts.headers, body.as_ref().to_vec())
        } else if name.starts_with("conversations-") {
            let (parts, body) = app.app.conversations.handle(request()).await.into_parts();
            (parts.status, parts.headers, body.as_ref().to_vec())
        } else if name.starts_with("chat-agents-") {
            let (parts, body) = app.app.agents.handle(request()).await.into_parts();
            (parts.status, parts.headers, body.as_ref().to_vec())
        } else if name.starts_with("knowledge-") {
            let (parts, body) = app.app.knowledge.handle(request()).await.into_parts();
            (parts.status, parts.headers, body.as_ref().to_vec())
        } else if name.starts_with("feedback-") {
            let (parts, body) = app.app.feedback.handle(request()).await.into_parts();
            (parts.status, parts.headers, body.as_ref().to_vec())
        } else if name.starts_with("live-") {
            replay_socket_event(&app, &name, &text).await
        } else if name.starts_with("chat-completion") {
            let (parts, body) = app.app.completions.handle(request()).await.into_parts();
            let body = http_body_util::BodyExt::collect(body)
                .await
                .unwrap()
                .to_bytes();
            (parts.status, parts.headers, body.to_vec())
        } else {
            panic!("events/{name}: no handler for this file name");
        };
        assert_eq!(
            status.as_u16(),
            want,
            "events/{name}: {}",
            String::from_utf8_lossy(&body)
        );
        if want >= 400 {
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert!(body["error"]["code"].is_string(), "events/{name}");
        } else if headers
            .get("content-type")
            .is_some_and(|t| t == "text/event-stream")
        {
            assert!(body.ends_with(b"data: [DONE]\n\n"), "events/{name}");
        }
        // The Lambda's request id comes from API Gateway's context when run outside Lambda.
        assert!(
            headers["x-request-id"]
                .to_str()
                .unwrap()
                .starts_with("c6af9ac6-"),
            "events/{name}"
        );
        ran += 1;
    }
    assert_eq!(ran, EXPECTED.len(), "every expected event file exists");
}
