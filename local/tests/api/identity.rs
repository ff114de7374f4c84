//! Keys, the project's public settings and visitor sessions (API.md §6-8), as a widget that
//! knows only its publishable key sees them, and as an attacker probing them would.

use chat_domain::api_key::KeyKind;
use chat_domain::ids::{Caller, ProjectId, VisitorId};
use chat_domain::session::Claims;
use chat_local::admin;
use chat_storage::api_keys::KeyChange;
use serde_json::{Value, json};
use uuid::Uuid;

use chat_testkit::{TestApp, bearer, json, user};

const SHOP: &str = "https://shop.example";

/// A project on the free plan with a publishable key (allowing `origins`) and its key.
async fn project_with_key(app: &TestApp, origins: &[&str]) -> (ProjectId, String) {
    let project = ProjectId(Uuid::now_v7());
    admin::create_project(&app.store, project, chat_domain::assistant::Plan::Free)
        .await
        .unwrap();
    let key = admin::create_key(
        &app.store,
        project,
        KeyKind::Publishable,
        Some("widget".into()),
        None,
        origins.iter().map(|o| (*o).to_owned()).collect(),
    )
    .await
    .unwrap();
    (project, key)
}

async fn current(app: &TestApp, query: &str, origin: Option<&str>) -> reqwest::Response {
    let mut request = app
        .http
        .get(format!("{}/v2/projects/current{query}", app.base));
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    request.send().await.unwrap()
}

async fn init(app: &TestApp, body: &Value, origin: Option<&str>) -> reqwest::Response {
    let mut request = app
        .http
        .post(format!("{}/v2/identity/init", app.base))
        .json(body);
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    request.send().await.unwrap()
}

async fn me(app: &TestApp, auth: &str) -> (u16, Value) {
    json(
        app.http
            .get(format!("{}/v2/identity/me", app.base))
            .header("authorization", auth)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn a_widget_with_only_a_publishable_key_reads_the_settings_gets_a_session_and_chats() {
    let app = TestApp::builder().instant_answers().spawn().await;
    let (project, key) = project_with_key(&app, &[SHOP]).await;
    app.store
        .set_public(project, Some("Acme Store"), None)
        .await
        .unwrap();

    app.calls.clear();
    let response = current(&app, &format!("?apiKey={key}"), Some(SHOP)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "public, max-age=60");
    assert_eq!(response.headers()["access-control-allow-origin"], SHOP);
    let (_, body) = json(response).await;
    assert_eq!(body["object"], "project");
    assert_eq!(body["id"], project.0.to_string());
    assert_eq!(body["name"], "Acme Store");
    assert_eq!(body["chatWidgetConfig"]["brandColor"], "#2563eb");
    assert_eq!(body["chatWidgetConfig"]["quickPrompts"], json!([]));
    assert_eq!(
        body["chatWidgetConfig"].as_object().unwrap().len(),
        11,
        "every key of §7"
    );
    assert_eq!(
        app.calls.calls(),
        ["BatchGetItem"],
        "the key and its project together"
    );
    // Warm: the process answers from its cache, reading nothing.
    app.calls.clear();
    assert_eq!(
        current(&app, &format!("?apiKey={key}"), Some(SHOP))
            .await
            .status(),
        200
    );
    assert!(app.calls.calls().is_empty(), "{:?}", app.calls.calls());

    let response = init(
        &app,
        &json!({"apiKey": key, "saVid": "device-1"}),
        Some(SHOP),
    )
    .await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["access-control-allow-origin"], SHOP);
    let (_, first) = json(response).await;
    let visitor = first["visitor"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        first["visitor"],
        json!({"object": "visitor", "id": visitor, "type": "anonymous",
               "externalId": null, "name": null, "avatarUrl": null})
    );
    let token = first["sessionToken"].as_str().unwrap().to_owned();
    let claims = app.app.edge.auth.verify_claims(&token).unwrap();
    assert_eq!(claims.pid, project.0);
    assert_eq!(claims.sub.to_string(), visitor);
    assert_eq!(claims.exp - claims.iat, 24 * 3600);

    // The same device again: the same visitor, a fresh token, 200.
    let (status, again) =
        json(init(&app, &json!({"apiKey": key, "saVid": "device-1"}), None).await).await;
    assert_eq!(status, 200);
    assert_eq!(again["visitor"]["id"], visitor.as_str());

    let (status, body) = me(&app, &bearer(&token)).await;
    assert_eq!((status, body["id"].as_str()), (200, Some(visitor.as_str())));

    // The session token works on the Part 1 routes.
    let auth = bearer(&token);
    let answer = app
        .http
        .post(format!("{}/v2/chat/completions", app.base))
        .header("authorization", &auth)
        .json(&json!({"messages": [user("Hello")]}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let (_, answer) = json(answer).await;
    let conversation = answer["conversationId"].as_str().unwrap();
    let (status, stored) = json(app.get(conversation, Some(&auth)).await).await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["messages"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn twenty_racing_first_inits_of_a_device_create_one_visitor() {
    let app = TestApp::builder().spawn().await;
    let (_, key) = project_with_key(&app, &[]).await;
    let body = json!({"apiKey": key, "saVid": "racing-device"});
    let results = futures_util::future::join_all((0..20).map(|_| {
        let (app, body) = (&app, &body);
        async move { json(init(app, body, None).await).await }
    }))
    .await;
    let created = results.iter().filter(|(status, _)| *status == 201).count();
    assert_eq!(created, 1, "{results:?}");
    assert!(
        results
            .iter()
            .all(|(status, _)| *status == 200 || *status == 201)
    );
    let ids: std::collections::BTreeSet<&str> = results
        .iter()
        .map(|(_, body)| body["visitor"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 1, "one visitor: {ids:?}");
    let visitors = app
        .snapshot()
        .await
        .iter()
        .filter(|item| chat_storage::items::key_of(item).1 == chat_storage::keys::VISITOR_SK)
        .count();
    assert_eq!(visitors, 1);
}

#[tokio::test]
async fn bad_keys_and_device_ids_are_refused_alike_and_write_nothing() {
    let app = TestApp::builder().spawn().await;
    let (project, key) = project_with_key(&app, &[SHOP]).await;
    let secret = admin::create_key(&app.store, project, KeyKind::Secret, None, None, vec![])
        .await
        .unwrap();
    let revoked = admin::create_key(
        &app.store,
        project,
        KeyKind::Publishable,
        None,
        None,
        vec![],
    )
    .await
    .unwrap();
    admin::change_key(
        &app.store,
        project,
        &revoked,
        KeyChange {
            revoke: true,
            ..KeyChange::default()
        },
    )
    .await
    .unwrap();
    let other_project_key = project_with_key(&app, &[]).await.1;
    let unknown = chat_domain::api_key::PublishableKey::generate(project);
    let before = app.snapshot().await;

    // Missing or empty: 400 naming the parameter.
    for query in ["", "?apiKey=", "?apiKey=%20"] {
        let (status, body) = json(current(&app, query, None).await).await;
        assert_eq!(
            (status, body["error"]["details"]["field"].as_str()),
            (400, Some("apiKey")),
            "{query}"
        );
    }
    // Unknown, malformed, revoked, or a secret key where a publishable one goes: one 401,
    // word for word, and no challenge (the key is not in the Authorization header).
    let mut refusals = Vec::new();
    for bad in [
        unknown.as_str(),
        "pk_nonsense",
        revoked.as_str(),
        secret.as_str(),
    ] {
        let response = current(&app, &format!("?apiKey={bad}"), None).await;
        assert!(response.headers().get("www-authenticate").is_none());
        refusals.push(json(response).await);
        let response = init(&app, &json!({"apiKey": bad, "saVid": "d"}), None).await;
        refusals.push(json(response).await);
    }
    for (status, body) in &refusals {
        assert_eq!(*status, 401);
        assert_eq!(
            *body,
            json!({"error": {"message": "Invalid API key", "code": "UNAUTHORIZED"}})
        );
    }
    // An origin the key does not allow: 403 and nothing written.
    let (status, body) = json(
        current(
            &app,
            &format!("?apiKey={key}"),
            Some("https://evil.example"),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (403, Some("Origin not allowed for this API key"))
    );
    let (status, _) = json(
        init(
            &app,
            &json!({"apiKey": key, "saVid": "d"}),
            Some("https://evil.example"),
        )
        .await,
    )
    .await;
    assert_eq!(status, 403);
    // Another project's key still works for its own project only: the visitor it creates
    // is that project's.
    let (status, body) = json(
        init(
            &app,
            &json!({"apiKey": other_project_key, "saVid": "x"}),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, 201);
    let token = body["sessionToken"].as_str().unwrap();
    assert_ne!(
        app.app.edge.auth.verify_claims(token).unwrap().pid,
        project.0
    );
    let after_other = app.snapshot().await;
    // Device ids: missing or empty 400, over 100 characters 422; a body that is no object 400.
    for (body, status, field) in [
        (json!({"apiKey": key}), 400, "saVid"),
        (json!({"apiKey": key, "saVid": ""}), 400, "saVid"),
        (json!({"apiKey": key, "saVid": 7}), 400, "saVid"),
        (
            json!({"apiKey": key, "saVid": "é".repeat(101)}),
            422,
            "saVid",
        ),
        (json!({"saVid": "d"}), 400, "apiKey"),
        (json!(["apiKey"]), 400, "body"),
    ] {
        let (got, error) = json(init(&app, &body, None).await).await;
        assert_eq!(
            (got, error["error"]["details"]["field"].as_str()),
            (status, Some(field)),
            "{body}"
        );
    }
    let mut expected = before;
    let mut after = app.snapshot().await;
    // Only the other project's init wrote (its device and visitor).
    assert_eq!(after_other.len(), expected.len() + 2);
    after.retain(|item| !after_other.contains(item) || expected.contains(item));
    expected.retain(|item| after.contains(item));
    assert_eq!(after, expected);
}

#[tokio::test]
async fn a_revoked_key_is_refused_once_the_cache_time_has_passed() {
    let app = TestApp::builder()
        .env("API_KEY_CACHE_TTL_MS", "300")
        .spawn()
        .await;
    let (project, key) = project_with_key(&app, &[]).await;
    assert_eq!(
        current(&app, &format!("?apiKey={key}"), None)
            .await
            .status(),
        200
    );
    admin::change_key(
        &app.store,
        project,
        &key,
        KeyChange {
            revoke: true,
            ..KeyChange::default()
        },
    )
    .await
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(
        current(&app, &format!("?apiKey={key}"), None)
            .await
            .status(),
        401
    );
    let (status, _) = json(init(&app, &json!({"apiKey": key, "saVid": "d"}), None).await).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn an_init_flood_from_one_address_is_429_and_creates_nothing_past_the_limit() {
    let app = TestApp::builder()
        .env("RATE_LIMIT_INITS_PER_IP", "3")
        .spawn()
        .await;
    let (_, key) = project_with_key(&app, &[]).await;
    for n in 0..3 {
        let (status, _) = json(
            init(
                &app,
                &json!({"apiKey": key, "saVid": format!("d{n}")}),
                None,
            )
            .await,
        )
        .await;
        assert_eq!(status, 201);
    }
    let before = app.snapshot().await;
    for n in 3..6 {
        let response = init(
            &app,
            &json!({"apiKey": key, "saVid": format!("d{n}")}),
            None,
        )
        .await;
        assert!(response.headers().get("retry-after").is_some());
        let (status, body) = json(response).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (429, Some("RATE_LIMIT_EXCEEDED"))
        );
    }
    assert_eq!(
        app.snapshot().await,
        before,
        "no device or visitor past the limit"
    );
}

#[tokio::test]
async fn me_answers_for_stored_and_identified_visitors_and_refuses_the_rest() {
    let app = TestApp::builder().spawn().await;
    let (project, key) = project_with_key(&app, &[]).await;
    // A token for a visitor that init never created, without `ext`: 401.
    let ghost = Caller {
        project,
        visitor: VisitorId(Uuid::now_v7()),
    };
    let (status, _) = me(&app, &bearer(&app.token(ghost))).await;
    assert_eq!(status, 401);
    // A site's backend identifies its visitor in the token: no read at all.
    let mut claims = Claims::new(ghost, 600, None);
    claims.ext = Some("user-42".into());
    claims.name = Some("Ada".into());
    claims.picture = Some("https://shop.example/ada.png".into());
    app.calls.clear();
    let (status, body) = me(&app, &bearer(&app.token_with(&claims))).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"object": "visitor", "id": ghost.visitor.0, "type": "identified",
               "externalId": "user-42", "name": "Ada", "avatarUrl": "https://shop.example/ada.png"})
    );
    assert!(app.calls.data_calls().is_empty());
    // A secret key is the project's, not a visitor's: 403; an unknown one 401.
    let secret = admin::create_key(&app.store, project, KeyKind::Secret, None, None, vec![])
        .await
        .unwrap();
    assert_eq!(me(&app, &bearer(&secret)).await.0, 403);
    let guess = chat_domain::api_key::SecretKey::generate();
    assert_eq!(me(&app, &bearer(guess.expose())).await.0, 401);
    // A publishable key is no bearer credential.
    assert_eq!(me(&app, &bearer(&key)).await.0, 401);
    assert_eq!(me(&app, "Basic abc").await.0, 401);
}

#[tokio::test]
async fn a_widget_on_a_site_the_deployment_does_not_list_is_served_by_its_keys_origins() {
    // The deployment allows only its own site; the key allows the widget's.
    let app = TestApp::builder()
        .env("CORS_ALLOWED_ORIGINS", "https://dashboard.example")
        .spawn()
        .await;
    let widget = "https://widget.example";
    let (_, key) = project_with_key(&app, &[widget]).await;
    let preflight = app
        .http
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/v2/identity/init", app.base),
        )
        .header("origin", widget)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(preflight.headers()["access-control-allow-origin"], widget);
    let response = init(&app, &json!({"apiKey": key, "saVid": "w"}), Some(widget)).await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["access-control-allow-origin"], widget);
    let response = current(&app, &format!("?apiKey={key}"), Some(widget)).await;
    assert_eq!(response.headers()["access-control-allow-origin"], widget);
    // Another site: refused, and not readable by it.
    let response = current(
        &app,
        &format!("?apiKey={key}"),
        Some("https://evil.example"),
    )
    .await;
    assert_eq!(response.status(), 403);
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn a_secret_key_has_its_projects_scope_on_the_part_one_routes() {
    let app = TestApp::builder().instant_answers().spawn().await;
    let (project, _) = project_with_key(&app, &[]).await;
    let secret = admin::create_key(&app.store, project, KeyKind::Secret, None, None, vec![])
        .await
        .unwrap();
    let server = bearer(&secret);
    // A completion made with it is stored in a conversation no visitor owns.
    let answer = app
        .http
        .post(format!("{}/v2/chat/completions", app.base))
        .header("authorization", &server)
        .json(&json!({"messages": [user("Summarise our returns policy")]}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let (_, answer) = json(answer).await;
    let own = answer["conversationId"].as_str().unwrap().to_owned();
    let (status, stored) = json(app.get(&own, Some(&server)).await).await;
    assert_eq!(
        (status, stored["messages"].as_array().map(Vec::len)),
        (200, Some(2))
    );
    // For a visitor of the project it does not exist.
    let visitor = Caller {
        project,
        visitor: VisitorId(Uuid::now_v7()),
    };
    let (status, body) = json(app.get(&own, Some(&bearer(&app.token(visitor)))).await).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("CONVERSATION_NOT_FOUND"))
    );
    let refused = app
        .http
        .post(format!("{}/v2/chat/completions", app.base))
        .header("authorization", bearer(&app.token(visitor)))
        .json(&json!({"messages": [user("hi")], "conversationId": own}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 404);
    // It reads and closes any visitor's conversation of its project.
    let theirs = app.create_conversation(visitor, 2).await.to_string();
    let (status, _) = json(app.get(&theirs, Some(&server)).await).await;
    assert_eq!(status, 200);
    let (status, body) = json(app.close(&theirs, Some(&server), None).await).await;
    assert_eq!((status, body["success"].as_bool()), (200, Some(true)));
    // Another project's conversation does not exist for it.
    let stranger = app
        .create_conversation(chat_testkit::new_caller(), 1)
        .await
        .to_string();
    assert_eq!(app.get(&stranger, Some(&server)).await.status(), 404);
    // Its list holds the project's own conversations, no visitor's (§9).
    let (status, list) = json(
        app.http
            .get(format!("{}/v2/conversations", app.base))
            .header("authorization", &server)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{list}");
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [own.as_str()]);
    assert_eq!(list["total"], 1);
    // A token naming the nil visitor (the project's own id) is refused.
    let nil = Caller {
        project,
        visitor: VisitorId(Uuid::nil()),
    };
    assert_eq!(
        app.get(&own, Some(&bearer(&app.token(nil)))).await.status(),
        401
    );
}

#[tokio::test]
async fn unknown_malformed_and_revoked_secret_keys_are_401_on_the_part_one_routes() {
    let app = TestApp::builder()
        .env("API_KEY_CACHE_TTL_MS", "0")
        .spawn()
        .await;
    let (project, publishable) = project_with_key(&app, &[]).await;
    let secret = admin::create_key(&app.store, project, KeyKind::Secret, None, None, vec![])
        .await
        .unwrap();
    let id = app
        .create_conversation(
            Caller {
                project,
                visitor: VisitorId(Uuid::now_v7()),
            },
            1,
        )
        .await
        .to_string();
    assert_eq!(app.get(&id, Some(&bearer(&secret))).await.status(), 200);
    admin::change_key(
        &app.store,
        project,
        &secret,
        KeyChange {
            revoke: true,
            ..KeyChange::default()
        },
    )
    .await
    .unwrap();
    let guess = chat_domain::api_key::SecretKey::generate();
    for bad in [
        secret.as_str(),
        guess.expose(),
        "sk_short",
        publishable.as_str(),
    ] {
        let response = app.get(&id, Some(&bearer(bad))).await;
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer error=\"invalid_token\"",
            "{bad}"
        );
        let (status, body) = json(response).await;
        assert_eq!(
            (status, body),
            (
                401,
                json!({"error": {"message": "Invalid or missing session token", "code": "UNAUTHORIZED"}})
            ),
            "{bad}"
        );
    }
}
