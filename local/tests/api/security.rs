//! What SECURITY.md claims, over real HTTP: other projects' ids do not exist, and stored
//! text never reaches a header or splits a stream event. (That visitors' text and tokens
//! never reach the logs is `local/tests/logs.rs`: it needs a process of its own.)

use chat_domain::ids::{Caller, VisitorId};
use serde_json::{Value, json};

use chat_testkit::{TestApp, bearer, json, new_caller, stream_events};

#[tokio::test]
async fn another_projects_conversation_does_not_exist_even_for_the_same_visitor_id() {
    let app = TestApp::builder().instant_answers().spawn().await;
    let owner = new_caller();
    let id = app.create_conversation(owner, 2).await;
    // Same visitor id, another project: a token an attacker could get from their own site.
    let intruder = Caller {
        project: new_caller().project,
        visitor: VisitorId(owner.visitor.0),
    };
    let before = app.snapshot().await;
    let token = bearer(&app.token(intruder));
    let (status, body) = json(app.get(&id.to_string(), Some(&token)).await).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (404, json!("CONVERSATION_NOT_FOUND"))
    );
    let (status, _) = json(app.close(&id.to_string(), Some(&token), None).await).await;
    assert_eq!(status, 404);
    assert_eq!(
        app.snapshot().await,
        before,
        "a refused request wrote something"
    );
    // A completion naming that id creates a conversation in the intruder's own project;
    // the owner's conversation and messages are untouched.
    let owner_view = app.read(owner, &id.to_string()).await;
    let response = app
        .complete(
            intruder,
            &json!({ "messages": [{"role": "user", "content": "hi"}], "conversationId": id }),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(app.read(owner, &id.to_string()).await, owner_view);
    let theirs = app.read(intruder, &id.to_string()).await;
    assert_eq!(theirs["messages"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn stored_text_with_line_breaks_never_reaches_a_header_or_splits_an_event() {
    let app = TestApp::builder().instant_answers().spawn().await;
    let caller = new_caller();
    let token = bearer(&app.token(caller));
    let evil =
        "x\r\nSet-Cookie: session=stolen\r\n\r\ndata: [DONE]\n\ndata: {\"type\":\"finish\"}\n\n";
    let id = app.create_conversation(caller, 0).await.to_string();
    let response = app
        .http
        .post(format!("{}/v2/chat/completions", app.base))
        .header("authorization", &token)
        .json(&json!({ "messages": [{"role": "user", "content": evil}], "stream": true, "conversationId": id }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("set-cookie").is_none());
    let text = response.text().await.unwrap();
    let events = stream_events(&text);
    // Exactly one [DONE], last; every other event is one JSON object on one line.
    assert_eq!(events.iter().filter(|e| *e == "[DONE]").count(), 1);
    assert_eq!(events.last().unwrap(), "[DONE]");
    for event in &events[..events.len() - 1] {
        assert!(!event.contains('\n') && !event.contains('\r'), "{event:?}");
        let _: Value = serde_json::from_str(event).unwrap();
    }
    let (status, _) = json(
        app.close(
            &id,
            Some(&token),
            Some(&json!({ "closeReason": evil }).to_string()),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    let response = app.get(&id, Some(&token)).await;
    assert!(response.headers().get("set-cookie").is_none());
    let raw = response.text().await.unwrap();
    assert!(
        !raw.contains('\r') && !raw.contains('\n'),
        "JSON escapes line breaks"
    );
    let body: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(body["closeReason"], evil.trim());
    assert_eq!(body["messages"][0]["parts"][0]["text"], evil);
    // A caller's request id with a line break is not echoed (the header would split).
    let response = app
        .http
        .get(format!("{}/v2/conversations/{id}", app.base))
        .header("authorization", &token)
        .header("x-request-id", "abc\tdef")
        .send()
        .await
        .unwrap();
    assert_ne!(response.headers()["x-request-id"], "abc\tdef");
}
