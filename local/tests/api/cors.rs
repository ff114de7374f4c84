//! CORS as a browser sees it: every response of every route (JSON, errors, streams)
//! carries `Access-Control-Allow-Origin` for an allowed origin and nothing for another,
//! and the local server answers the preflight as API Gateway would.

use chat_edge::cors::{ALLOW_HEADERS, EXPOSE_HEADERS};
use serde_json::json;

use chat_testkit::{TestApp, bearer, new_caller, spawn_app};

const SHOP: &str = "https://shop.example";
const OTHER: &str = "https://evil.example";

async fn app_allowing_the_shop() -> TestApp {
    TestApp::builder()
        .env(
            "CORS_ALLOWED_ORIGINS",
            "https://shop.example,https://www.shop.example",
        )
        .env("OFFLINE_FIRST_TOKEN_MS", "0")
        .env("OFFLINE_TOKEN_GAP_MS", "0")
        .spawn()
        .await
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).map(|v| v.to_str().unwrap())
}

fn assert_readable_by(response: &reqwest::Response, origin: &str) {
    assert_eq!(
        header(response, "access-control-allow-origin"),
        Some(origin)
    );
    assert_eq!(
        header(response, "access-control-expose-headers"),
        Some(EXPOSE_HEADERS)
    );
    assert_eq!(header(response, "vary"), Some("Origin"));
}

async fn get_from(app: &TestApp, id: &str, auth: Option<&str>, origin: &str) -> reqwest::Response {
    let mut request = app
        .http
        .get(format!("{}/v2/conversations/{id}", app.base))
        .header("origin", origin);
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn an_allowed_origin_can_read_answers_and_errors_of_every_route() {
    let app = app_allowing_the_shop().await;
    let caller = new_caller();
    let id = app.create_conversation(caller, 2).await.to_string();
    let token = bearer(&app.token(caller));

    let ok = get_from(&app, &id, Some(&token), SHOP).await;
    assert_eq!(ok.status(), 200);
    assert_readable_by(&ok, SHOP);

    let unauthorized = get_from(&app, &id, None, SHOP).await;
    assert_eq!(unauthorized.status(), 401);
    assert_readable_by(&unauthorized, SHOP);
    assert!(
        EXPOSE_HEADERS.contains("www-authenticate"),
        "the challenge is readable"
    );

    let closed = app
        .http
        .post(format!("{}/v2/conversations/{id}/close", app.base))
        .header("authorization", &token)
        .header("origin", "https://www.shop.example")
        .send()
        .await
        .unwrap();
    assert_eq!(closed.status(), 200);
    assert_readable_by(&closed, "https://www.shop.example");

    let answered = app
        .complete_from(
            caller,
            &json!({"messages": [{"role": "user", "content": "Hello"}]}),
            Some(SHOP),
        )
        .await;
    assert_eq!(answered.status(), 200);
    assert_readable_by(&answered, SHOP);
    assert!(EXPOSE_HEADERS.contains("x-conversation-id"));
}

#[tokio::test]
async fn another_origin_gets_no_cors_header() {
    let app = app_allowing_the_shop().await;
    let caller = new_caller();
    let id = app.create_conversation(caller, 2).await.to_string();
    let token = bearer(&app.token(caller));
    for response in [
        get_from(&app, &id, Some(&token), OTHER).await,
        get_from(&app, &id, None, OTHER).await,
        app.complete_from(
            caller,
            &json!({"stream": true, "messages": [{"role": "user", "content": "Hi"}]}),
            Some(OTHER),
        )
        .await,
    ] {
        assert!(
            !response
                .headers()
                .keys()
                .any(|name| name.as_str().starts_with("access-control-")),
            "{:?}",
            response.headers()
        );
        // The answer depends on Origin, so caches must keep them apart.
        assert_eq!(header(&response, "vary"), Some("Origin"));
    }
}

#[tokio::test]
async fn a_streamed_completion_carries_the_cors_headers() {
    let app = app_allowing_the_shop().await;
    let caller = new_caller();
    let response = app
        .complete_from(
            caller,
            &json!({"stream": true, "messages": [{"role": "user", "content": "Hello"}]}),
            Some(SHOP),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), Some("text/event-stream"));
    assert_readable_by(&response, SHOP);
    assert!(header(&response, "x-conversation-id").is_some());
    let body = response.text().await.unwrap();
    assert!(body.ends_with("data: [DONE]\n\n"), "{body}");
}

#[tokio::test]
async fn the_local_server_answers_the_preflight_of_each_route() {
    let app = app_allowing_the_shop().await;
    let id = uuid::Uuid::now_v7();
    let routes = [
        (format!("/v2/conversations/{id}"), "GET,OPTIONS"),
        (format!("/v2/conversations/{id}/close"), "POST,OPTIONS"),
        ("/v2/chat/completions".to_owned(), "POST,OPTIONS"),
        (format!("/v2/conversations/{id}/handoff"), "POST,OPTIONS"),
        (
            format!("/v2/conversations/{id}/agent-messages"),
            "POST,OPTIONS",
        ),
        (format!("/v2/conversations/{id}/release"), "POST,OPTIONS"),
    ];
    for (path, methods) in routes {
        let preflight = |origin: &'static str| {
            app.http
                .request(reqwest::Method::OPTIONS, format!("{}{path}", app.base))
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .header(
                    "access-control-request-headers",
                    "authorization,content-type",
                )
                .send()
        };
        let allowed = preflight(SHOP).await.unwrap();
        assert_eq!(allowed.status(), 204, "{path}");
        assert_eq!(header(&allowed, "access-control-allow-origin"), Some(SHOP));
        assert_eq!(
            header(&allowed, "access-control-allow-methods"),
            Some(methods)
        );
        assert_eq!(
            header(&allowed, "access-control-allow-headers"),
            Some(ALLOW_HEADERS)
        );
        assert_eq!(header(&allowed, "access-control-max-age"), Some("600"));

        let refused = preflight(OTHER).await.unwrap();
        assert_eq!(refused.status(), 204);
        assert_eq!(
            header(&refused, "access-control-allow-origin"),
            None,
            "{path}: the browser refuses the call"
        );
    }
    assert!(
        app.snapshot().await.is_empty(),
        "a preflight stores nothing"
    );
}

#[tokio::test]
async fn locally_any_origin_is_allowed_by_default() {
    let app = spawn_app().await;
    let caller = new_caller();
    let id = app.create_conversation(caller, 0).await.to_string();
    let response = get_from(
        &app,
        &id,
        Some(&bearer(&app.token(caller))),
        "http://localhost:5173",
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_readable_by(&response, "*");
}

#[tokio::test]
async fn an_unknown_route_and_a_wrong_method_are_json_errors_a_browser_can_read() {
    let app = app_allowing_the_shop().await;
    // The preflight of a path no route has succeeds, so the browser goes on to the request
    // and sees the 404 instead of a CORS failure.
    let preflight = app
        .http
        .request(reqwest::Method::OPTIONS, format!("{}/v2/nowhere", app.base))
        .header("origin", SHOP)
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(
        header(&preflight, "access-control-allow-origin"),
        Some(SHOP)
    );
    let cases = [
        (reqwest::Method::GET, "/v2/nowhere", 404, "NOT_FOUND"),
        (
            reqwest::Method::POST,
            "/v2/chat/completions/extra",
            404,
            "NOT_FOUND",
        ),
        (
            reqwest::Method::DELETE,
            "/v2/conversations/x",
            405,
            "METHOD_NOT_ALLOWED",
        ),
        (
            reqwest::Method::GET,
            "/v2/chat/completions",
            405,
            "METHOD_NOT_ALLOWED",
        ),
    ];
    for (method, path, status, code) in cases {
        let response = app
            .http
            .request(method.clone(), format!("{}{path}", app.base))
            .header("origin", SHOP)
            .header("x-request-id", "client-req-7")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{method} {path}");
        assert_readable_by(&response, SHOP);
        assert_eq!(header(&response, "x-request-id"), Some("client-req-7"));
        assert_eq!(header(&response, "content-type"), Some("application/json"));
        if status == 405 {
            assert!(header(&response, "allow").is_some(), "{method} {path}");
        }
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{method} {path}");
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    }
    // Without a sane id of its own, the caller still gets one.
    let response = app
        .http
        .get(format!("{}/v2/nowhere", app.base))
        .send()
        .await
        .unwrap();
    assert!(!header(&response, "x-request-id").unwrap_or("").is_empty());
}
