//! Every sample event in `events/` runs through the real handler in-process, as the
//! Lambda runtime would hand it over, against the seeded demo data.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chat_local::seed::seed_demo;

use crate::helpers::spawn_app;

/// The status each sample event must produce. A new file needs a line here.
const EXPECTED: &[(&str, u16)] = &[
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
];

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events")
}

#[tokio::test]
async fn every_sample_event_gets_its_expected_status_from_the_real_handler() {
    let app = spawn_app().await;
    seed_demo(&app.dynamo, &app.table).await.unwrap();
    let expected: BTreeMap<&str, u16> = EXPECTED.iter().copied().collect();
    let mut files: Vec<String> = std::fs::read_dir(events_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".json"))
        .collect();
    files.sort();
    let mut ran = 0;
    for name in files {
        if !(name.starts_with("get-conversation") || name.starts_with("close-conversation")) {
            continue;
        }
        let want = *expected
            .get(name.as_str())
            .unwrap_or_else(|| panic!("events/{name} has no expected status in this test"));
        let text = std::fs::read_to_string(events_dir().join(&name)).unwrap();
        let request = lambda_http::request::from_str(&text)
            .unwrap_or_else(|e| panic!("events/{name} is not an API Gateway event: {e}"));
        let response = if name.starts_with("get-") {
            get_conversation::handle(&app.app.store, &app.app.auth, &app.app.config.cors, request)
                .await
        } else {
            close_conversation::handle(&app.app.store, &app.app.auth, &app.app.config.cors, request)
                .await
        };
        assert_eq!(
            response.status().as_u16(),
            want,
            "events/{name}: {:?}",
            response.body()
        );
        let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        if want != 200 {
            assert!(body["error"]["code"].is_string(), "events/{name}");
        }
        // The Lambda's request id comes from API Gateway's context when run outside Lambda.
        assert!(
            response.headers()["x-request-id"]
                .to_str()
                .unwrap()
                .starts_with("c6af9ac6-")
        );
        ran += 1;
    }
    assert_eq!(ran, EXPECTED.len(), "every expected event file exists");
}
