//! `GET /v2/conversations/{id}/messages`, and generations that died: shown as `error` by
//! get and the message list alike, and repaired in the store when next touched.

use chat_domain::conversation::Conversation;
use chat_domain::ids::Caller;
use chat_domain::message::{Message, MessageRole, MessageStatus, RawJson};
use chat_domain::timestamp::Timestamp;
use chat_storage::items::message::STATUS;
use chat_testkit::{TestApp, bearer, json, new_caller, same_project_other_visitor, spawn_app};
use serde_json::Value;
use uuid::Uuid;

async fn messages(app: &TestApp, caller: Caller, id: &str, query: &str) -> (u16, Value) {
    let response = app
        .http
        .get(format!(
            "{}/v2/conversations/{id}/messages?{query}",
            app.base
        ))
        .header("authorization", bearer(&app.token(caller)))
        .send()
        .await
        .unwrap();
    json(response).await
}

fn texts(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m["parts"][0]["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn messages_come_oldest_first_paged_and_filtered_in_one_query() {
    let app = spawn_app().await;
    let caller = new_caller();
    let id = app.create_conversation(caller, 30).await.to_string();
    app.calls.clear();
    let (status, body) = messages(&app, caller, &id, "").await;
    assert_eq!(status, 200);
    assert_eq!(
        body.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["object", "data"]
    );
    assert_eq!(body["object"], "list");
    let all = texts(&body);
    assert_eq!(all.len(), 30);
    assert_eq!(all[0], "message 0");
    assert_eq!(all[29], "message 29");
    // One Query beside the counters (and the project's limit overrides, read once a minute).
    let data = app.calls.data_calls();
    assert_eq!(data.iter().filter(|c| *c == "Query").count(), 1, "{data:?}");
    assert!(
        data.iter().all(|c| c == "Query" || c == "GetItem"),
        "{data:?}"
    );
    assert_eq!(app.calls.round_trips(), 1, "{:?}", app.calls.entries());

    let (_, page) = messages(&app, caller, &id, "limit=5&offset=10").await;
    assert_eq!(
        texts(&page),
        (10..15).map(|n| format!("message {n}")).collect::<Vec<_>>()
    );
    let (_, users) = messages(&app, caller, &id, "role=user&limit=3&offset=1").await;
    assert_eq!(texts(&users), ["message 2", "message 4", "message 6"]);
    assert!(
        users["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["role"] == "user")
    );
    let (_, streaming) = messages(&app, caller, &id, "status=streaming").await;
    assert_eq!(streaming["data"], serde_json::json!([]));
    let (_, past) = messages(&app, caller, &id, "offset=30").await;
    assert_eq!(past["data"], serde_json::json!([]));
}

#[tokio::test]
async fn refusals_name_their_cause_and_change_nothing() {
    let app = spawn_app().await;
    let caller = new_caller();
    let id = app.create_conversation(caller, 2).await.to_string();
    let before = app.snapshot().await;
    let other = same_project_other_visitor(caller);
    let (status, error) = messages(&app, other, &id, "").await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (403, Some("FORBIDDEN"))
    );
    let unknown = Uuid::now_v7().to_string();
    let (status, error) = messages(&app, caller, &unknown, "").await;
    assert_eq!(status, 404);
    assert_eq!(error["error"]["details"]["conversationId"], unknown);
    // Another project's conversation does not exist.
    let (status, _) = messages(&app, new_caller(), &id, "").await;
    assert_eq!(status, 404);
    for (query, status, field) in [
        ("limit=0", 422, "limit"),
        ("limit=1001", 422, "limit"),
        ("limit=ten", 400, "limit"),
        ("offset=-2", 422, "offset"),
        ("role=system", 400, "role"),
        ("status=done", 400, "status"),
    ] {
        let (got, error) = messages(&app, caller, &id, query).await;
        assert_eq!(got, status, "{query}: {error}");
        assert_eq!(error["error"]["details"]["field"], field);
    }
    let (status, error) = messages(&app, caller, "nope", "").await;
    assert_eq!(
        (status, error["error"]["details"]["field"].as_str()),
        (400, Some("conversationId"))
    );
    assert_eq!(app.snapshot().await, before);
}

/// A conversation whose last answer was left `streaming` `age_secs` ago by a generation
/// that died; its id and the answer's.
async fn killed_mid_stream(app: &TestApp, caller: Caller, age_secs: i64) -> (Uuid, Uuid) {
    let id = Uuid::now_v7();
    let at = Timestamp::from_unix_millis(Timestamp::now().unix_millis() - age_secs * 1_000);
    let conversation = Conversation::new(id, caller.visitor, at);
    let question = Message::text(
        Uuid::now_v7(),
        id,
        MessageRole::User,
        "Hi",
        MessageStatus::Complete,
        at,
    );
    let mut answer = Message::text(
        Uuid::now_v7(),
        id,
        MessageRole::Assistant,
        "",
        MessageStatus::Streaming,
        at,
    );
    answer.parts = RawJson::empty_list();
    app.store
        .import_conversation(caller.project, &conversation, &[question, answer.clone()])
        .await
        .unwrap();
    (id, answer.id)
}

async fn stored_status(app: &TestApp, answer: Uuid) -> String {
    let items = app.snapshot().await;
    let item = items
        .iter()
        .find(|item| {
            item.values()
                .any(|v| v.as_s().is_ok_and(|s| s == &answer.to_string()))
        })
        .expect("the answer's item");
    item[STATUS].as_s().unwrap().clone()
}

#[tokio::test]
async fn a_generation_killed_mid_stream_reads_as_interrupted_and_is_repaired() {
    let app = TestApp::builder()
        .env("MAX_GENERATION_SECS", "30")
        .env("INTERRUPTED_MARGIN_SECS", "30")
        .spawn()
        .await;
    let caller = new_caller();
    // Younger than the cap and margin: still generating, as far as anyone can tell.
    let (young, young_answer) = killed_mid_stream(&app, caller, 10).await;
    let (_, body) = messages(&app, caller, &young.to_string(), "").await;
    assert_eq!(body["data"][1]["status"], "streaming");
    assert_eq!(stored_status(&app, young_answer).await, "streaming");

    let (old, answer) = killed_mid_stream(&app, caller, 120).await;
    let (_, body) = messages(&app, caller, &old.to_string(), "status=error").await;
    let shown = &body["data"][0];
    assert_eq!(shown["id"], answer.to_string());
    assert_eq!(shown["status"], "error");
    assert_eq!(shown["error"], "The answer was interrupted.");
    assert_eq!(stored_status(&app, answer).await, "error");
    let (_, body) = messages(&app, caller, &old.to_string(), "status=streaming").await;
    assert_eq!(body["data"], serde_json::json!([]));

    // Get shows and repairs it the same way.
    let (other, other_answer) = killed_mid_stream(&app, caller, 120).await;
    let conversation = app.read(caller, &other.to_string()).await;
    assert_eq!(conversation["messages"][1]["status"], "error");
    assert_eq!(
        conversation["messages"][1]["error"],
        "The answer was interrupted."
    );
    assert_eq!(stored_status(&app, other_answer).await, "error");

    // And the list's lastMessage.
    let (_, listed, listed_answer) = {
        let (id, answer) = killed_mid_stream(&app, caller, 120).await;
        let response = app
            .http
            .get(format!("{}/v2/conversations?limit=100", app.base))
            .header("authorization", bearer(&app.token(caller)))
            .send()
            .await
            .unwrap();
        let (_, page) = json(response).await;
        (id, page, answer)
    };
    let last = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["lastMessage"]["id"] == listed_answer.to_string())
        .unwrap();
    assert_eq!(last["lastMessage"]["status"], "error");
    assert_eq!(stored_status(&app, listed_answer).await, "error");
}
