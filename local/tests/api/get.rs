//! `GET /v2/conversations/{id}`: the contract's fields, order, limits and refusals.

use chat_domain::conversation::Conversation;
use chat_domain::message::{Message, MessageRole, MessageStatus};
use chat_domain::timestamp::Timestamp;
use uuid::Uuid;

use chat_testkit::{bearer, json, new_caller, same_project_other_visitor, spawn_app};

const MESSAGE_KEYS: [&str; 15] = [
    "object",
    "id",
    "createdAt",
    "chatId",
    "role",
    "parts",
    "status",
    "error",
    "feedback",
    "feedbackAt",
    "metadata",
    "humanAgent",
    "pageUrl",
    "pageTitle",
    "textSelection",
];

#[tokio::test]
async fn returns_the_conversation_with_its_messages_oldest_first_in_one_round_trip() {
    let app = spawn_app().await;
    let caller = new_caller();
    let id = app.create_conversation(caller, 20).await;
    app.calls.clear();
    let response = app
        .get(&id.to_string(), Some(&bearer(&app.token(caller))))
        .await;
    assert_eq!(response.headers()["content-type"], "application/json");
    assert!(response.headers().contains_key("x-request-id"));
    let (status, body) = json(response).await;
    assert_eq!(status, 200);
    // The read, the project's limit overrides and the two rate-limit counters go
    // together: one round trip.
    let mut calls = app.calls.calls();
    calls.sort();
    assert_eq!(
        calls,
        [
            "GetItem",
            "Query",
            "UpdateItem:counter",
            "UpdateItem:counter"
        ]
    );
    assert_eq!(app.calls.round_trips(), 1, "{:?}", app.calls.entries());
    assert_eq!(body["object"], "conversation");
    assert_eq!(body["id"], id.to_string());
    assert_eq!(body["status"], "open");
    assert_eq!(body["closedAt"], serde_json::Value::Null);
    assert_eq!(body["isHumanHandled"], false);
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "object",
            "id",
            "createdAt",
            "updatedAt",
            "status",
            "closedAt",
            "closeReason",
            "lastInteractionAt",
            "isHumanHandled",
            "humanAgent",
            "title",
            "messages"
        ]
    );
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 20);
    for (n, message) in messages.iter().enumerate() {
        let keys: Vec<&str> = message
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, MESSAGE_KEYS);
        assert_eq!(
            message["parts"],
            serde_json::json!([{"type": "text", "text": format!("message {n}")}])
        );
        assert_eq!(message["chatId"], id.to_string());
        assert_eq!(
            message["role"],
            if n % 2 == 0 { "user" } else { "assistant" }
        );
    }
    assert_eq!(body["lastInteractionAt"], messages[19]["createdAt"]);
    let created = body["createdAt"].as_str().unwrap();
    assert_eq!(created.len(), "2024-01-15T10:30:00.000Z".len());
    assert!(created.ends_with('Z'));
}

#[tokio::test]
async fn returns_the_newest_thousand_messages_when_there_are_more() {
    let app = spawn_app().await;
    let caller = new_caller();
    let id = Uuid::now_v7();
    let start = Timestamp::now().unix_millis() - 3_600_000;
    let mut conversation =
        Conversation::new(id, caller.visitor, Timestamp::from_unix_millis(start));
    let mut messages = Vec::new();
    for n in 0..1_005 {
        let at = Timestamp::from_unix_millis(start + n);
        messages.push(Message::text(
            Uuid::now_v7(),
            id,
            MessageRole::User,
            &format!("m{n}"),
            MessageStatus::Complete,
            at,
        ));
        conversation.last_interaction_at = at;
    }
    app.store
        .import_conversation(caller.project, &conversation, &messages)
        .await
        .unwrap();
    app.calls.clear();
    let (status, body) = json(
        app.get(&id.to_string(), Some(&bearer(&app.token(caller))))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1_000);
    assert_eq!(messages[0]["parts"][0]["text"], "m5");
    assert_eq!(messages[999]["parts"][0]["text"], "m1004");
    // Past the limit the conversation item is not reached by the query: one more read.
    let data = app.calls.data_calls();
    assert_eq!(data.iter().filter(|c| *c == "Query").count(), 1);
    assert_eq!(
        data.iter().filter(|c| *c == "GetItem").count(),
        2,
        "{data:?}"
    );
    assert_eq!(app.calls.round_trips(), 2);
}

#[tokio::test]
async fn a_conversation_with_no_messages_has_an_empty_list() {
    let app = spawn_app().await;
    let caller = new_caller();
    let id = app.create_conversation(caller, 0).await;
    let (status, body) = json(
        app.get(&id.to_string(), Some(&bearer(&app.token(caller))))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["messages"], serde_json::json!([]));
}

#[tokio::test]
async fn refusals_name_the_contract_error() {
    let app = spawn_app().await;
    let owner = new_caller();
    let id = app.create_conversation(owner, 3).await;
    let missing = Uuid::now_v7();
    let other_visitor = same_project_other_visitor(owner);
    let other_project = chat_domain::ids::Caller {
        project: new_caller().project,
        visitor: owner.visitor,
    };

    let (status, body) = json(
        app.get("not-a-uuid", Some(&bearer(&app.token(owner))))
            .await,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "INVALID_REQUEST_BODY");
    assert_eq!(
        body["error"]["details"],
        serde_json::json!({"field": "conversationId"})
    );
    assert!(app.calls.calls().is_empty(), "a bad id reads nothing");

    let (status, body) = json(
        app.get(&missing.to_string(), Some(&bearer(&app.token(owner))))
            .await,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        serde_json::json!({"error": {"message": "Conversation not found!", "code": "CONVERSATION_NOT_FOUND",
            "details": {"conversationId": missing.to_string()}}})
    );

    let (status, body) = json(
        app.get(&id.to_string(), Some(&bearer(&app.token(other_visitor))))
            .await,
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        body,
        serde_json::json!({"error": {"message": "Access denied to this conversation", "code": "FORBIDDEN"}})
    );

    let (status, body) = json(
        app.get(&id.to_string(), Some(&bearer(&app.token(other_project))))
            .await,
    )
    .await;
    assert_eq!(
        status, 404,
        "another project's conversation does not exist for the caller"
    );
    assert_eq!(body["error"]["details"]["conversationId"], id.to_string());
}

#[tokio::test]
async fn a_sane_caller_request_id_is_echoed() {
    let app = spawn_app().await;
    let response = app
        .http
        .get(format!("{}/v2/conversations/{}", app.base, Uuid::now_v7()))
        .header("x-request-id", "trace-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["x-request-id"], "trace-abc-123");
}
