//! `POST /v2/conversations` and `GET /v2/conversations`: starting, paging in every order and
//! direction, filters, `lastMessage`, refusals and round trips, as a client sees them.

use std::collections::BTreeSet;

use chat_domain::conversation::{Conversation, ConversationStatus};
use chat_domain::ids::Caller;
use chat_domain::message::{Message, MessageRole, MessageStatus};
use chat_domain::timestamp::Timestamp;
use chat_testkit::{TestApp, bearer, json, new_caller, same_project_other_visitor, spawn_app};
use serde_json::Value;
use uuid::Uuid;

async fn start(app: &TestApp, auth: Option<&str>, body: Option<&str>) -> reqwest::Response {
    let mut request = app.http.post(format!("{}/v2/conversations", app.base));
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_owned());
    }
    request.send().await.unwrap()
}

async fn list(app: &TestApp, caller: Caller, query: &str) -> (u16, Value) {
    let response = app
        .http
        .get(format!("{}/v2/conversations?{query}", app.base))
        .header("authorization", bearer(&app.token(caller)))
        .send()
        .await
        .unwrap();
    json(response).await
}

#[tokio::test]
async fn a_started_conversation_is_empty_open_untitled_and_listed() {
    let app = spawn_app().await;
    let caller = new_caller();
    let token = bearer(&app.token(caller));
    for body in [
        None,
        Some(""),
        Some("{}"),
        Some(r#"{"context":{"pageUrl":"https://shop.example/p"}}"#),
    ] {
        app.calls.clear();
        let (status, conversation) = json(start(&app, Some(&token), body).await).await;
        assert_eq!(status, 201, "{conversation}");
        assert_eq!(conversation["object"], "conversation");
        assert_eq!(conversation["status"], "open");
        assert_eq!(conversation["title"], Value::Null);
        assert_eq!(conversation["messages"], serde_json::json!([]));
        assert_eq!(conversation["createdAt"], conversation["lastInteractionAt"]);
        let id = Uuid::parse_str(conversation["id"].as_str().unwrap()).unwrap();
        assert_eq!(id.get_version_num(), 7);
        assert_eq!(app.calls.data_calls().last().unwrap(), "PutItem");
        // What get returns is what start returned.
        assert_eq!(app.read(caller, &id.to_string()).await, conversation);
    }
    let (status, page) = list(&app, caller, "").await;
    assert_eq!(status, 200);
    assert_eq!(page["total"], 4);
    for item in page["data"].as_array().unwrap() {
        assert_eq!(item["lastMessage"], Value::Null);
        assert!(item.get("messages").is_none());
    }
}

#[tokio::test]
async fn refused_starts_change_nothing() {
    let app = spawn_app().await;
    let caller = new_caller();
    let token = bearer(&app.token(caller));
    let long = serde_json::json!({"context": {"pageUrl": "u".repeat(2_049)}}).to_string();
    let before = app.snapshot().await;
    for (auth, body, status, field) in [
        (
            Some(token.as_str()),
            Some(long.as_str()),
            422,
            Some("context.pageUrl"),
        ),
        (
            Some(token.as_str()),
            Some(r#"{"context":{"pageUrl":5}}"#),
            400,
            Some("context.pageUrl"),
        ),
        (
            Some(token.as_str()),
            Some(r#"{"context":[]}"#),
            400,
            Some("context"),
        ),
        (Some(token.as_str()), Some("{nope"), 400, Some("body")),
        (None, None, 401, None),
    ] {
        let (got, error) = json(start(&app, auth, body).await).await;
        assert_eq!(got, status, "{error}");
        assert_eq!(
            error["error"]["details"]["field"].as_str(),
            field,
            "{error}"
        );
    }
    assert_eq!(app.snapshot().await, before);
}

/// 45 conversations whose every sort key has ties and nulls.
async fn forty_five(app: &TestApp, caller: Caller) -> Vec<Uuid> {
    let base = Timestamp::now().unix_millis() - 3_600_000;
    let mut ids = Vec::new();
    for n in 0..45i64 {
        let id = Uuid::now_v7();
        // Times repeat every 7, so order by them needs the id to break ties.
        let at = Timestamp::from_unix_millis(base + (n % 7) * 1_000);
        let mut conversation = Conversation::new(id, caller.visitor, at);
        conversation.updated_at = Timestamp::from_unix_millis(base + (n % 5) * 1_000);
        conversation.last_interaction_at = Timestamp::from_unix_millis(base + (n % 9) * 1_000);
        if n % 3 == 0 {
            conversation.status = ConversationStatus::Closed;
            conversation.closed_at = Some(Timestamp::from_unix_millis(base + (n % 4) * 1_000));
        }
        conversation.is_human_handled = n % 4 == 0;
        conversation.title = match n % 6 {
            0 => None,
            1 => Some("Zebra".into()),
            2 => Some("apple".into()),
            3 => Some("\u{e9}clair".into()),
            4 => Some("Apple".into()),
            _ => Some(format!("title {}", n % 2)),
        };
        app.store
            .import_conversation(caller.project, &conversation, &[])
            .await
            .unwrap();
        ids.push(id);
    }
    ids
}

/// The value a list item sorts by, as text (timestamps sort as text), `None` for null.
fn sort_key(item: &Value, order: &str) -> Option<String> {
    match order {
        "status" => Some(if item["status"] == "open" { "0" } else { "1" }.into()),
        "isHumanHandled" => Some(item["isHumanHandled"].as_bool().unwrap().to_string()),
        "id" => Some(String::new()),
        other => item[other].as_str().map(str::to_owned),
    }
}

#[tokio::test]
async fn pages_of_twenty_in_every_order_and_direction_neither_skip_nor_repeat() {
    let app = spawn_app().await;
    let caller = new_caller();
    let ids: BTreeSet<String> = forty_five(&app, caller)
        .await
        .into_iter()
        .map(|id| id.to_string())
        .collect();
    // Another visitor's conversation is never listed.
    app.create_conversation(same_project_other_visitor(caller), 1)
        .await;
    let orders = [
        "lastInteractionAt",
        "createdAt",
        "updatedAt",
        "closedAt",
        "status",
        "isHumanHandled",
        "title",
        "id",
    ];
    for order in orders {
        for dir in ["asc", "desc"] {
            let mut seen: Vec<Value> = Vec::new();
            let mut offset = 0;
            loop {
                let query = format!("limit=20&offset={offset}&orderBy={order}&orderDir={dir}");
                let (status, page) = list(&app, caller, &query).await;
                assert_eq!(status, 200, "{page}");
                assert_eq!(page["total"], 45);
                assert_eq!(page["limit"], 20);
                assert_eq!(page["offset"], offset);
                seen.extend(page["data"].as_array().unwrap().iter().cloned());
                if page["total"].as_u64().unwrap() <= offset + 20 {
                    break;
                }
                offset += 20;
            }
            let listed: Vec<String> = seen
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(listed.len(), 45, "{order} {dir}");
            assert_eq!(
                listed.iter().cloned().collect::<BTreeSet<_>>(),
                ids,
                "{order} {dir}"
            );
            for pair in seen.windows(2) {
                let (a, b) = (sort_key(&pair[0], order), sort_key(&pair[1], order));
                let in_order = match (&a, &b) {
                    (Some(_), None) => true,
                    (None, Some(_)) => false,
                    _ if a == b => {
                        let (x, y) = (&pair[0]["id"], &pair[1]["id"]);
                        let (x, y) = (x.as_str().unwrap(), y.as_str().unwrap());
                        if dir == "asc" { x < y } else { x > y }
                    }
                    _ if dir == "asc" => a < b,
                    _ => a > b,
                };
                assert!(in_order, "{order} {dir}: {a:?} then {b:?}");
            }
        }
    }
}

#[tokio::test]
async fn the_status_filter_counts_and_the_default_order_is_newest_first() {
    let app = spawn_app().await;
    let caller = new_caller();
    forty_five(&app, caller).await;
    let (_, closed) = list(&app, caller, "status=closed&limit=100").await;
    assert_eq!(closed["total"], 15);
    assert!(
        closed["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["status"] == "closed")
    );
    let (_, open) = list(&app, caller, "status=open&limit=5").await;
    assert_eq!(open["total"], 30);
    assert_eq!(open["data"].as_array().unwrap().len(), 5);
    let (_, page) = list(&app, caller, "").await;
    assert_eq!(page["limit"], 10);
    let times: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["lastInteractionAt"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    for offset in ["45", "99999999999999999999999999"] {
        let (status, past) = list(&app, caller, &format!("offset={offset}")).await;
        assert_eq!(status, 200, "{past}");
        assert_eq!(past["data"], serde_json::json!([]));
        assert_eq!(past["total"], 45);
    }
}

#[tokio::test]
async fn each_item_carries_its_newest_message_in_a_bounded_number_of_round_trips() {
    let app = spawn_app().await;
    let caller = new_caller();
    let id = Uuid::now_v7();
    let at = Timestamp::from_unix_millis(Timestamp::now().unix_millis() - 5_000);
    let conversation = Conversation::new(id, caller.visitor, at);
    let messages: Vec<Message> = (0..3)
        .map(|n| {
            Message::text(
                Uuid::now_v7(),
                id,
                if n == 2 {
                    MessageRole::Assistant
                } else {
                    MessageRole::User
                },
                &format!("text {n}"),
                MessageStatus::Complete,
                at,
            )
        })
        .collect();
    app.store
        .import_conversation(caller.project, &conversation, &messages)
        .await
        .unwrap();
    let empty = app.create_conversation(caller, 0).await;
    app.calls.clear();
    let (status, page) = list(&app, caller, "orderBy=createdAt&orderDir=asc").await;
    assert_eq!(status, 200);
    // The index Query (beside the counters), then the page's newest messages together.
    assert_eq!(app.calls.round_trips(), 2, "{:?}", app.calls.entries());
    let data = app.calls.data_calls();
    assert_eq!(data.iter().filter(|c| *c == "Query").count(), 3, "{data:?}");
    let by_id = |wanted: Uuid| {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == wanted.to_string())
            .unwrap()
            .clone()
    };
    let last = &by_id(id)["lastMessage"];
    assert_eq!(last["id"], messages[2].id.to_string());
    assert_eq!(last["role"], "assistant");
    assert_eq!(last["parts"][0]["text"], "text 2");
    assert_eq!(by_id(empty)["lastMessage"], Value::Null);
}

#[tokio::test]
async fn bad_parameters_name_themselves_and_read_nothing() {
    let app = spawn_app().await;
    let caller = new_caller();
    for (query, status, field) in [
        ("limit=abc", 400, "limit"),
        ("limit=2.5", 400, "limit"),
        ("limit=0", 422, "limit"),
        ("limit=101", 422, "limit"),
        ("offset=-1", 422, "offset"),
        ("offset=x", 400, "offset"),
        ("status=archived", 400, "status"),
        ("orderBy=name", 400, "orderBy"),
        ("orderDir=sideways", 400, "orderDir"),
    ] {
        app.calls.clear();
        let (got, error) = list(&app, caller, query).await;
        assert_eq!(got, status, "{query}: {error}");
        assert_eq!(error["error"]["details"]["field"], field, "{query}");
        assert!(
            app.calls.calls().is_empty(),
            "{query}: {:?}",
            app.calls.calls()
        );
    }
    let response = app
        .http
        .get(format!("{}/v2/conversations", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn the_new_paths_answer_their_preflights_and_their_errors_carry_cors() {
    let app = spawn_app().await;
    for (path, methods) in [
        ("/v2/conversations", "GET,POST,OPTIONS"),
        (
            &format!("/v2/conversations/{}/messages", Uuid::now_v7()) as &str,
            "GET,POST,OPTIONS",
        ),
        (
            &format!("/v2/messages/{}/feedback", Uuid::now_v7()) as &str,
            "POST,OPTIONS",
        ),
    ] {
        let response = app
            .http
            .request(reqwest::Method::OPTIONS, format!("{}{path}", app.base))
            .header("origin", "https://shop.example")
            .header("access-control-request-method", "POST")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204, "{path}");
        assert_eq!(
            response.headers()["access-control-allow-methods"],
            methods,
            "{path}"
        );
        assert!(
            response
                .headers()
                .contains_key("access-control-allow-origin"),
            "{path}"
        );
    }
    let caller = new_caller();
    let unknown = Uuid::now_v7();
    for request in [
        app.http
            .get(format!("{}/v2/conversations/{unknown}/messages", app.base)),
        app.http
            .post(format!("{}/v2/conversations/{unknown}/messages", app.base))
            .json(&serde_json::json!({"content": "hi"})),
        app.http
            .post(format!("{}/v2/messages/{unknown}/feedback", app.base))
            .json(&serde_json::json!({"feedback": "like"})),
        app.http
            .get(format!("{}/v2/conversations?limit=0", app.base)),
    ] {
        let response = request
            .header("authorization", bearer(&app.token(caller)))
            .header("origin", "https://shop.example")
            .send()
            .await
            .unwrap();
        assert!(response.status().is_client_error());
        assert!(
            response
                .headers()
                .contains_key("access-control-allow-origin")
        );
        let body = response.text().await.unwrap();
        let error: Value = serde_json::from_str(&body).unwrap();
        assert!(error["error"]["code"].is_string(), "{body}");
    }
}
