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
        fallback_message: None,
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
        .pushing()
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
    // From the table's stream, after the write: a handoff and an agent message list the
    // conversation's sockets to push to (one Query); release pushes nothing.
    let cases = [
        (
            "handoff",
            Some(dana()),
            200,
            vec!["UpdateItem"],
            vec!["Query:live"],
        ),
        (
            "agent-messages",
            Some(json!({"content": "Hello"})),
            201,
            vec!["GetItem", "TransactWriteItems"],
            vec!["Query:live"],
        ),
        ("release", None, 200, vec!["UpdateItem"], vec![]),
        ("release", None, 200, vec!["UpdateItem"], vec![]),
    ];
    for (action, body, want, calls, live) in cases {
        // What the set-up and the previous action pushed is pushed before the count.
        app.pushed().await;
        app.calls.clear();
        let response = agent_post(&app, Some(&agent), &id, action, body).await;
        assert_eq!(response.status(), want, "{action}");
        assert_eq!(app.calls.data_calls(), calls, "{action}");
        assert_eq!(app.calls.round_trips(), calls.len(), "{action}");
        app.pushed().await;
        assert_eq!(app.calls.live_calls(), live, "{action}");
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

/// `GET /v2/conversations?<query>` with `auth`.
async fn list(app: &TestApp, auth: &str, query: &str) -> (u16, Value) {
    json(
        app.http
            .get(format!("{}/v2/conversations?{query}", app.base))
            .header("authorization", auth)
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn scope_project_pages_through_every_visitors_conversations_both_ways() {
    let app = TestApp::builder().spawn().await;
    let first = new_caller();
    let project = first.project;
    let agent = bearer(&secret_key(&app, project).await);
    let mut all = Vec::new();
    for visitor in 0..3 {
        let caller = Caller {
            project,
            visitor: if visitor == 0 {
                first.visitor
            } else {
                VisitorId(Uuid::now_v7())
            },
        };
        for n in 0..15 {
            // Some with messages (their lastMessage), most without; equal times break by id.
            all.push(app.create_conversation(caller, n % 3).await.to_string());
        }
    }
    // The project's own conversation (made with its key) is one of the project's too.
    let own = app
        .create_conversation(Caller::project_scope(ProjectId(project.0)), 1)
        .await
        .to_string();
    all.push(own.clone());
    // Another project's conversations never appear.
    let elsewhere = app.create_conversation(new_caller(), 1).await.to_string();
    all.sort();

    // Warm the key cache and the limit overrides, so the list's own calls are counted.
    list(&app, &agent, "scope=project&limit=1").await;
    let mut seen: Vec<Vec<String>> = Vec::new();
    for dir in ["desc", "asc"] {
        let mut pages = Vec::new();
        let mut offset = 0;
        loop {
            app.calls.clear();
            let (status, page) = list(
                &app,
                &agent,
                &format!("scope=project&limit=20&offset={offset}&orderDir={dir}"),
            )
            .await;
            assert_eq!(status, 200, "{page}");
            // One bounded Query of the index beside the counters, then the newest messages.
            assert_eq!(app.calls.round_trips(), 2, "{:?}", app.calls.entries());
            let data = app.calls.data_calls();
            assert_eq!(
                data.iter().filter(|c| *c == "Query").count(),
                1 + page["data"].as_array().unwrap().len(),
                "{data:?}"
            );
            assert_eq!(page["total"], 46);
            assert_eq!(
                (page["limit"].as_u64(), page["offset"].as_u64()),
                (Some(20), Some(offset))
            );
            for listed in page["data"].as_array().unwrap() {
                let has_messages = listed["lastMessage"].is_object();
                assert_eq!(listed["lastMessage"].is_null(), !has_messages);
                assert!(listed.get("messages").is_none());
            }
            pages.extend(ids(&page));
            if page["total"].as_u64().unwrap() <= offset + 20 {
                break;
            }
            offset += 20;
        }
        assert_eq!(offset, 40, "three pages: 20, 20, 6");
        let mut sorted = pages.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(
            sorted, all,
            "{dir}: every conversation once, no other project's"
        );
        assert!(!pages.contains(&elsewhere));
        seen.push(pages);
    }
    let mut reversed = seen[1].clone();
    reversed.reverse();
    assert_eq!(
        seen[0], reversed,
        "ascending is descending backwards: ties by id both ways"
    );

    // Filters and orders apply as for a visitor's list.
    let (status, by_title) = list(
        &app,
        &agent,
        "scope=project&orderBy=id&orderDir=asc&limit=100",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(ids(&by_title), all);
    let (status, closed) = list(&app, &agent, "scope=project&status=closed").await;
    assert_eq!((status, closed["total"].as_u64()), (200, Some(0)));

    // Without scope, a secret key lists only the conversations no visitor owns (§9).
    let (status, mine) = list(&app, &agent, "limit=100").await;
    assert_eq!(status, 200);
    assert_eq!(ids(&mine), [own]);
    // A visitor's own list is unchanged: its 15.
    let (status, theirs) = list(&app, &bearer(&app.token(first)), "limit=100").await;
    assert_eq!((status, theirs["total"].as_u64()), (200, Some(15)));
}

#[tokio::test]
async fn scope_project_with_a_session_token_is_403_and_a_bad_scope_400() {
    let app = TestApp::builder().spawn().await;
    let visitor = new_caller();
    app.create_conversation(visitor, 1).await;
    let token = bearer(&app.token(visitor));
    let (status, body) = json(
        app.http
            .get(format!("{}/v2/conversations?scope=project", app.base))
            .header("authorization", &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, &body["error"]),
        (
            403,
            &json!({"message": conversations::PROJECT_SCOPE_REFUSAL, "code": "FORBIDDEN"})
        )
    );
    let agent = bearer(&secret_key(&app, visitor.project).await);
    for auth in [&token, &agent] {
        let (status, body) = list(&app, auth, "scope=everything").await;
        assert_eq!(
            (status, body["error"]["details"]["field"].as_str()),
            (400, Some("scope"))
        );
    }
    let response = app
        .http
        .get(format!("{}/v2/conversations?scope=project", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn a_conversation_stored_before_the_project_index_joins_it_at_its_next_write_or_by_backfill()
{
    let app = TestApp::builder().instant_answers().spawn().await;
    let visitor = new_caller();
    let agent = bearer(&secret_key(&app, visitor.project).await);
    let legacy = |id: String| {
        let app = &app;
        async move {
            // As a conversation written before the index existed: without its attribute.
            app.dynamo
                .update_item()
                .table_name(&app.table)
                .key(
                    "pk",
                    chat_storage::items::string(chat_storage::keys::conversation_pk(
                        visitor.project,
                        Uuid::parse_str(&id).unwrap(),
                    )),
                )
                .key("sk", chat_storage::items::string("C"))
                .update_expression("REMOVE gsi2pk")
                .send()
                .await
                .unwrap();
            id
        }
    };
    let sent = legacy(app.create_conversation(visitor, 2).await.to_string()).await;
    let closed = legacy(app.create_conversation(visitor, 2).await.to_string()).await;
    let handed = legacy(app.create_conversation(visitor, 2).await.to_string()).await;
    let untouched = legacy(app.create_conversation(visitor, 1).await.to_string()).await;
    let (_, page) = list(&app, &agent, "scope=project").await;
    assert_eq!(page["total"], 0);

    // A turn (the send route), a close and a handoff each put it back in the index.
    let response = send(&app, visitor, &sent, "Back again").await;
    assert_eq!(response.status(), 200);
    let (status, _) = json(
        app.close(&closed, Some(&bearer(&app.token(visitor))), None)
            .await,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) =
        json(agent_post(&app, Some(&agent), &handed, "handoff", Some(dana())).await).await;
    assert_eq!(status, 200);
    let (_, page) = list(&app, &agent, "scope=project&orderBy=id").await;
    let mut want = vec![sent, closed, handed];
    want.sort();
    want.reverse();
    assert_eq!(ids(&page), want);

    // One never written again is put there by the operator's backfill, once.
    assert_eq!(app.store.backfill_project_index().await.unwrap(), 1);
    assert_eq!(app.store.backfill_project_index().await.unwrap(), 0);
    let (_, page) = list(&app, &agent, "scope=project&orderBy=id").await;
    want.push(untouched);
    want.sort();
    want.reverse();
    assert_eq!(ids(&page), want);
}
