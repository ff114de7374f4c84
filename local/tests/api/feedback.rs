//! `POST /v2/messages/{messageId}/feedback`: set, changed, removed, idempotent; another
//! visitor's, a user message, an unknown id; two round trips; refusals change nothing.

use chat_domain::ids::Caller;
use chat_testkit::{
    TestApp, bearer, json, new_caller, same_project_other_visitor, spawn_app, user,
};
use serde_json::{Value, json};
use uuid::Uuid;

async fn rate(app: &TestApp, caller: Caller, id: &str, body: &str) -> (u16, Value) {
    let response = app
        .http
        .post(format!("{}/v2/messages/{id}/feedback", app.base))
        .header("authorization", bearer(&app.token(caller)))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    json(response).await
}

/// A conversation with a user message and an assistant message: their ids.
async fn answered(app: &TestApp, caller: Caller) -> (String, String, String) {
    let id = app.create_conversation(caller, 2).await.to_string();
    let conversation = app.read(caller, &id).await;
    let ids: Vec<String> = conversation["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    (id, ids[0].clone(), ids[1].clone())
}

#[tokio::test]
async fn feedback_is_set_changed_and_removed_without_moving_the_conversation() {
    let app = spawn_app().await;
    let caller = new_caller();
    let (id, _, answer) = answered(&app, caller).await;
    let before = app.read(caller, &id).await;

    app.calls.clear();
    let (status, body) = rate(&app, caller, &answer, r#"{"feedback":"like"}"#).await;
    assert_eq!((status, body), (200, json!({"feedback": "like"})));
    // The pointer beside the counters, then the update: two round trips.
    assert_eq!(app.calls.round_trips(), 2, "{:?}", app.calls.entries());
    let data = app.calls.data_calls();
    assert_eq!(
        data.last().map(String::as_str),
        Some("UpdateItem"),
        "{data:?}"
    );

    let liked = app.read(caller, &id).await;
    assert_eq!(liked["messages"][1]["feedback"], "like");
    let first_at = liked["messages"][1]["feedbackAt"].clone();
    assert!(first_at.is_string());
    assert_eq!(liked["updatedAt"], before["updatedAt"]);

    // The same again: 200, and nothing moves.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let (status, body) = rate(&app, caller, &answer, r#"{"feedback":"like"}"#).await;
    assert_eq!((status, body), (200, json!({"feedback": "like"})));
    assert_eq!(app.read(caller, &id).await, liked);

    let (status, body) = rate(&app, caller, &answer, r#"{"feedback":"dislike"}"#).await;
    assert_eq!((status, body), (200, json!({"feedback": "dislike"})));
    let disliked = app.read(caller, &id).await;
    assert_eq!(disliked["messages"][1]["feedback"], "dislike");
    assert_ne!(disliked["messages"][1]["feedbackAt"], first_at);

    for _ in 0..2 {
        let (status, body) = rate(&app, caller, &answer, r#"{"feedback":null}"#).await;
        assert_eq!((status, body), (200, json!({"feedback": null})));
        let removed = app.read(caller, &id).await;
        assert_eq!(removed["messages"][1]["feedback"], Value::Null);
        assert_eq!(removed["messages"][1]["feedbackAt"], Value::Null);
        assert_eq!(removed["updatedAt"], before["updatedAt"]);
    }
}

#[tokio::test]
async fn an_answer_just_streamed_can_be_rated_by_the_id_its_stream_named() {
    let app = TestApp::builder().instant_answers().spawn().await;
    let caller = new_caller();
    let response = app
        .complete(
            caller,
            &json!({"messages": [user("Hello")], "stream": false}),
        )
        .await;
    let (status, answer) = json(response).await;
    assert_eq!(status, 200, "{answer}");
    let message = answer["messageId"].as_str().unwrap();
    let (status, body) = rate(&app, caller, message, r#"{"feedback":"dislike"}"#).await;
    assert_eq!((status, body), (200, json!({"feedback": "dislike"})));
    let conversation = app
        .read(caller, answer["conversationId"].as_str().unwrap())
        .await;
    assert_eq!(conversation["messages"][1]["id"], message);
    assert_eq!(conversation["messages"][1]["feedback"], "dislike");
}

#[tokio::test]
async fn refusals_say_why_and_change_nothing() {
    let app = spawn_app().await;
    let caller = new_caller();
    let (_, question, answer) = answered(&app, caller).await;
    let before = app.snapshot().await;

    let other = same_project_other_visitor(caller);
    let (status, error) = rate(&app, other, &answer, r#"{"feedback":"like"}"#).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (403, Some("FORBIDDEN"))
    );
    assert_eq!(
        error["error"]["message"],
        "Access denied to this conversation"
    );

    let (status, error) = rate(&app, caller, &question, r#"{"feedback":"like"}"#).await;
    assert_eq!(status, 422);
    assert_eq!(error["error"]["details"]["field"], "messageId");

    let unknown = Uuid::now_v7().to_string();
    let (status, error) = rate(&app, caller, &unknown, r#"{"feedback":"like"}"#).await;
    assert_eq!(
        (status, error),
        (
            404,
            json!({"error": {"message": "Message not found!", "code": "MESSAGE_NOT_FOUND",
                "details": {"messageId": unknown}}})
        )
    );
    // Another project's message does not exist.
    let (status, _) = rate(&app, new_caller(), &answer, r#"{"feedback":"like"}"#).await;
    assert_eq!(status, 404);

    for (id, body, status, field) in [
        (answer.as_str(), "{}", 400, "feedback"),
        (answer.as_str(), r#"{"feedback":"love"}"#, 400, "feedback"),
        (answer.as_str(), r#"{"feedback":true}"#, 400, "feedback"),
        (answer.as_str(), "not json", 400, "body"),
        ("not-a-uuid", r#"{"feedback":"like"}"#, 400, "messageId"),
    ] {
        app.calls.clear();
        let (got, error) = rate(&app, caller, id, body).await;
        assert_eq!(got, status, "{body}: {error}");
        assert_eq!(error["error"]["details"]["field"], field, "{body}");
        assert!(app.calls.calls().is_empty(), "{body}: read nothing");
    }
    let response = app
        .http
        .post(format!("{}/v2/messages/{answer}/feedback", app.base))
        .body(r#"{"feedback":"like"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(app.snapshot().await, before);
}
