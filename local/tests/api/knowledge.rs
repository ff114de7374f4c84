//! The knowledge routes (API.md §13–15) over HTTP: sources, their sync and pages, Q&A
//! pairs and search, against sites the tests serve themselves on loopback, the embedded
//! DynamoDB and S3 engines and the real SDK clients. Each refusal changes nothing; another
//! project's keys never read, change or search these.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use chat_domain::api_key::KeyKind;
use chat_domain::assistant::Plan;
use chat_domain::ids::Caller;
use chat_local::admin;
use chat_testkit::{TestApp, bearer, json, new_caller, serve_http};
use http_body_util::Full;
use serde_json::{Value, json};

use crate::agents::secret_key;

/// A website the test changes as it goes: path → (status, content type, body).
pub type Pages = Arc<Mutex<HashMap<String, (u16, &'static str, String)>>>;

/// An HTML page with a title, a navigation bar, a heading and `body`.
pub fn html(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><title>{title}</title></head><body>\
         <header><nav><a href=\"/\">Home</a> <a href=\"/shipping\">Shipping</a></nav></header>\
         <main><h1>{title}</h1>{body}</main><footer>© Example shop</footer></body></html>"
    )
}

/// Serves `pages` on loopback; anything else is 404. `http://127.0.0.1:<port>`.
pub async fn serve_pages(pages: Pages) -> String {
    serve_http(move |req: hyper::Request<hyper::body::Incoming>| {
        let pages = pages.clone();
        async move {
            let found = pages.lock().unwrap().get(req.uri().path()).cloned();
            let (status, kind, body) = found.unwrap_or((404, "text/html", "missing".into()));
            let mut response = hyper::Response::new(Full::new(Bytes::from(body)));
            *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
            response
                .headers_mut()
                .insert("content-type", kind.parse().unwrap());
            response
        }
    })
    .await
}

/// A small shop: a home page linking to shipping and returns, robots.txt and a sitemap.
pub fn shop() -> Pages {
    let mut pages = HashMap::new();
    pages.insert(
        "/".to_owned(),
        (
            200,
            "text/html",
            html(
                "Example shop",
                "<p>Welcome to the example shop, where we sell warm wool socks.</p>\
                 <p><a href=\"/shipping\">Shipping</a> and <a href=\"/returns\">returns</a>.</p>",
            ),
        ),
    );
    pages.insert(
        "/shipping".to_owned(),
        (
            200,
            "text/html",
            html(
                "Shipping and delivery",
                "<h2>Delivery times</h2><p>Orders ship within two working days. Delivery \
                 takes three to five days.</p>",
            ),
        ),
    );
    pages.insert(
        "/returns".to_owned(),
        (
            200,
            "text/html",
            html(
                "Returns",
                "<p>Unworn socks may be sent back within 30 days for a full refund.</p>",
            ),
        ),
    );
    pages.insert(
        "/robots.txt".to_owned(),
        (
            200,
            "text/plain",
            "User-agent: *\nDisallow: /private/\n".into(),
        ),
    );
    Arc::new(Mutex::new(pages))
}

/// A project on `plan` with a secret key and a publishable key.
pub struct Project {
    /// The project, as its secret key acts.
    pub caller: Caller,
    /// `Bearer sk_…`.
    pub secret: String,
    /// `pk_…`.
    pub publishable: String,
}

/// A new project on `plan` with its keys.
pub async fn project(app: &TestApp, plan: Plan) -> Project {
    let caller = new_caller();
    app.put_project(caller, plan, None).await;
    let secret = bearer(&secret_key(app, caller.project).await);
    let publishable = admin::create_key(
        &app.store,
        caller.project,
        KeyKind::Publishable,
        None,
        None,
        vec![],
    )
    .await
    .unwrap();
    Project {
        caller,
        secret,
        publishable,
    }
}

/// `method path` with `auth` and an optional JSON `body`.
pub async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app
        .http
        .request(method.parse().unwrap(), format!("{}{path}", app.base));
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    json(request.send().await.unwrap()).await
}

/// Adds a website source at `url` and waits until its sync is done; the source after.
pub async fn add_site(app: &TestApp, project: &Project, url: &str) -> Value {
    let (status, source) = call(
        app,
        "POST",
        "/v2/knowledge/sources",
        Some(&project.secret),
        Some(json!({"type": "website", "url": url})),
    )
    .await;
    assert_eq!(status, 201, "{source}");
    assert_eq!(source["status"], "queued");
    settled(app, project, source["id"].as_str().unwrap()).await
}

/// Waits for the worker, then reads source `id`.
pub async fn settled(app: &TestApp, project: &Project, id: &str) -> Value {
    app.app.jobs.idle().await;
    let (status, source) = call(
        app,
        "GET",
        &format!("/v2/knowledge/sources/{id}"),
        Some(&project.secret),
        None,
    )
    .await;
    assert_eq!(status, 200, "{source}");
    source
}

/// The source's pages, by URL path: (status, reason).
pub async fn pages(app: &TestApp, project: &Project, id: &str) -> HashMap<String, (String, Value)> {
    let (status, list) = call(
        app,
        "GET",
        &format!("/v2/knowledge/sources/{id}/pages?limit=100"),
        Some(&project.secret),
        None,
    )
    .await;
    assert_eq!(status, 200, "{list}");
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|page| {
            let url = url::Url::parse(page["url"].as_str().unwrap()).unwrap();
            (
                url.path().to_owned(),
                (
                    page["status"].as_str().unwrap().to_owned(),
                    page["reason"].clone(),
                ),
            )
        })
        .collect()
}

/// `GET /v2/search` with the publishable key.
pub async fn search(app: &TestApp, project: &Project, q: &str) -> Vec<Value> {
    let (status, body) = call(
        app,
        "GET",
        &format!(
            "/v2/search?q={}&apiKey={}",
            urlencode(q),
            project.publishable
        ),
        None,
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["results"].as_array().unwrap().clone()
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn a_website_is_crawled_indexed_and_found_by_search_with_every_credential() {
    let app = TestApp::builder().spawn().await;
    let project = project(&app, Plan::Free).await;
    let pages_served = shop();
    let site = serve_pages(pages_served.clone()).await;

    assert!(
        search(&app, &project, "shipping").await.is_empty(),
        "no knowledge yet"
    );
    let source = add_site(&app, &project, &format!("{site}/")).await;
    assert_eq!(source["status"], "idle", "{source}");
    assert_eq!(source["maxPages"], 100, "the free plan's cap");
    assert_eq!(source["schedule"], "daily");
    let report = &source["lastSync"];
    assert_eq!(report["pagesIndexed"], 3, "{report}");
    assert_eq!(report["error"], Value::Null);
    assert!(report["finishedAt"].is_string());

    let results = search(&app, &project, "How long does shipping take?").await;
    assert_eq!(results[0]["path"], "/shipping", "{results:?}");
    assert_eq!(results[0]["url"], format!("{site}/shipping"));
    assert_eq!(results[0]["title"], "Shipping and delivery");
    assert!(
        results[0]["content"]
            .as_str()
            .unwrap()
            .contains("two working days")
    );
    let score = results[0]["score"].as_f64().unwrap();
    assert!(score > 0.0 && score <= 1.0);
    assert!(
        !results
            .iter()
            .any(|r| r["content"].as_str().unwrap().contains("Home")),
        "navigation is not content: {results:?}"
    );

    // A visitor's session token and the project's secret key search the same knowledge.
    let token = bearer(&app.token(Caller {
        visitor: chat_domain::ids::VisitorId(uuid::Uuid::now_v7()),
        ..project.caller
    }));
    for auth in [token.as_str(), project.secret.as_str()] {
        let (status, body) =
            call(&app, "GET", "/v2/search?q=refund&size=1", Some(auth), None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["results"].as_array().unwrap().len(), 1);
        assert_eq!(body["results"][0]["path"], "/returns");
    }
}

#[tokio::test]
async fn search_input_is_checked_as_the_contract_says() {
    let app = TestApp::builder().spawn().await;
    let project = project(&app, Plan::Free).await;
    let pk = &project.publishable;
    for (query, status, field) in [
        (format!("apiKey={pk}"), 400, "q"),
        (format!("q=&apiKey={pk}"), 400, "q"),
        (format!("q={}&apiKey={pk}", "a".repeat(501)), 422, "q"),
        (format!("q=a&size=0&apiKey={pk}"), 422, "size"),
        (format!("q=a&size=51&apiKey={pk}"), 422, "size"),
        (format!("q=a&size=x&apiKey={pk}"), 400, "size"),
        ("q=a".to_owned(), 400, "apiKey"),
    ] {
        let (got, body) = call(&app, "GET", &format!("/v2/search?{query}"), None, None).await;
        assert_eq!(got, status, "{query}: {body}");
        assert_eq!(body["error"]["details"]["field"], field, "{query}: {body}");
    }
    let (status, body) = call(&app, "GET", "/v2/search?q=a&apiKey=pk_nope", None, None).await;
    assert_eq!(status, 401, "{body}");
    // The key's origin list applies.
    let limited = admin::create_key(
        &app.store,
        project.caller.project,
        KeyKind::Publishable,
        None,
        None,
        vec!["https://shop.example".into()],
    )
    .await
    .unwrap();
    let response = app
        .http
        .get(format!("{}/v2/search?q=a&apiKey={limited}", app.base))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let response = app
        .http
        .get(format!("{}/v2/search?q=a&apiKey={limited}", app.base))
        .header("origin", "https://shop.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
}

#[tokio::test]
async fn source_routes_take_only_a_secret_key_and_refuse_bad_input_changing_nothing() {
    let app = TestApp::builder().spawn().await;
    let project = project(&app, Plan::Free).await;
    let sk = Some(project.secret.as_str());
    let token = bearer(&app.token(project.caller));
    let (status, body) = call(&app, "GET", "/v2/knowledge/sources", Some(&token), None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("FORBIDDEN")),
        "{body}"
    );
    let (status, _) = call(&app, "GET", "/v2/knowledge/sources", None, None).await;
    assert_eq!(status, 401);
    let (status, _) = call(
        &app,
        "GET",
        "/v2/knowledge/sources",
        Some("Bearer sk_nope"),
        None,
    )
    .await;
    assert_eq!(status, 401);

    for (body, status, field) in [
        (json!({"type": "website"}), 400, "url"),
        (
            json!({"type": "website", "url": "ftp://example.com/"}),
            422,
            "url",
        ),
        (
            json!({"type": "website", "url": "https://example.com/", "maxPages": 101}),
            422,
            "maxPages",
        ),
        (
            json!({"type": "website", "url": "https://example.com/", "schedule": "hourly"}),
            400,
            "schedule",
        ),
        (
            json!({"type": "website", "url": "https://example.com/", "exclude": ["blog/**"]}),
            422,
            "exclude",
        ),
        (json!({"type": "document", "title": "T"}), 400, "content"),
        (
            json!({"type": "document", "title": "T", "content": "x".repeat(1_000_001)}),
            422,
            "content",
        ),
        (json!({"type": "video"}), 400, "type"),
    ] {
        let (got, answer) = call(
            &app,
            "POST",
            "/v2/knowledge/sources",
            sk,
            Some(body.clone()),
        )
        .await;
        assert_eq!(got, status, "{body}: {answer}");
        assert_eq!(
            answer["error"]["details"]["field"], field,
            "{body}: {answer}"
        );
    }
    let (_, list) = call(&app, "GET", "/v2/knowledge/sources", sk, None).await;
    assert_eq!(list["total"], 0, "nothing was stored: {list}");

    let unknown = uuid::Uuid::now_v7();
    for (method, path) in [
        ("GET", format!("/v2/knowledge/sources/{unknown}")),
        ("PATCH", format!("/v2/knowledge/sources/{unknown}")),
        ("DELETE", format!("/v2/knowledge/sources/{unknown}")),
        ("POST", format!("/v2/knowledge/sources/{unknown}/sync")),
        ("GET", format!("/v2/knowledge/sources/{unknown}/pages")),
    ] {
        let body = (method == "PATCH").then(|| json!({"name": "x"}));
        let (status, answer) = call(&app, method, &path, sk, body).await;
        assert_eq!(status, 404, "{method} {path}: {answer}");
        assert_eq!(answer["error"]["code"], "NOT_FOUND");
        assert_eq!(answer["error"]["message"], "Resource not found!");
        assert_eq!(
            answer["error"]["details"],
            json!({"resource": "source", "id": unknown.to_string()})
        );
    }
    let (status, _) = call(&app, "GET", "/v2/knowledge/sources/not-a-uuid", sk, None).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn one_site_is_one_source_and_a_sync_during_a_sync_is_refused() {
    let app = TestApp::builder().spawn().await;
    let project = project(&app, Plan::Pro).await;
    let sk = Some(project.secret.as_str());
    // A site slow enough that the first sync is still running when the second is asked.
    let site = serve_http(|_req: hyper::Request<hyper::body::Incoming>| async {
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        hyper::Response::new(Full::new(Bytes::from(html(
            "Slow",
            "<p>Slow page text.</p>",
        ))))
    })
    .await;
    let (status, source) = call(
        &app,
        "POST",
        "/v2/knowledge/sources",
        sk,
        Some(json!({"type": "website", "url": format!("{site}/#top"), "maxPages": 2})),
    )
    .await;
    assert_eq!(status, 201, "{source}");
    assert_eq!(source["url"], format!("{site}/"), "normalized");
    assert_eq!(source["maxPages"], 2);
    let id = source["id"].as_str().unwrap().to_owned();

    let (status, conflict) = call(
        &app,
        "POST",
        "/v2/knowledge/sources",
        sk,
        Some(json!({"type": "website", "url": format!("{site}/?utm_source=x")})),
    )
    .await;
    assert_eq!(status, 409, "{conflict}");
    assert_eq!(
        conflict["error"]["details"],
        json!({"resource": "source", "conflictingField": "url"})
    );

    let (status, busy) = call(
        &app,
        "POST",
        &format!("/v2/knowledge/sources/{id}/sync"),
        sk,
        None,
    )
    .await;
    assert_eq!(status, 409, "{busy}");
    assert_eq!(
        busy["error"]["details"],
        json!({"resource": "source", "conflictingField": "status"})
    );
    let source = settled(&app, &project, &id).await;
    assert_eq!(source["status"], "idle", "{source}");
    let (status, queued) = call(
        &app,
        "POST",
        &format!("/v2/knowledge/sources/{id}/sync"),
        sk,
        None,
    )
    .await;
    assert_eq!(status, 202, "{queued}");
    assert_eq!(queued["status"], "queued");
    settled(&app, &project, &id).await;
}

#[tokio::test]
async fn a_page_that_changes_is_indexed_again_and_one_that_disappears_leaves_the_index() {
    let app = TestApp::builder().spawn().await;
    let project = project(&app, Plan::Free).await;
    let served = shop();
    let site = serve_pages(served.clone()).await;
    let source = add_site(&app, &project, &format!("{site}/")).await;
    let id = source["id"].as_str().unwrap().to_owned();
    assert!(!search(&app, &project, "refund").await.is_empty());

    {
        let mut pages = served.lock().unwrap();
        pages.insert(
            "/shipping".into(),
            (
                200,
                "text/html",
                html(
                    "Shipping and delivery",
                    "<p>Orders now ship the same day by courier.</p>",
                ),
            ),
        );
        pages.remove("/returns");
    }
    let (status, _) = call(
        &app,
        "POST",
        &format!("/v2/knowledge/sources/{id}/sync"),
        Some(&project.secret),
        None,
    )
    .await;
    assert_eq!(status, 202);
    let source = settled(&app, &project, &id).await;
    let report = &source["lastSync"];
    assert_eq!(
        (
            &report["pagesIndexed"],
            &report["pagesUnchanged"],
            &report["pagesRemoved"]
        ),
        (&json!(1), &json!(1), &json!(1)),
        "{report}"
    );
    let results = search(&app, &project, "courier").await;
    assert_eq!(results[0]["path"], "/shipping");
    assert!(
        search(&app, &project, "two working days")
            .await
            .iter()
            .all(|r| !r["content"].as_str().unwrap().contains("two working days")),
        "the old text is gone"
    );
    assert!(
        search(&app, &project, "refund").await.is_empty(),
        "the removed page is gone"
    );
    let pages = pages(&app, &project, &id).await;
    assert!(!pages.contains_key("/returns"), "{pages:?}");
}

#[tokio::test]
async fn qna_pairs_are_the_projects_own_and_searchable_within_a_job() {
    let app = TestApp::builder().spawn().await;
    let project = project(&app, Plan::Free).await;
    let other = self::project(&app, Plan::Free).await;
    let sk = Some(project.secret.as_str());
    let base = format!("/v2/projects/{}/qnas", project.caller.project.0);
    let (status, qna) = call(
        &app,
        "POST",
        &base,
        sk,
        Some(json!({"question": "Do you ship to Iceland?", "answer": "Yes, in 6 to 9 days."})),
    )
    .await;
    assert_eq!(status, 201, "{qna}");
    assert_eq!(qna["object"], "qna");
    let id = qna["id"].as_str().unwrap().to_owned();
    app.app.jobs.idle().await;
    let results = search(&app, &project, "ship to Iceland").await;
    assert_eq!(results[0]["title"], "Do you ship to Iceland?");
    assert_eq!(results[0]["content"], "Yes, in 6 to 9 days.");
    assert_eq!(
        (&results[0]["url"], &results[0]["path"]),
        (&Value::Null, &Value::Null)
    );

    // Another project sees none of it: its id in the path is 404, its search finds nothing.
    let (status, body) = call(&app, "GET", &base, Some(&other.secret), None).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(
        body["error"]["details"],
        json!({"resource": "project", "id": project.caller.project.0.to_string()})
    );
    assert!(search(&app, &other, "Iceland").await.is_empty());

    let (status, changed) = call(
        &app,
        "PATCH",
        &format!("{base}/{id}"),
        sk,
        Some(json!({"answer": "Yes, in 5 days."})),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["question"], "Do you ship to Iceland?");
    app.app.jobs.idle().await;
    assert_eq!(
        search(&app, &project, "Iceland").await[0]["content"],
        "Yes, in 5 days."
    );

    let (status, list) = call(&app, "GET", &format!("{base}?limit=1"), sk, None).await;
    assert_eq!(status, 200);
    assert_eq!(
        (&list["object"], &list["total"], &list["limit"]),
        (&json!("list"), &json!(1), &json!(1))
    );

    let (status, deleted) = call(&app, "DELETE", &format!("{base}/{id}"), sk, None).await;
    assert_eq!((status, deleted), (200, json!({"success": true})));
    app.app.jobs.idle().await;
    // Three publishes so far (create, change, delete): the current snapshot and the one it
    // replaced are kept, the first is gone.
    let s3 = app.app.worker.blobs.client();
    let listed = s3
        .list_objects_v2()
        .bucket(app.app.worker.blobs.bucket())
        .prefix(format!("projects/{}/index/", project.caller.project.0))
        .send()
        .await
        .unwrap();
    assert_eq!(listed.contents().len(), 2, "{listed:?}");
    let (status, gone) = call(&app, "GET", &format!("{base}/{id}"), sk, None).await;
    assert_eq!(status, 404);
    assert_eq!(
        gone["error"]["details"],
        json!({"resource": "qna", "id": id})
    );
    app.app.jobs.idle().await;
    assert!(search(&app, &project, "Iceland").await.is_empty());
    for body in [
        json!({"question": "Q"}),
        json!({"question": "", "answer": "A"}),
        json!({"question": "Q", "answer": "a".repeat(10_001)}),
    ] {
        let (status, _) = call(&app, "POST", &base, sk, Some(body.clone())).await;
        assert!(status == 400 || status == 422, "{body}");
    }
}

#[tokio::test]
async fn a_removed_source_leaves_the_index_and_another_project_cannot_touch_it() {
    let app = TestApp::builder().spawn().await;
    let project = project(&app, Plan::Free).await;
    let other = self::project(&app, Plan::Free).await;
    let site = serve_pages(shop()).await;
    let source = add_site(&app, &project, &format!("{site}/")).await;
    let id = source["id"].as_str().unwrap().to_owned();

    for (method, path) in [
        ("GET", format!("/v2/knowledge/sources/{id}")),
        ("DELETE", format!("/v2/knowledge/sources/{id}")),
        ("POST", format!("/v2/knowledge/sources/{id}/sync")),
        ("GET", format!("/v2/knowledge/sources/{id}/pages")),
    ] {
        let (status, _) = call(&app, method, &path, Some(&other.secret), None).await;
        assert_eq!(status, 404, "{method} {path}");
    }
    assert!(search(&app, &other, "shipping").await.is_empty());
    assert!(!search(&app, &project, "shipping").await.is_empty());

    let (status, deleted) = call(
        &app,
        "DELETE",
        &format!("/v2/knowledge/sources/{id}"),
        Some(&project.secret),
        None,
    )
    .await;
    assert_eq!((status, deleted), (200, json!({"success": true})));
    app.app.jobs.idle().await;
    assert!(search(&app, &project, "shipping").await.is_empty());
    // The URL is free again.
    let again = add_site(&app, &project, &format!("{site}/")).await;
    assert_eq!(again["status"], "idle");
}

#[tokio::test]
async fn a_document_is_indexed_and_changed_by_patch() {
    let app = TestApp::builder().spawn().await;
    let project = project(&app, Plan::Free).await;
    let sk = Some(project.secret.as_str());
    let (status, source) = call(
        &app,
        "POST",
        "/v2/knowledge/sources",
        sk,
        Some(json!({"type": "document", "title": "Warranty", "content": "# Warranty\n\nEvery jacket carries a two-year warranty.", "url": "https://shop.example/warranty"})),
    )
    .await;
    assert_eq!(status, 201, "{source}");
    assert_eq!(source["contentType"], "text/markdown");
    let id = source["id"].as_str().unwrap().to_owned();
    app.app.jobs.idle().await;
    let results = search(&app, &project, "warranty").await;
    assert_eq!(results[0]["url"], "https://shop.example/warranty");
    assert_eq!(results[0]["path"], "/warranty");

    let (status, changed) = call(
        &app,
        "PATCH",
        &format!("/v2/knowledge/sources/{id}"),
        sk,
        Some(json!({"content": "Every jacket carries a lifetime warranty.", "contentType": "text/plain"})),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    app.app.jobs.idle().await;
    let results = search(&app, &project, "warranty").await;
    assert!(
        results[0]["content"].as_str().unwrap().contains("lifetime"),
        "{results:?}"
    );
    let (status, _) = call(
        &app,
        "PATCH",
        &format!("/v2/knowledge/sources/{id}"),
        sk,
        Some(json!({"maxPages": 3})),
    )
    .await;
    assert_eq!(status, 422, "a website's field on a document");
}

#[tokio::test]
async fn a_local_folder_is_indexed_as_documents_once() {
    let app = TestApp::builder().spawn().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("guides")).unwrap();
    std::fs::write(
        dir.path().join("guides/setup.md"),
        "# Setting up\n\nPlug the kettle in and wait for the green light.",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("faq.html"),
        "<html><body><main><h1>FAQ</h1><p>The kettle holds 1.7 litres.</p></main></body></html>",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("notes.txt"),
        "Descale the kettle every month.",
    )
    .unwrap();
    std::fs::write(dir.path().join("logo.png"), [0x89, b'P', b'N', b'G']).unwrap();
    chat_local::seed::seed_demo(&app.store).await.unwrap();
    let added = chat_local::folder::index_folder(&app.app, dir.path())
        .await
        .unwrap();
    assert_eq!(added, 3, "Markdown, HTML and text; not the image");
    app.app.jobs.idle().await;
    let demo = Project {
        caller: chat_local::seed::demo_caller(),
        secret: String::new(),
        publishable: chat_local::seed::DEMO_PUBLISHABLE_KEY.to_owned(),
    };
    let results = search(&app, &demo, "green light").await;
    assert_eq!(results[0]["title"], "Setting up", "{results:?}");
    assert_eq!(results[0]["url"], Value::Null, "a document without a URL");
    assert_eq!(
        chat_local::folder::index_folder(&app.app, dir.path())
            .await
            .unwrap(),
        0,
        "the same folder again adds nothing"
    );
}
