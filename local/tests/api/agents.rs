//! The agent routes (API.md §12) over HTTP with a project's secret key: handoff, agent
//! messages and release in a visitor's conversation as the widget and the model see it,
//! their refusals (each changing nothing), and their round trips.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use chat_domain::api_key::KeyKind;
use chat_domain::assistant::{Assistant, ProviderKind, Tier};
use chat_domain::ids::{Caller, ProjectId, VisitorId};
use chat_local::admin;
use chat_testkit::{TestApp, bearer, json, new_caller};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};
use uuid::Uuid;

/// A project's secret key, made as the admin command makes one.
pub async fn secret_key(app: &TestApp, project: ProjectId) -> String {
    admin::create_key(&app.store, project, KeyKind::Secret, None, None, vec![])
        .await
        .unwrap()
}

/// `POST /v2/conversations/{id}/{action}` with `auth` and a JSON `body`.
pub async fn agent_post(
    app: &TestApp,
    auth: Option<&str>,
    id: &str,
    action: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app
        .http
        .post(format!("{}/v2/conversations/{id}/{action}", app.base));
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

fn dana() -> Value {
    json!({"humanAgent": {"name": "Dana", "image": null}})
}

/// An OpenAI-compatible stand-in for the model that counts the answers it was asked for.
async fn counting_model() -> (String, Arc<AtomicUsize>) {
    let asked = Arc::new(AtomicUsize::new(0));
    let seen = asked.clone();
    let address = chat_testkit::serve_http(move |_req: hyper::Request<hyper::body::Incoming>| {
        let seen = seen.clone();
        async move {
            seen.fetch_add(1, Ordering::SeqCst);
            let chunks = [
                json!({"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Happy to help."}}]}),
                json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
                json!({"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}}),
            ];
            let mut text: String = chunks.iter().map(|c| format!("data: {c}\n\n")).collect();
            text.push_str("data: [DONE]\n\n");
            let mut response = hyper::Response::new(
                Full::new(Bytes::from(text)).map_err(|never: Infallible| match never {}),
            );
            response
                .headers_mut()
                .insert("content-type", "text/event-stream".parse().unwrap());
            response
        }
    })
    .await;
    (format!("{address}/v1"), asked)
}

/// A stack whose project's default assistant answers through `counting_model`.
async fn app_with_model() -> (TestApp, Caller, Arc<AtomicUsize>) {
    let (base_url, asked) = counting_model().await;
    let app = TestApp::builder()
        .settings(move |settings| settings.providers.openai_base_url = base_url)
        .spawn()
        .await;
    let visitor = new_caller();
    let assistant = Assistant {
        id: Some(Uuid::now_v7()),
        name: "support".into(),
        provider: ProviderKind::OpenAi,
        model: "stand-in".into(),
        system_prompt: None,
        temperature: None,
        max_output_tokens: None,
        tier: Tier::Standard,
    };
    app.store_assistant(visitor, &assistant).await;
    app.store
        .put_assistant(visitor.project, &assistant, true)
        .await
        .unwrap();
    (app, visitor, asked)
}

async fn send(app: &TestApp, visitor: Caller, id: &str, content: &str) -> reqwest::Response {
    app.http
        .post(format!("{}/v2/conversations/{id}/messages", app.base))
        .header("authorization", bearer(&app.token(visitor)))
        .json(&json!({"content": content}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_agent_takes_a_conversation_over_writes_to_the_visitor_and_gives_it_back() {
    let (app, visitor, asked) = app_with_model().await;
    let agent = bearer(&secret_key(&app, visitor.project).await);
    let session = bearer(&app.token(visitor));
    let started = app
        .http
        .post(format!("{}/v2/conversations", app.base))
        .header("authorization", &session)
        .send()
        .await
        .unwrap();
    let (status, started) = json(started).await;
    assert_eq!(status, 201);
    let id = started["id"].as_str().unwrap().to_owned();

    let (status, answer) = json(send(&app, visitor, &id, "Where is my order?").await).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["steps"][0]["content"][0]["text"], "Happy to help.");
    assert_eq!(asked.load(Ordering::SeqCst), 1);

    // Warm the key cache and the project's limit overrides, so the calls below are the
    // route's own.
    agent_post(
        &app,
        Some(&agent),
        &Uuid::now_v7().to_string(),
        "release",
        None,
    )
    .await;
    app.calls.clear();
    let (status, handed) =
        json(agent_post(&app, Some(&agent), &id, "handoff", Some(dana())).await).await;
    assert_eq!(status, 200, "{handed}");
    assert_eq!(app.calls.data_calls(), ["UpdateItem"]);
    assert_eq!(app.calls.round_trips(), 2, "the counters, then the update");
    assert_eq!(handed["object"], "conversation");
    assert_eq!(handed["id"], id.as_str());
    assert_eq!(handed["isHumanHandled"], true);
    assert_eq!(handed["humanAgent"], json!({"name": "Dana", "image": null}));
    assert!(handed.get("messages").is_none());
    let answered_at = answer_time(&app, visitor, &id).await;
    assert!(handed["updatedAt"].as_str().unwrap() > answered_at.as_str());

    // The visitor's message is stored and nobody generates an answer.
    let waiting = send(&app, visitor, &id, "Hello? Anyone there?").await;
    assert_eq!(waiting.status(), 202);
    assert_eq!(waiting.text().await.unwrap(), "Message sent");
    assert_eq!(asked.load(Ordering::SeqCst), 1, "the model was not asked");

    app.calls.clear();
    let (status, message) = json(
        agent_post(
            &app,
            Some(&agent),
            &id,
            "agent-messages",
            Some(json!({"content": "Hi, I am Dana. Your order left today."})),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{message}");
    assert_eq!(
        app.calls.data_calls(),
        ["GetItem", "TransactWriteItems"],
        "the conversation's agent, then the message with its conversation"
    );
    assert_eq!(app.calls.round_trips(), 2, "the read beside the counters");
    assert_eq!(message["object"], "message");
    assert_eq!(message["role"], "human_agent");
    assert_eq!(message["status"], "complete");
    assert_eq!(message["chatId"], id.as_str());
    assert_eq!(
        message["humanAgent"],
        json!({"name": "Dana", "image": null})
    );
    assert_eq!(
        message["parts"],
        json!([{"type": "text", "text": "Hi, I am Dana. Your order left today."}])
    );
    assert_eq!(message.as_object().unwrap().len(), 15);

    // The visitor reads it all, in order; the agent's message is the newest interaction.
    let stored = app.read(visitor, &id).await;
    let roles: Vec<&str> = stored["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant", "user", "human_agent"]);
    assert_eq!(stored["messages"][3], message);
    assert_eq!(
        stored["messages"][2]["parts"][0]["text"],
        "Hello? Anyone there?"
    );
    assert_eq!(stored["lastInteractionAt"], message["createdAt"]);
    assert_eq!(stored["updatedAt"], message["createdAt"]);
    assert_eq!(stored["isHumanHandled"], true);
    assert_eq!(stored["humanAgent"], handed["humanAgent"]);

    // Feedback is for the assistant's answers: an agent's message is 422, as a user's is.
    let rated = app
        .http
        .post(format!(
            "{}/v2/messages/{}/feedback",
            app.base,
            message["id"].as_str().unwrap()
        ))
        .header("authorization", &session)
        .json(&json!({"feedback": "like"}))
        .send()
        .await
        .unwrap();
    let (status, body) = json(rated).await;
    assert_eq!(
        (status, body["error"]["details"]["field"].as_str()),
        (422, Some("messageId"))
    );

    app.calls.clear();
    let (status, released) = json(agent_post(&app, Some(&agent), &id, "release", None).await).await;
    assert_eq!(status, 200, "{released}");
    assert_eq!(app.calls.data_calls(), ["UpdateItem"]);
    assert_eq!(released["isHumanHandled"], false);
    assert_eq!(released["humanAgent"], Value::Null);
    assert_eq!(released["lastInteractionAt"], message["createdAt"]);

    let (status, answer) = json(send(&app, visitor, &id, "Thanks! One more thing.").await).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(asked.load(Ordering::SeqCst), 2, "the AI answers again");
    let stored = app.read(visitor, &id).await;
    assert_eq!(stored["messages"].as_array().unwrap().len(), 6);
    assert_eq!(stored["messages"][5]["role"], "assistant");
    assert_eq!(stored["messages"][5]["status"], "complete");
}

/// When the conversation's last answer was written.
async fn answer_time(app: &TestApp, visitor: Caller, id: &str) -> String {
    let stored = app.read(visitor, id).await;
    stored["messages"][1]["createdAt"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn each_route_is_one_write_without_rate_limits() {
    let app = TestApp::builder()
        .env("RATE_LIMITS_ENABLED", "false")
        .spawn()
        .await;
    let visitor = new_caller();
    let agent = bearer(&secret_key(&app, visitor.project).await);
    let id = app.create_conversation(visitor, 2).await.to_string();
    agent_post(
        &app,
        Some(&agent),
        &Uuid::now_v7().to_string(),
        "release",
        None,
    )
    .await;
    let cases = [
        ("handoff", Some(dana()), 200, vec!["UpdateItem"]),
        (
            "agent-messages",
            Some(json!({"content": "Hello"})),
            201,
            vec!["GetItem", "TransactWriteItems"],
        ),
        ("release", None, 200, vec!["UpdateItem"]),
        ("release", None, 200, vec!["UpdateItem"]),
    ];
    for (action, body, want, calls) in cases {
        app.calls.clear();
        let response = agent_post(&app, Some(&agent), &id, action, body).await;
        assert_eq!(response.status(), want, "{action}");
        assert_eq!(app.calls.calls(), calls, "{action}");
        assert_eq!(app.calls.round_trips(), calls.len(), "{action}");
    }
}

#[tokio::test]
async fn unknown_and_other_projects_conversations_are_404_and_change_nothing() {
    let app = TestApp::builder().spawn().await;
    let visitor = new_caller();
    let agent = bearer(&secret_key(&app, visitor.project).await);
    let stranger = new_caller();
    let theirs = app.create_conversation(stranger, 2).await.to_string();
    // Handed off in its own project, so that an agent message would be taken there.
    let their_agent = bearer(&secret_key(&app, stranger.project).await);
    let (status, _) =
        json(agent_post(&app, Some(&their_agent), &theirs, "handoff", Some(dana())).await).await;
    assert_eq!(status, 200);
    let before = app.snapshot().await;
    for id in [Uuid::now_v7().to_string(), theirs.clone()] {
        for (action, body) in [
            ("handoff", Some(dana())),
            ("agent-messages", Some(json!({"content": "Hello"}))),
            ("release", None),
        ] {
            let (status, body) =
                json(agent_post(&app, Some(&agent), &id, action, body).await).await;
            assert_eq!(
                (status, &body["error"]),
                (
                    404,
                    &json!({"message": "Conversation not found!", "code": "CONVERSATION_NOT_FOUND",
                        "details": {"conversationId": id}})
                ),
                "{action}"
            );
        }
    }
    assert_eq!(app.snapshot().await, before, "nothing stored changed");
    let stored = app.read(stranger, &theirs).await;
    assert_eq!(stored["isHumanHandled"], true);
    assert_eq!(stored["messages"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn closed_and_unhanded_conversations_are_409_each_naming_why() {
    let app = TestApp::builder().spawn().await;
    let visitor = new_caller();
    let agent = bearer(&secret_key(&app, visitor.project).await);
    let id = app.create_conversation(visitor, 2).await.to_string();
    let conflict = |message: &str, field: &str| {
        json!({"message": message, "code": "CONFLICT",
            "details": {"resource": "conversation", "conflictingField": field}})
    };

    let before = app.snapshot().await;
    let (status, body) = json(
        agent_post(
            &app,
            Some(&agent),
            &id,
            "agent-messages",
            Some(json!({"content": "Hi"})),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, &body["error"]),
        (
            409,
            &conflict(
                "Conversation is not handled by a human agent",
                "isHumanHandled"
            )
        )
    );
    // Releasing one no agent has is 200 and changes nothing.
    let (status, released) = json(agent_post(&app, Some(&agent), &id, "release", None).await).await;
    assert_eq!((status, &released["isHumanHandled"]), (200, &json!(false)));
    assert_eq!(app.snapshot().await, before, "nothing stored changed");

    // Handed off, then closed by the visitor: no agent message, no new handoff.
    let (status, _) =
        json(agent_post(&app, Some(&agent), &id, "handoff", Some(dana())).await).await;
    assert_eq!(status, 200);
    let (status, _) = json(
        app.close(&id, Some(&bearer(&app.token(visitor))), None)
            .await,
    )
    .await;
    assert_eq!(status, 200);
    let closed = app.snapshot().await;
    for (action, body) in [
        ("agent-messages", json!({"content": "Hi"})),
        ("handoff", json!({"humanAgent": {"name": "Eli"}})),
    ] {
        let (status, body) =
            json(agent_post(&app, Some(&agent), &id, action, Some(body)).await).await;
        assert_eq!(
            (status, &body["error"]),
            (409, &conflict("Conversation is closed", "status")),
            "{action}"
        );
    }
    assert_eq!(app.snapshot().await, closed, "nothing stored changed");
    // A closed conversation can still be given back, so it stops showing as handed off.
    let (status, released) = json(agent_post(&app, Some(&agent), &id, "release", None).await).await;
    assert_eq!(status, 200);
    assert_eq!(released["status"], "closed");
    assert_eq!(released["isHumanHandled"], false);
}

#[tokio::test]
async fn a_second_handoff_replaces_the_agent_and_its_messages_carry_the_new_one() {
    let app = TestApp::builder().spawn().await;
    let visitor = new_caller();
    let agent = bearer(&secret_key(&app, visitor.project).await);
    let id = app.create_conversation(visitor, 0).await.to_string();
    let image = "https://cdn.example/eli.png";
    agent_post(&app, Some(&agent), &id, "handoff", Some(dana())).await;
    let (status, handed) = json(
        agent_post(
            &app,
            Some(&agent),
            &id,
            "handoff",
            Some(json!({"humanAgent": {"name": "  Eli  ", "image": image}})),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(handed["humanAgent"], json!({"name": "Eli", "image": image}));
    let (status, message) = json(
        agent_post(
            &app,
            Some(&agent),
            &id,
            "agent-messages",
            Some(json!({"content": "Eli here"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(message["humanAgent"], handed["humanAgent"]);
}

#[tokio::test]
async fn bad_ids_and_bodies_are_400_or_422_naming_the_field_and_store_nothing() {
    let app = TestApp::builder().spawn().await;
    let visitor = new_caller();
    let agent = bearer(&secret_key(&app, visitor.project).await);
    let id = app.create_conversation(visitor, 2).await.to_string();
    agent_post(&app, Some(&agent), &id, "handoff", Some(dana())).await;
    let before = app.snapshot().await;
    let huge = json!({"content": "x".repeat(300 * 1024)});
    let cases: Vec<(&str, &str, Option<Value>, u16, &str)> = vec![
        ("handoff", "not-a-uuid", Some(dana()), 400, "conversationId"),
        (
            "agent-messages",
            "not-a-uuid",
            Some(json!({"content": "Hi"})),
            400,
            "conversationId",
        ),
        ("release", "not-a-uuid", None, 400, "conversationId"),
        ("handoff", &id, None, 400, "body"),
        ("handoff", &id, Some(json!({})), 400, "humanAgent"),
        (
            "handoff",
            &id,
            Some(json!({"humanAgent": null})),
            400,
            "humanAgent",
        ),
        (
            "handoff",
            &id,
            Some(json!({"humanAgent": {"image": null}})),
            400,
            "humanAgent.name",
        ),
        (
            "handoff",
            &id,
            Some(json!({"humanAgent": {"name": ["Dana"]}})),
            400,
            "humanAgent.name",
        ),
        (
            "handoff",
            &id,
            Some(json!({"humanAgent": {"name": "Dana", "image": 1}})),
            400,
            "humanAgent.image",
        ),
        (
            "handoff",
            &id,
            Some(json!({"humanAgent": {"name": "  "}})),
            422,
            "humanAgent.name",
        ),
        (
            "handoff",
            &id,
            Some(json!({"humanAgent": {"name": "x".repeat(101)}})),
            422,
            "humanAgent.name",
        ),
        (
            "handoff",
            &id,
            Some(json!({"humanAgent": {"name": "Dana", "image": "http://cdn.example/d.png"}})),
            422,
            "humanAgent.image",
        ),
        (
            "handoff",
            &id,
            Some(json!({"humanAgent": {"name": "Dana", "image": "javascript:alert(1)"}})),
            422,
            "humanAgent.image",
        ),
        ("agent-messages", &id, None, 400, "body"),
        (
            "agent-messages",
            &id,
            Some(json!({"text": "Hi"})),
            400,
            "content",
        ),
        (
            "agent-messages",
            &id,
            Some(json!({"content": 5})),
            400,
            "content",
        ),
        (
            "agent-messages",
            &id,
            Some(json!({"content": ""})),
            422,
            "content",
        ),
        (
            "agent-messages",
            &id,
            Some(json!({"content": "é".repeat(10_001)})),
            422,
            "content",
        ),
        ("agent-messages", &id, Some(huge.clone()), 422, "body"),
        ("release", &id, Some(huge), 422, "body"),
    ];
    for (action, target, body, want, field) in cases {
        let (status, body) = json(agent_post(&app, Some(&agent), target, action, body).await).await;
        assert_eq!(
            (status, body["error"]["details"]["field"].as_str()),
            (want, Some(field)),
            "{action} {target}: {body}"
        );
    }
    // The longest name and content are taken.
    let (status, _) = json(
        agent_post(
            &app,
            Some(&agent),
            &id,
            "agent-messages",
            Some(json!({"content": "é".repeat(10_000)})),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201);
    let after = app.snapshot().await;
    assert_eq!(
        after.len(),
        before.len() + 2,
        "the message and its pointer, nothing else"
    );
}

#[tokio::test]
async fn session_tokens_are_403_and_missing_or_bad_credentials_401_on_every_agent_route() {
    let app = TestApp::builder()
        .env("API_KEY_CACHE_TTL_MS", "0")
        .spawn()
        .await;
    let visitor = new_caller();
    let id = app.create_conversation(visitor, 2).await.to_string();
    let secret = secret_key(&app, visitor.project).await;
    let publishable = admin::create_key(
        &app.store,
        visitor.project,
        KeyKind::Publishable,
        None,
        None,
        vec![],
    )
    .await
    .unwrap();
    // The owner's own token, and another visitor's: neither is an agent.
    let other = Caller {
        project: visitor.project,
        visitor: VisitorId(Uuid::now_v7()),
    };
    let before = app.snapshot().await;
    for (action, body) in [
        ("handoff", Some(dana())),
        ("agent-messages", Some(json!({"content": "Hi"}))),
        ("release", None),
    ] {
        for caller in [visitor, other] {
            let token = bearer(&app.token(caller));
            let (status, body) =
                json(agent_post(&app, Some(&token), &id, action, body.clone()).await).await;
            assert_eq!(
                (status, &body["error"]),
                (
                    403,
                    &json!({"message": chat_agents::SESSION_TOKEN_REFUSAL, "code": "FORBIDDEN"})
                ),
                "{action}"
            );
        }
        let response = agent_post(&app, None, &id, action, body.clone()).await;
        assert_eq!(response.headers()["www-authenticate"], "Bearer", "{action}");
        assert_eq!(response.status(), 401);
        let unknown = chat_domain::api_key::SecretKey::generate();
        for bad in [
            unknown.expose(),
            "sk_short",
            publishable.as_str(),
            "not-a-token",
        ] {
            let response = agent_post(&app, Some(&bearer(bad)), &id, action, body.clone()).await;
            assert_eq!(
                response.headers()["www-authenticate"],
                "Bearer error=\"invalid_token\"",
                "{action} {bad}"
            );
            let (status, body) = json(response).await;
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (401, Some("UNAUTHORIZED"))
            );
        }
    }
    assert_eq!(app.snapshot().await, before, "nothing stored changed");
    // The project's key itself works, until it is revoked.
    let server = bearer(&secret);
    assert_eq!(
        agent_post(&app, Some(&server), &id, "release", None)
            .await
            .status(),
        200
    );
    admin::change_key(
        &app.store,
        visitor.project,
        &secret,
        chat_storage::api_keys::KeyChange {
            revoke: true,
            ..chat_storage::api_keys::KeyChange::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        agent_post(&app, Some(&server), &id, "release", None)
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn over_the_read_limit_an_agent_route_is_429_and_writes_nothing() {
    let app = TestApp::builder()
        .env("RATE_LIMIT_READS_PER_PROJECT", "2")
        .spawn()
        .await;
    let visitor = new_caller();
    let agent = bearer(&secret_key(&app, visitor.project).await);
    let id = app.create_conversation(visitor, 2).await.to_string();
    for _ in 0..2 {
        let response = agent_post(&app, Some(&agent), &id, "handoff", Some(dana())).await;
        assert_eq!(response.status(), 200);
    }
    let before = app.snapshot().await;
    for (action, body) in [
        ("handoff", Some(json!({"humanAgent": {"name": "Eli"}}))),
        ("agent-messages", Some(json!({"content": "Hi"}))),
        ("release", None),
    ] {
        let response = agent_post(&app, Some(&agent), &id, action, body).await;
        assert!(response.headers().contains_key("retry-after"), "{action}");
        let (status, body) = json(response).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (429, Some("RATE_LIMIT_EXCEEDED")),
            "{action}"
        );
    }
    assert_eq!(
        app.snapshot().await,
        before,
        "nothing written past the limit"
    );
}
