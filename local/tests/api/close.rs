//! `POST /v2/conversations/{id}/close`: the effect, idempotency, concurrency, refusals.

use futures_util::future::join_all;
use serde_json::{Value, json};

use chat_testkit::{TestApp, bearer, json, new_caller, same_project_other_visitor, spawn_app};

async fn stored(app: &TestApp, caller: chat_domain::ids::Caller, id: &str) -> Value {
    let (status, body) = json(app.get(id, Some(&bearer(&app.token(caller)))).await).await;
    assert_eq!(status, 200);
    body
}

#[tokio::test]
async fn close_with_a_reason_closes_with_one_update_after_the_counters() {
    let app = spawn_app().await;
    let caller = new_caller();
    let id = app.create_conversation(caller, 2).await.to_string();
    let before = stored(&app, caller, &id).await;
    app.calls.clear();
    let response = app
        .close(
            &id,
            Some(&bearer(&app.token(caller))),
            Some(r#"{"closeReason": "  Resolved by the FAQ  "}"#),
        )
        .await;
    assert!(response.headers().contains_key("x-request-id"));
    let (status, body) = json(response).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"success": true, "message": "Conversation closed successfully."})
    );
    // The counters (with the project's overrides, cached after this) go first, so a
    // close refused with 429 changes nothing; then the close itself.
    // (The get above cached the project's limit overrides, so they are not read again.)
    assert_eq!(
        app.calls.calls(),
        ["UpdateItem:counter", "UpdateItem:counter", "UpdateItem"]
    );
    assert_eq!(
        app.calls.data_calls().last().map(String::as_str),
        Some("UpdateItem")
    );
    assert_eq!(app.calls.round_trips(), 2);
    let after = stored(&app, caller, &id).await;
    assert_eq!(after["status"], "closed");
    assert_eq!(after["closeReason"], "Resolved by the FAQ");
    assert_eq!(after["closedAt"], after["updatedAt"]);
    assert!(after["updatedAt"].as_str() > before["updatedAt"].as_str());
    assert_eq!(after["messages"], before["messages"], "messages untouched");
    assert_eq!(after["lastInteractionAt"], before["lastInteractionAt"]);
}

#[tokio::test]
async fn no_body_empty_body_and_empty_object_close_without_a_reason() {
    let app = spawn_app().await;
    let caller = new_caller();
    for body in [
        None,
        Some(""),
        Some("{}"),
        Some(r#"{"closeReason": null}"#),
        Some(r#"{"closeReason": "   "}"#),
    ] {
        let id = app.create_conversation(caller, 0).await.to_string();
        let (status, response) = json(
            app.close(&id, Some(&bearer(&app.token(caller))), body)
                .await,
        )
        .await;
        assert_eq!(status, 200, "{body:?}");
        assert_eq!(response["message"], "Conversation closed successfully.");
        let after = stored(&app, caller, &id).await;
        assert_eq!(after["status"], "closed");
        assert_eq!(after["closeReason"], Value::Null, "{body:?}");
    }
}

#[tokio::test]
async fn closing_again_is_200_and_keeps_the_first_close() {
    let app = spawn_app().await;
    let caller = new_caller();
    let id = app.create_conversation(caller, 1).await.to_string();
    let auth = bearer(&app.token(caller));
    json(
        app.close(&id, Some(&auth), Some(r#"{"closeReason": "first"}"#))
            .await,
    )
    .await;
    let first = stored(&app, caller, &id).await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let (status, body) = json(
        app.close(&id, Some(&auth), Some(r#"{"closeReason": "second"}"#))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"success": true, "message": "Conversation was already closed."})
    );
    let second = stored(&app, caller, &id).await;
    assert_eq!(
        second, first,
        "nothing changed, closedAt and reason included"
    );
    assert_eq!(second["closeReason"], "first");
}

#[tokio::test]
async fn twenty_concurrent_closes_all_succeed_and_exactly_one_closes() {
    let app = spawn_app().await;
    let caller = new_caller();
    let id = app.create_conversation(caller, 1).await.to_string();
    let auth = bearer(&app.token(caller));
    let responses = join_all((0..20).map(|n| {
        let body = format!(r#"{{"closeReason": "closer {n}"}}"#);
        let (app, id, auth) = (&app, &id, &auth);
        async move { json(app.close(id, Some(auth), Some(&body)).await).await }
    }))
    .await;
    assert!(
        responses
            .iter()
            .all(|(status, body)| *status == 200 && body["success"] == true)
    );
    let winners: Vec<&Value> = responses
        .iter()
        .map(|(_, body)| body)
        .filter(|body| body["message"] == "Conversation closed successfully.")
        .collect();
    assert_eq!(winners.len(), 1, "{responses:?}");
    let updates = app
        .calls
        .calls()
        .iter()
        .filter(|c| *c == "UpdateItem")
        .count();
    assert_eq!(updates, 20);
    let after = stored(&app, caller, &id).await;
    assert_eq!(after["status"], "closed");
    assert!(
        after["closeReason"]
            .as_str()
            .unwrap()
            .starts_with("closer ")
    );
    // The winner's close is the one stored, and a later close does not move it.
    json(app.close(&id, Some(&auth), None).await).await;
    assert_eq!(stored(&app, caller, &id).await, after);
}

#[tokio::test]
async fn a_reason_of_256_characters_is_kept_and_257_is_refused() {
    let app = spawn_app().await;
    let caller = new_caller();
    let auth = bearer(&app.token(caller));
    let id = app.create_conversation(caller, 0).await.to_string();
    let before = app.snapshot().await;
    let long = "ü".repeat(257);
    let (status, body) = json(
        app.close(
            &id,
            Some(&auth),
            Some(&json!({"closeReason": long}).to_string()),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["code"], "VALIDATION_ERROR");
    assert_eq!(body["error"]["details"]["field"], "closeReason");
    assert!(
        body["error"]["details"]["reason"]
            .as_str()
            .unwrap()
            .contains("256")
    );
    assert_eq!(app.snapshot().await, before);

    let exact = "ü".repeat(256);
    let (status, _) = json(
        app.close(
            &id,
            Some(&auth),
            Some(&json!({"closeReason": exact}).to_string()),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(stored(&app, caller, &id).await["closeReason"], exact);
}

/// (name, conversation id, Authorization, body, expected status, expected details).
type Case<'a> = (&'a str, &'a str, &'a String, Option<&'a str>, u16, Value);

#[tokio::test]
async fn refusals_name_the_contract_error_and_change_nothing() {
    let app = spawn_app().await;
    let owner = new_caller();
    let id = app.create_conversation(owner, 2).await.to_string();
    let missing = uuid::Uuid::now_v7().to_string();
    let owner_auth = bearer(&app.token(owner));
    let other_visitor = bearer(&app.token(same_project_other_visitor(owner)));
    let other_project = bearer(&app.token(chat_domain::ids::Caller {
        project: new_caller().project,
        visitor: owner.visitor,
    }));
    let huge = json!({"closeReason": "x".repeat(300 * 1024)}).to_string();
    let cases: Vec<Case> = vec![
        (
            "malformed JSON",
            &id,
            &owner_auth,
            Some("{\"closeReason\": "),
            400,
            json!({"field": "body"}),
        ),
        (
            "array body",
            &id,
            &owner_auth,
            Some("[]"),
            400,
            json!({"field": "body"}),
        ),
        (
            "string body",
            &id,
            &owner_auth,
            Some("\"close\""),
            400,
            json!({"field": "body"}),
        ),
        (
            "reason of wrong type",
            &id,
            &owner_auth,
            Some(r#"{"closeReason": 42}"#),
            400,
            json!({"field": "closeReason"}),
        ),
        (
            "body over 256 KiB",
            &id,
            &owner_auth,
            Some(&huge),
            422,
            json!({"field": "body"}),
        ),
        (
            "non-UUID id",
            "123",
            &owner_auth,
            None,
            400,
            json!({"field": "conversationId"}),
        ),
        (
            "missing conversation",
            &missing,
            &owner_auth,
            None,
            404,
            json!({"conversationId": missing}),
        ),
        ("other visitor", &id, &other_visitor, None, 403, Value::Null),
        (
            "other project",
            &id,
            &other_project,
            None,
            404,
            json!({"conversationId": id}),
        ),
    ];
    let before = app.snapshot().await;
    for (name, target, auth, body, expected_status, details) in cases {
        let (status, response) = json(app.close(target, Some(auth), body).await).await;
        assert_eq!(status, expected_status, "{name}: {response}");
        let error = &response["error"];
        let expected_code = match expected_status {
            400 => "INVALID_REQUEST_BODY",
            403 => "FORBIDDEN",
            404 => "CONVERSATION_NOT_FOUND",
            422 => "VALIDATION_ERROR",
            _ => unreachable!(),
        };
        assert_eq!(error["code"], expected_code, "{name}");
        if details.is_null() {
            assert!(error.get("details").is_none(), "{name}");
        } else if expected_status == 422 {
            assert_eq!(error["details"]["field"], details["field"], "{name}");
        } else {
            assert_eq!(error["details"], details, "{name}");
        }
        assert_eq!(app.snapshot().await, before, "{name} changed the table");
    }
}
