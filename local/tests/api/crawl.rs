//! The crawl's rules and its hostile sites (API.md §13), each against a site this test
//! serves on loopback: robots.txt and sitemaps, redirects, sizes, types, slow and broken
//! pages, endless link farms, and the public-address rule with loopback forbidden. Each
//! shows its reason in the page list or the source's `lastSync`; none loses what an
//! earlier sync indexed.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use chat_domain::assistant::Plan;
use chat_testkit::{TestApp, serve_http};
use http_body_util::Full;
use serde_json::Value;

use crate::knowledge::{add_site, call, html, pages, project, search, serve_pages, settled, shop};

type Reply = hyper::Response<Full<Bytes>>;

fn reply(status: u16, kind: &str, body: impl Into<Bytes>) -> Reply {
    let mut response = hyper::Response::new(Full::new(body.into()));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
    response
        .headers_mut()
        .insert("content-type", kind.parse().unwrap());
    response
}

fn redirect(to: &str) -> Reply {
    let mut response = reply(302, "text/html", "moved");
    response
        .headers_mut()
        .insert("location", to.parse().unwrap());
    response
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// A site of every hostile page, linked from its home page.
async fn hostile_site() -> String {
    let bomb = Arc::new(gzip(&vec![b'a'; 60 * 1024 * 1024]));
    serve_http(move |req: hyper::Request<hyper::body::Incoming>| {
        let bomb = bomb.clone();
        async move {
            let origin = format!("http://{}", req.headers()["host"].to_str().unwrap());
            let links = [
                "/loop", "/elsewhere", "/private", "/huge", "/bomb", "/slow", "/image",
                "/farm", "/broken", "/script", "/tagged", "/notes.md", "/gone",
            ]
            .iter()
            .map(|path| format!("<a href=\"{path}\">{path}</a>"))
            .collect::<String>();
            match req.uri().path() {
                "/" => reply(200, "text/html", html("Hostile", &format!("<p>Home of the test site, with enough words to be a page.</p>{links}"))),
                "/robots.txt" => reply(200, "text/plain", format!("User-agent: *\nAllow: /\nSitemap: {origin}/index.xml.gz\n")),
                "/index.xml.gz" => reply(200, "application/gzip", gzip(format!(
                    "<?xml version=\"1.0\"?><sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\
                     <sitemap><loc>{origin}/pages.xml</loc></sitemap></sitemapindex>").as_bytes())),
                "/pages.xml" => reply(200, "application/xml", format!(
                    "<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\"><url><loc>{origin}/from-sitemap</loc></url><url><loc>https://elsewhere.example/x</loc></url></urlset>")),
                "/from-sitemap" => reply(200, "text/html", html("Listed", "<p>Only the sitemap links to this page about lanterns.</p>")),
                "/loop" => redirect("/loop-2"),
                "/loop-2" => redirect("/loop"),
                "/elsewhere" => redirect("https://elsewhere.example/"),
                "/private" => redirect("http://10.0.0.7/admin"),
                "/huge" => reply(200, "text/html", vec![b'x'; 20 * 1024 * 1024]),
                "/bomb" => {
                    let mut response = reply(200, "text/html", Bytes::from(bomb.to_vec()));
                    response.headers_mut().insert("content-encoding", "gzip".parse().unwrap());
                    response
                }
                "/slow" => {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    reply(200, "text/html", "late")
                }
                "/image" => reply(200, "image/png", vec![0x89, b'P', b'N', b'G']),
                "/farm" => {
                    let many: String = (0..10_000).map(|i| format!("<a href=\"/farm/{i}\">{i}</a>")).collect();
                    reply(200, "text/html", html("Farm", &format!("<p>A page of ten thousand links.</p>{many}")))
                }
                path if path.starts_with("/farm/") => reply(200, "text/html", html("Day", "<p>One more day of an endless calendar.</p><a href=\"next\">next</a>")),
                "/broken" => reply(200, "text/html", "<html><body><main><h1>Broken<p>Unclosed <b>tags about kayaks<div>and more"),
                "/script" => reply(200, "text/html", "<html><head><title>App</title></head><body><div id=\"root\"></div><script>render()</script></body></html>"),
                "/tagged" => {
                    let mut response = reply(200, "text/html", html("Tagged", "<p>A page its header keeps out.</p>"));
                    response.headers_mut().insert("x-robots-tag", "noindex".parse().unwrap());
                    response
                }
                "/notes.md" => reply(200, "text/markdown", "# Notes\n\nMarkdown pages about canoes are indexed too."),
                _ => reply(404, "text/html", "missing"),
            }
        }
    })
    .await
}

fn reason(
    pages: &std::collections::HashMap<String, (String, Value)>,
    path: &str,
) -> (String, String) {
    let (status, reason) = pages
        .get(path)
        .unwrap_or_else(|| panic!("{path} not listed: {pages:?}"));
    (
        status.clone(),
        reason.as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn every_hostile_page_is_kept_out_with_its_reason_and_the_rest_is_indexed() {
    let app = TestApp::builder()
        .env("KNOWLEDGE_FETCH_TIMEOUT_MS", "700")
        .spawn()
        .await;
    let project = project(&app, Plan::Free).await;
    let site = hostile_site().await;
    let source = add_site(&app, &project, &format!("{site}/")).await;
    assert_eq!(source["status"], "idle", "{source}");
    let id = source["id"].as_str().unwrap();
    let pages = pages(&app, &project, id).await;

    let expect = [
        ("/loop", "skipped", "more than 5 redirects"),
        ("/elsewhere", "skipped", "redirect to another site"),
        ("/private", "skipped", "a private address"),
        ("/huge", "skipped", "larger than 5 MB"),
        ("/bomb", "skipped", "larger than 5 MB"),
        ("/slow", "failed", "timed out"),
        ("/image", "skipped", "not a text page (image/png)"),
        ("/script", "skipped", "rendered by JavaScript"),
        ("/tagged", "skipped", "noindex (X-Robots-Tag)"),
    ];
    for (path, status, words) in expect {
        let (got, why) = reason(&pages, path);
        assert_eq!(got, status, "{path}: {why}");
        assert!(why.contains(words), "{path}: {why}");
    }
    for path in ["/", "/broken", "/notes.md", "/from-sitemap", "/farm"] {
        assert_eq!(reason(&pages, path).0, "indexed", "{path}");
    }
    // The calendar and the link farm stop at the free plan's 100 pages.
    assert!(pages.len() <= 100 + 20, "{}", pages.len());
    assert!(pages.len() >= 90, "{}", pages.len());
    assert!(!pages.keys().any(|p| p.contains("elsewhere.example")));
    assert_eq!(search(&app, &project, "kayaks").await[0]["path"], "/broken");
    assert_eq!(
        search(&app, &project, "canoes").await[0]["path"],
        "/notes.md"
    );
    assert_eq!(
        search(&app, &project, "lanterns").await[0]["path"],
        "/from-sitemap"
    );
}

#[tokio::test]
async fn a_site_that_forbids_everything_or_cannot_be_reached_fails_with_why() {
    let app = TestApp::builder().spawn().await;
    let project = project(&app, Plan::Free).await;
    let closed = serve_http(|req: hyper::Request<hyper::body::Incoming>| async move {
        match req.uri().path() {
            "/robots.txt" => reply(200, "text/plain", "User-agent: *\nDisallow: /\n"),
            _ => reply(
                200,
                "text/html",
                html("Closed", "<p>Nobody may crawl this.</p>"),
            ),
        }
    })
    .await;
    let source = add_site(&app, &project, &format!("{closed}/")).await;
    assert_eq!(source["status"], "failed", "{source}");
    assert!(
        source["lastSync"]["error"]
            .as_str()
            .unwrap()
            .contains("robots.txt"),
        "{source}"
    );

    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let gone = format!("http://{}/", free.local_addr().unwrap());
    drop(free);
    let source = add_site(&app, &project, &gone).await;
    assert_eq!(source["status"], "failed", "{source}");
    assert!(
        source["lastSync"]["error"]
            .as_str()
            .unwrap()
            .contains("unreachable"),
        "{source}"
    );
}

#[tokio::test]
async fn a_page_failing_now_and_then_keeps_its_content_until_the_third_failure() {
    let app = TestApp::builder().spawn().await;
    let project = project(&app, Plan::Free).await;
    let served = shop();
    let site = serve_pages(served.clone()).await;
    let source = add_site(&app, &project, &format!("{site}/")).await;
    let id = source["id"].as_str().unwrap().to_owned();
    served
        .lock()
        .unwrap()
        .insert("/returns".into(), (503, "text/html", "down".into()));
    for round in 1..=3 {
        let (status, _) = call(
            &app,
            "POST",
            &format!("/v2/knowledge/sources/{id}/sync"),
            Some(&project.secret),
            None,
        )
        .await;
        assert_eq!(status, 202);
        settled(&app, &project, &id).await;
        let (state, why) = reason(&pages(&app, &project, &id).await, "/returns");
        let found = !search(&app, &project, "refund").await.is_empty();
        if round < 3 {
            assert_eq!(state, "indexed", "round {round}: {why}");
            assert!(why.contains(&format!("{round} of 3")), "{why}");
            assert!(found, "round {round}: the last good content still answers");
        } else {
            assert_eq!(state, "failed", "{why}");
            assert!(
                !found,
                "after the third failure in a row it leaves the index"
            );
        }
    }
}

#[tokio::test]
async fn with_loopback_forbidden_no_connection_is_made_to_a_loopback_address_or_name() {
    let app = TestApp::builder()
        .env("KNOWLEDGE_ALLOW_LOOPBACK", "false")
        .spawn()
        .await;
    let project = project(&app, Plan::Free).await;
    let hits = Arc::new(AtomicUsize::new(0));
    let seen = hits.clone();
    let site = serve_http(move |_req: hyper::Request<hyper::body::Incoming>| {
        let seen = seen.clone();
        async move {
            seen.fetch_add(1, Ordering::SeqCst);
            reply(200, "text/html", html("Local", "<p>Never fetched.</p>"))
        }
    })
    .await;
    let port = site.rsplit(':').next().unwrap().to_owned();
    for url in [
        format!("http://127.0.0.1:{port}/"),
        format!("http://localhost:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        // The same address spelled as a number (another path: one site, one source).
        format!("http://2130706433:{port}/docs/"),
    ] {
        let source = add_site(&app, &project, &url).await;
        assert_eq!(source["status"], "failed", "{url}: {source}");
        let error = source["lastSync"]["error"].as_str().unwrap();
        assert!(error.contains("address refused"), "{url}: {error}");
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "no request reached the site"
    );
    assert_eq!(search(&app, &project, "fetched").await, Vec::<Value>::new());
}

#[tokio::test]
async fn a_crawl_that_runs_out_of_time_keeps_what_it_did_not_reach() {
    let app = TestApp::builder()
        .env("KNOWLEDGE_CRAWL_BUDGET_MS", "1500")
        .spawn()
        .await;
    let project = project(&app, Plan::Free).await;
    let slow = Arc::new(AtomicUsize::new(0));
    let delay = slow.clone();
    // A chain of twelve pages, each linking to the next: fast at first, then slow.
    let site = serve_http(move |req: hyper::Request<hyper::body::Incoming>| {
        let delay = delay.clone();
        async move {
            let path = req.uri().path().to_owned();
            if path == "/robots.txt" {
                return reply(404, "text/plain", "none");
            }
            tokio::time::sleep(Duration::from_millis(delay.load(Ordering::SeqCst) as u64)).await;
            let n: usize = path.trim_start_matches("/book/").parse().unwrap_or(0);
            let next = if n < 11 {
                format!("<a href=\"/book/{}\">next</a>", n + 1)
            } else {
                String::new()
            };
            reply(
                200,
                "text/html",
                html(
                    &format!("Chapter {n}"),
                    &format!("<p>Chapter {n} is about lighthouse number{n}.</p>{next}"),
                ),
            )
        }
    })
    .await;
    let source = add_site(&app, &project, &format!("{site}/book/")).await;
    let id = source["id"].as_str().unwrap().to_owned();
    assert_eq!(source["lastSync"]["pagesIndexed"], 12, "{source}");

    slow.store(400, Ordering::SeqCst);
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
    assert_eq!(source["status"], "idle", "{source}");
    let error = source["lastSync"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("ran out of time"), "{source}");
    // The last chapter was not reached this time: it is still listed and still found.
    let listed = pages(&app, &project, &id).await;
    assert_eq!(listed.len(), 12, "{listed:?}");
    assert_eq!(
        search(&app, &project, "number11").await[0]["path"],
        "/book/11"
    );
}

#[tokio::test]
async fn conditional_gets_are_sent_and_a_304_keeps_the_page_as_it_was() {
    let app = TestApp::builder().spawn().await;
    let project = project(&app, Plan::Free).await;
    let revalidated = Arc::new(AtomicUsize::new(0));
    let seen = revalidated.clone();
    let site = serve_http(move |req: hyper::Request<hyper::body::Incoming>| {
        let seen = seen.clone();
        async move {
            if req.uri().path() != "/" {
                return reply(404, "text/plain", "none");
            }
            if req
                .headers()
                .get("if-none-match")
                .and_then(|v| v.to_str().ok())
                == Some("\"v1\"")
            {
                seen.fetch_add(1, Ordering::SeqCst);
                let mut response = reply(304, "text/html", "");
                response
                    .headers_mut()
                    .insert("etag", "\"v1\"".parse().unwrap());
                return response;
            }
            let mut response = reply(
                200,
                "text/html",
                html(
                    "Opening hours",
                    "<p>We are open from nine to five on weekdays.</p>",
                ),
            );
            response
                .headers_mut()
                .insert("etag", "\"v1\"".parse().unwrap());
            response
        }
    })
    .await;
    let source = add_site(&app, &project, &format!("{site}/")).await;
    let id = source["id"].as_str().unwrap().to_owned();
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
    assert_eq!(
        revalidated.load(Ordering::SeqCst),
        1,
        "the second sync asked If-None-Match"
    );
    assert_eq!(source["lastSync"]["pagesUnchanged"], 1, "{source}");
    assert_eq!(
        search(&app, &project, "opening hours").await[0]["path"],
        "/"
    );
}

#[tokio::test]
async fn canonical_urls_and_globs_decide_what_is_one_page_and_what_is_crawled() {
    let app = TestApp::builder().spawn().await;
    let project = project(&app, Plan::Free).await;
    let site = serve_http(|req: hyper::Request<hyper::body::Incoming>| async move {
        let page = |title: &str, body: &str| reply(200, "text/html", html(title, body));
        match req.uri().path() {
            "/docs/" => page(
                "Docs",
                "<p>The documentation's start, about harbours.</p>\
                 <a href=\"/docs/a\">a</a> <a href=\"/docs/b\">b</a> <a href=\"/docs/private/x\">x</a> \
                 <a href=\"/blog/post\">post</a> <a href=\"/other/z\">z</a>",
            ),
            "/docs/a" => page("Anchors", "<p>Anchors hold a boat in a harbour.</p>"),
            // The same page under another address, saying so.
            "/docs/b" => reply(
                200,
                "text/html",
                "<html><head><title>Anchors</title><link rel=\"canonical\" href=\"/docs/a\"></head>\
                 <body><main><p>Anchors hold a boat in a harbour.</p></main></body></html>",
            ),
            "/docs/private/x" => page("Private", "<p>Never crawled: excluded.</p>"),
            "/blog/post" => page("Post", "<p>A blog post about lighthouses, included.</p>"),
            "/other/z" => page("Other", "<p>Outside the start path, not included.</p>"),
            _ => reply(404, "text/plain", "none"),
        }
    })
    .await;
    let (status, source) = call(
        &app,
        "POST",
        "/v2/knowledge/sources",
        Some(&project.secret),
        Some(
            serde_json::json!({"type": "website", "url": format!("{site}/docs/"),
                                "include": ["/blog/**"], "exclude": ["/docs/private/**"]}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{source}");
    let id = source["id"].as_str().unwrap().to_owned();
    settled(&app, &project, &id).await;
    let listed = pages(&app, &project, &id).await;
    assert_eq!(reason(&listed, "/docs/a").0, "indexed");
    let (state, why) = reason(&listed, "/docs/b");
    assert_eq!(state, "skipped");
    assert!(why.contains("canonical"), "{why}");
    assert_eq!(
        reason(&listed, "/blog/post").0,
        "indexed",
        "an include glob"
    );
    assert!(
        !listed.contains_key("/docs/private/x"),
        "an exclude glob: {listed:?}"
    );
    assert!(
        !listed.contains_key("/other/z"),
        "outside the start path: {listed:?}"
    );
    let anchors = search(&app, &project, "anchors").await;
    assert_eq!(anchors.len(), 1, "one page, one passage: {anchors:?}");
}

#[tokio::test]
async fn a_crawl_delay_makes_the_crawl_one_request_at_a_time() {
    let app = TestApp::builder().spawn().await;
    let project = project(&app, Plan::Free).await;
    let in_flight = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (now, peak) = (in_flight.clone(), most.clone());
    let site = serve_http(move |req: hyper::Request<hyper::body::Incoming>| {
        let (now, peak) = (now.clone(), peak.clone());
        async move {
            if req.uri().path() == "/robots.txt" {
                return reply(200, "text/plain", "User-agent: *\nCrawl-delay: 1\n");
            }
            let running = now.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(running, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
            now.fetch_sub(1, Ordering::SeqCst);
            let links: String = (0..3)
                .map(|i| format!("<a href=\"/p{i}\">{i}</a>"))
                .collect();
            reply(
                200,
                "text/html",
                html(
                    "Delay",
                    &format!("<p>A polite site asks for a pause.</p>{links}"),
                ),
            )
        }
    })
    .await;
    let started = std::time::Instant::now();
    add_site(&app, &project, &format!("{site}/")).await;
    assert_eq!(most.load(Ordering::SeqCst), 1, "one request at a time");
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "a pause after each of 4 pages"
    );
}
