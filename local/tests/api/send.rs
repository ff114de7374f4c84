//! `POST /v2/conversations/{id}/messages`: a turn of the one turn engine, answered from the
//! stored history; what is stored, the title, the human agent's 202, the refusals, round
//! trips, concurrency and a client that goes away.

use std::time::{Duration, Instant};

use chat_domain::conversation::Conversation;
use chat_domain::human_agent::HumanAgent;
use chat_domain::ids::Caller;
use chat_domain::timestamp::Timestamp;
use chat_testkit::{TestApp, bearer, json, new_caller, same_project_other_visitor, stream_events};
use futures_util::StreamExt;
use futures_util::future::join_all;
use serde_json::{Value, json};
use uuid::Uuid;

/// `POST /v2/conversations/{id}/messages` with `body` as `caller`.
pub async fn send(app: &TestApp, caller: Caller, id: &str, body: &Value) -> reqwest::Response {
    app.http
        .post(format!("{}/v2/conversations/{id}/messages", app.base))
        .header("authorization", bearer(&app.token(caller)))
        .json(body)
        .send()
        .await
        .unwrap()
}

/// A new empty conversation of `caller`, started through the API.
pub async fn started(app: &TestApp, caller: Caller) -> String {
    let response = app
        .http
        .post(format!("{}/v2/conversations", app.base))
        .header("authorization", bearer(&app.token(caller)))
        .send()
        .await
        .unwrap();
    let (status, body) = json(response).await;
    assert_eq!(status, 201);
    body["id"].as_str().unwrap().to_owned()
}

/// A stack whose offline answers come at once.
async fn app() -> TestApp {
    TestApp::builder().instant_answers().spawn().await
}

#[tokio::test]
async fn a_sent_message_is_answered_stored_with_its_page_and_titles_the_conversation() {
    let app = app().await;
    let caller = new_caller();
    let id = started(&app, caller).await;
    app.calls.clear();
    let body = json!({
        "pageContext": {"url": "https://shop.example/mugs", "title": "Mugs",
            "content": "Blue mug, twelve ounces.", "textSelection": "Blue mug"},
        "content": "  Do you   ship\nto Canada?  ",
        "stream": false,
    });
    let response = send(&app, caller, &id, &body).await;
    assert_eq!(response.headers()["x-conversation-id"], id.as_str());
    let (status, answer) = json(response).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["conversationId"], id.as_str());
    // Three sequential round trips: the first read (with the history and the counters
    // beside it), the turn's transaction, the finishing update.
    let send_trips = app.calls.round_trips();
    assert_eq!(send_trips, 3, "{:?}", app.calls.entries());
    let data = app.calls.data_calls();
    assert!(data.contains(&"BatchGetItem".to_owned()) && data.contains(&"Query".to_owned()));
    // No more than a completion into another conversation of the same visitor costs.
    let other = started(&app, caller).await;
    app.calls.clear();
    let completion = app
        .complete(
            caller,
            &json!({"messages": [{"role": "user", "content": "Hi"}], "conversationId": other}),
        )
        .await;
    assert_eq!(completion.status(), 200);
    let _ = completion.bytes().await;
    assert!(
        send_trips <= app.calls.round_trips(),
        "{:?}",
        app.calls.entries()
    );
    let conversation = app.read(caller, &id).await;
    assert_eq!(conversation["title"], "Do you ship to Canada?");
    let messages = conversation["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    let (question, reply) = (&messages[0], &messages[1]);
    assert_eq!(question["role"], "user");
    assert_eq!(
        question["parts"][0]["text"],
        "  Do you   ship\nto Canada?  "
    );
    assert_eq!(question["pageUrl"], "https://shop.example/mugs");
    assert_eq!(question["pageTitle"], "Mugs");
    assert_eq!(question["textSelection"], "Blue mug");
    assert!(
        !conversation.to_string().contains("twelve ounces"),
        "page text is not stored"
    );
    assert_eq!(reply["id"], answer["messageId"]);
    assert_eq!(reply["status"], "complete");
    // The list shows the title and the answer right away.
    let response = app
        .http
        .get(format!("{}/v2/conversations", app.base))
        .header("authorization", bearer(&app.token(caller)))
        .send()
        .await
        .unwrap();
    let (_, page) = json(response).await;
    let listed = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id.as_str())
        .unwrap();
    assert_eq!(listed["title"], "Do you ship to Canada?");
    assert_eq!(listed["lastMessage"]["id"], answer["messageId"]);

    // A second turn keeps the first title.
    let (status, _) = json(
        send(
            &app,
            caller,
            &id,
            &json!({"content": "And to Mexico, by the way?"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    let conversation = app.read(caller, &id).await;
    assert_eq!(conversation["title"], "Do you ship to Canada?");
    assert_eq!(conversation["messages"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn a_long_first_message_is_titled_at_a_word_boundary() {
    let app = app().await;
    let caller = new_caller();
    let id = started(&app, caller).await;
    let text = "I would like to know whether you ship your handmade ceramic mugs to Canada";
    let (status, _) = json(send(&app, caller, &id, &json!({"content": text})).await).await;
    assert_eq!(status, 200);
    let title = app.read(caller, &id).await["title"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        title,
        "I would like to know whether you ship your handmade ceramic…"
    );
    assert_eq!(title.chars().count(), 60);
}

#[tokio::test]
async fn the_stream_names_the_stored_assistant_message() {
    let app = app().await;
    let caller = new_caller();
    let id = started(&app, caller).await;
    let response = send(&app, caller, &id, &json!({"content": "Hi", "stream": true})).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let events = stream_events(&response.text().await.unwrap());
    let start: Value = serde_json::from_str(&events[0]).unwrap();
    assert_eq!(start["type"], "start");
    assert_eq!(start["messageMetadata"]["conversationId"], id.as_str());
    assert_eq!(events.last().unwrap(), "[DONE]");
    let conversation = app.read(caller, &id).await;
    assert_eq!(conversation["messages"][1]["id"], start["messageId"]);
    assert_eq!(conversation["messages"][1]["status"], "complete");
}

#[tokio::test]
async fn refusals_before_generation_change_nothing() {
    let app = app().await;
    let caller = new_caller();
    let id = started(&app, caller).await;
    let closed = started(&app, caller).await;
    let close = app
        .close(&closed, Some(&bearer(&app.token(caller))), None)
        .await;
    assert_eq!(close.status(), 200);
    let unknown = Uuid::now_v7().to_string();
    let other = same_project_other_visitor(caller);
    let before = app.snapshot().await;
    let ok = json!({"content": "Hi"});
    for (who, conversation, body, status, detail) in [
        (
            caller,
            unknown.as_str(),
            &ok,
            404,
            json!({"conversationId": unknown}),
        ),
        (other, id.as_str(), &ok, 403, Value::Null),
        (
            new_caller(),
            id.as_str(),
            &ok,
            404,
            json!({"conversationId": id}),
        ),
        (
            caller,
            closed.as_str(),
            &ok,
            409,
            json!({"resource": "conversation", "conflictingField": "status"}),
        ),
        (
            caller,
            id.as_str(),
            &json!({"content": ""}),
            422,
            json!({"field": "content"}),
        ),
        (
            caller,
            id.as_str(),
            &json!({"content": "x", "pageContext": {"url": "u".repeat(2_049)}}),
            422,
            json!({"field": "pageContext.url"}),
        ),
        (
            caller,
            id.as_str(),
            &json!({"content": "x", "pageContext": {"title": 1}}),
            400,
            json!({"field": "pageContext.title"}),
        ),
        (
            caller,
            id.as_str(),
            &json!({"messages": []}),
            400,
            json!({"field": "content"}),
        ),
        (caller, "nope", &ok, 400, json!({"field": "conversationId"})),
    ] {
        let (got, error) = json(send(&app, who, conversation, body).await).await;
        assert_eq!(got, status, "{body}: {error}");
        let details = &error["error"]["details"];
        if let Value::Object(expected) = &detail {
            for (key, value) in expected {
                assert_eq!(&details[key], value, "{body}: {error}");
            }
        } else {
            assert!(details.is_null(), "{error}");
        }
    }
    let response = app
        .http
        .post(format!("{}/v2/conversations/{id}/messages", app.base))
        .json(&ok)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn while_a_human_agent_handles_it_the_message_is_stored_and_nothing_generated() {
    let app = app().await;
    let caller = new_caller();
    let id = Uuid::now_v7();
    let mut conversation = Conversation::new(id, caller.visitor, Timestamp::now());
    conversation.is_human_handled = true;
    conversation.human_agent = Some(HumanAgent {
        name: Some("Dana".into()),
        image: None,
    });
    app.store
        .import_conversation(caller.project, &conversation, &[])
        .await
        .unwrap();
    let response = send(
        &app,
        caller,
        &id.to_string(),
        &json!({"content": "Are you there?", "stream": true}),
    )
    .await;
    assert_eq!(response.status(), 202);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(response.text().await.unwrap(), "Message sent");
    let stored = app.read(caller, &id.to_string()).await;
    let messages = stored["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["role"], "user");
    assert_eq!(messages[0]["parts"][0]["text"], "Are you there?");
    assert_eq!(stored["status"], "open");
    assert_eq!(stored["isHumanHandled"], true);
}

#[tokio::test]
async fn thirty_concurrent_sends_store_sixty_messages_in_order() {
    let app = TestApp::builder()
        .instant_answers()
        .env("RATE_LIMITS_ENABLED", "false")
        .spawn()
        .await;
    let caller = new_caller();
    let id = started(&app, caller).await;
    let statuses = join_all((0..30).map(|n| {
        let (app, id) = (&app, &id);
        async move {
            let body = json!({"content": format!("question {n}"), "stream": n % 2 == 0});
            let response = send(app, caller, id, &body).await;
            let status = response.status().as_u16();
            let _ = response.bytes().await;
            status
        }
    }))
    .await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let conversation = app.read(caller, &id).await;
    let messages = conversation["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 60);
    assert_eq!(messages.iter().filter(|m| m["role"] == "user").count(), 30);
    assert!(
        messages.iter().all(|m| m["status"] == "complete"),
        "{messages:?}"
    );
    let times: Vec<&str> = messages
        .iter()
        .map(|m| m["createdAt"].as_str().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "oldest first: {times:?}"
    );
    let mut questions: Vec<String> = messages
        .iter()
        .filter(|m| m["role"] == "user")
        .map(|m| m["parts"][0]["text"].as_str().unwrap().to_owned())
        .collect();
    questions.sort();
    questions.dedup();
    assert_eq!(questions.len(), 30, "each question once");
    // The conversation's times moved to the newest turn.
    assert_eq!(conversation["lastInteractionAt"], *times.last().unwrap());
}

#[tokio::test]
async fn a_client_that_goes_away_mid_stream_still_gets_its_answer_stored() {
    let app = TestApp::builder()
        .settings(|config| {
            config.providers.offline.first_token_delay = Duration::ZERO;
            config.providers.offline.token_gap = Duration::from_millis(30);
        })
        .spawn()
        .await;
    let caller = new_caller();
    let id = started(&app, caller).await;
    let response = send(
        &app,
        caller,
        &id,
        &json!({"content": "hello", "stream": true}),
    )
    .await;
    let mut stream = response.bytes_stream();
    let first = stream.next().await.unwrap().unwrap();
    assert!(
        std::str::from_utf8(&first)
            .unwrap()
            .contains("\"type\":\"start\"")
    );
    drop(stream);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let messages = app.read(caller, &id).await["messages"].clone();
        if messages[1]["status"] == "complete" {
            assert!(!messages[1]["parts"][0]["text"].as_str().unwrap().is_empty());
            break;
        }
        assert!(Instant::now() < deadline, "never completed: {messages}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn over_their_limits_the_new_routes_answer_429_and_change_nothing() {
    let app = TestApp::builder()
        .instant_answers()
        .settings(|config| {
            config.base.limits.limits.reads_per_visitor = 2;
            config.base.limits.limits.completions_per_visitor = 1;
            config.base.limits.window_secs = 3_600;
        })
        .spawn()
        .await;
    let caller = new_caller();
    let token = bearer(&app.token(caller));
    // Two reads-class requests: a start and a send (a completion).
    let id = started(&app, caller).await;
    let (status, answer) = json(send(&app, caller, &id, &json!({"content": "Hi"})).await).await;
    assert_eq!(status, 200);
    let message = answer["messageId"].as_str().unwrap().to_owned();
    let list = app
        .http
        .get(format!("{}/v2/conversations", app.base))
        .header("authorization", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 200);
    let before = app.snapshot().await;
    let refused = [
        app.http.get(format!("{}/v2/conversations", app.base)),
        app.http.post(format!("{}/v2/conversations", app.base)),
        app.http
            .get(format!("{}/v2/conversations/{id}/messages", app.base)),
        app.http
            .post(format!("{}/v2/messages/{message}/feedback", app.base))
            .json(&json!({"feedback": "like"})),
        app.http
            .post(format!("{}/v2/conversations/{id}/messages", app.base))
            .json(&json!({"content": "Again"})),
    ];
    for request in refused {
        let response = request
            .header("authorization", &token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 429);
        assert!(response.headers().contains_key("retry-after"));
        let (_, error) = json(response).await;
        assert!(error["error"]["details"]["retryAfter"].is_u64(), "{error}");
    }
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn a_completions_first_turn_titles_its_conversation_too() {
    let app = app().await;
    let caller = new_caller();
    let body = json!({"messages": [{"role": "user", "content": "Where\tis my   order?"}]});
    let (status, answer) = json(app.complete(caller, &body).await).await;
    assert_eq!(status, 200);
    let id = answer["conversationId"].as_str().unwrap().to_owned();
    assert_eq!(app.read(caller, &id).await["title"], "Where is my order?");
    let again = json!({"messages": [{"role": "user", "content": "Hello?"}], "conversationId": id});
    assert_eq!(app.complete(caller, &again).await.status(), 200);
    assert_eq!(app.read(caller, &id).await["title"], "Where is my order?");
}
