//! The operator commands of `chat-local` (`admin ...`, `token`), run as an operator runs
//! them: the real binary, configured through its environment, against this test's table;
//! then the API serving what they wrote.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use chat_domain::ids::{Caller, ProjectId, VisitorId};
use chat_domain::session::{Authenticator, SigningKeys};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use uuid::Uuid;

use chat_testkit::{TestApp, bearer, json};

/// A finished run of the binary.
struct Run {
    success: bool,
    stdout: String,
    stderr: String,
}

/// Runs `chat-local args` with exactly `env` (plus dummy AWS credentials), as a shell
/// with that environment would.
async fn chat_local(env: &[(&str, &str)], args: &[&str]) -> Run {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_chat-local"))
        .args(args)
        .env_clear()
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("AWS_REGION", "us-east-1")
        .envs(env.iter().copied())
        .output()
        .await
        .expect("chat-local runs");
    Run {
        success: output.status.success(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// `chat-local admin args` against the app's table; its stdout, which must succeed.
async fn admin(app: &TestApp, args: &[&str]) -> String {
    let run = admin_run(app, args).await;
    assert!(run.success, "admin {args:?} failed: {}", run.stderr);
    run.stdout.trim().to_owned()
}

async fn admin_run(app: &TestApp, args: &[&str]) -> Run {
    let endpoint = app
        .settings
        .base
        .store
        .dynamo
        .endpoint
        .clone()
        .expect("a local engine");
    let mut all = vec!["admin"];
    all.extend_from_slice(args);
    chat_local(
        &[
            ("TABLE_NAME", app.table.as_str()),
            ("DYNAMODB_ENDPOINT", endpoint.as_str()),
        ],
        &all,
    )
    .await
}

async fn app() -> TestApp {
    TestApp::builder()
        .env("OFFLINE_FIRST_TOKEN_MS", "0")
        .env("OFFLINE_TOKEN_GAP_MS", "0")
        .spawn()
        .await
}

/// Asks for a completion as a new visitor of `project`; the status and the model the
/// stored assistant message records.
async fn completion_model(app: &TestApp, project: &str) -> (u16, Option<String>) {
    let caller = Caller {
        project: ProjectId(Uuid::parse_str(project).unwrap()),
        visitor: VisitorId(Uuid::now_v7()),
    };
    let response = app
        .complete_from(
            caller,
            &json!({"messages": [{"role": "user", "content": "What do you sell?"}]}),
            None,
        )
        .await;
    let status = response.status().as_u16();
    if status != 200 {
        return (status, None);
    }
    let conversation = response.headers()["x-conversation-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let (status, stored) = json(
        app.get(&conversation, Some(&bearer(&app.token(caller))))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    let assistant = &stored["messages"][1];
    assert_eq!(assistant["role"], "assistant");
    assert_eq!(assistant["status"], "complete");
    (
        200,
        assistant["metadata"]["model"].as_str().map(str::to_owned),
    )
}

fn put_args<'a>(project: &'a str, model: &'a str, tier: &'a str) -> Vec<&'a str> {
    vec![
        "put-assistant",
        "--project",
        project,
        "--name",
        "Expert",
        "--provider",
        "offline",
        "--model",
        model,
        "--system-prompt",
        "You are the shop's expert.",
        "--temperature",
        "0.3",
        "--max-output-tokens",
        "200",
        "--tier",
        tier,
    ]
}

#[tokio::test]
async fn a_pro_project_is_answered_by_its_advanced_default_assistant() {
    let app = app().await;
    let project = admin(&app, &["create-project", "--plan", "pro"]).await;
    assert!(
        Uuid::parse_str(&project).is_ok(),
        "prints the id: {project}"
    );

    let mut args = put_args(&project, "offline:tokens=3", "advanced");
    args.push("--default");
    let assistant = admin(&app, &args).await;
    assert!(
        Uuid::parse_str(&assistant).is_ok(),
        "prints the id: {assistant}"
    );

    assert_eq!(
        completion_model(&app, &project).await,
        (200, Some("offline:tokens=3".to_owned()))
    );
}

#[tokio::test]
async fn updating_the_default_assistant_is_seen_by_the_next_completion() {
    let app = app().await;
    let project = admin(&app, &["create-project", "--plan", "pro"]).await;
    let mut args = put_args(&project, "offline:tokens=3", "advanced");
    args.push("--default");
    let assistant = admin(&app, &args).await;
    assert_eq!(
        completion_model(&app, &project).await.1.as_deref(),
        Some("offline:tokens=3")
    );

    // No --default: it is the default already, and its copy follows it.
    let mut args = put_args(&project, "offline:tokens=5", "advanced");
    args.extend(["--assistant", assistant.as_str()]);
    assert_eq!(admin(&app, &args).await, assistant);
    assert_eq!(
        completion_model(&app, &project).await,
        (200, Some("offline:tokens=5".to_owned()))
    );
}

#[tokio::test]
async fn another_assistant_leaves_the_default_alone_until_made_default() {
    let app = app().await;
    let project = admin(&app, &["create-project", "--plan", "free"]).await;
    let mut args = put_args(&project, "offline:tokens=3", "standard");
    args.push("--default");
    admin(&app, &args).await;

    let other = admin(&app, &put_args(&project, "offline:tokens=4", "standard")).await;
    assert_eq!(
        completion_model(&app, &project).await.1.as_deref(),
        Some("offline:tokens=3"),
        "the default did not change"
    );

    let mut args = put_args(&project, "offline:tokens=4", "standard");
    args.extend(["--assistant", other.as_str(), "--default"]);
    admin(&app, &args).await;
    assert_eq!(
        completion_model(&app, &project).await.1.as_deref(),
        Some("offline:tokens=4")
    );
}

#[tokio::test]
async fn an_advanced_default_on_the_free_plan_is_written_with_a_warning_and_answers_402() {
    let app = app().await;
    let project = admin(&app, &["create-project", "--plan", "free"]).await;
    let mut args = put_args(&project, "offline", "advanced");
    args.push("--default");
    let run = admin_run(&app, &args).await;
    assert!(run.success, "{}", run.stderr);
    assert!(run.stderr.contains("warning"), "{}", run.stderr);
    assert_eq!(completion_model(&app, &project).await.0, 402);
}

#[tokio::test]
async fn refused_admin_commands_say_why_and_write_nothing() {
    let app = app().await;
    let project = Uuid::now_v7().to_string();
    admin(
        &app,
        &["create-project", "--plan", "free", "--project", &project],
    )
    .await;
    let before = app.snapshot().await;

    let again = admin_run(
        &app,
        &["create-project", "--plan", "pro", "--project", &project],
    )
    .await;
    assert!(!again.success);
    assert!(again.stderr.contains("exists already"), "{}", again.stderr);

    let unknown = Uuid::now_v7().to_string();
    let orphan = admin_run(&app, &put_args(&unknown, "offline", "standard")).await;
    assert!(!orphan.success);
    assert!(
        orphan.stderr.contains("does not exist"),
        "{}",
        orphan.stderr
    );

    let mut args = put_args(&project, "offline", "standard");
    let temperature = args.iter().position(|a| *a == "--temperature").unwrap() + 1;
    args[temperature] = "7";
    let hot = admin_run(&app, &args).await;
    assert!(!hot.success);
    assert!(hot.stderr.contains("temperature"), "{}", hot.stderr);

    assert_eq!(app.snapshot().await, before, "nothing was written");
}

/// A stand-in for the Secrets Manager endpoint: answers every GetSecretValue with
/// `secret`, and records the ids asked for.
async fn secrets_endpoint(secret: &'static str) -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let asked = Arc::new(Mutex::new(Vec::new()));
    let seen = asked.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let seen = seen.clone();
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let seen = seen.clone();
                        async move {
                            let target = req.headers()["x-amz-target"].to_str().unwrap().to_owned();
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            let request: Value = serde_json::from_slice(&body).unwrap();
                            seen.lock()
                                .unwrap()
                                .push(json!({"target": target, "request": request}));
                            let answer = json!({
                                "ARN": request["SecretId"],
                                "Name": "signing-keys",
                                "SecretString": secret,
                                "VersionId": "v1",
                            });
                            let response = http::Response::builder()
                                .header("content-type", "application/x-amz-json-1.1")
                                .body(Full::new(Bytes::from(answer.to_string())))
                                .unwrap();
                            Ok::<_, Infallible>(response)
                        }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, asked)
}

#[tokio::test]
async fn the_token_command_signs_with_keys_read_from_their_secret() {
    const KEYS: &str =
        "k2:0123456789abcdef0123456789abcdef-new,k1:0123456789abcdef0123456789abcdef-old";
    const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:chat-keys-AbCdEf";
    let (endpoint, asked) = secrets_endpoint(KEYS).await;
    let (project, visitor) = (Uuid::now_v7(), Uuid::now_v7());
    let run = chat_local(
        &[
            ("SESSION_SIGNING_KEYS_SECRET_ARN", ARN),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", endpoint.as_str()),
        ],
        &[
            "token",
            "--project",
            &project.to_string(),
            "--visitor",
            &visitor.to_string(),
        ],
    )
    .await;
    assert!(run.success, "{}", run.stderr);
    let token = run.stdout.trim();

    let asked = asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0]["target"], "secretsmanager.GetSecretValue");
    assert_eq!(asked[0]["request"]["SecretId"], ARN);
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(
        header.kid.as_deref(),
        Some("k2"),
        "signed with the newest key"
    );
    let caller = Authenticator::new(&SigningKeys::parse(KEYS).unwrap(), None)
        .verify(token)
        .expect("verifies with the secret's keys");
    assert_eq!(caller.project.0, project);
    assert_eq!(caller.visitor.0, visitor);
}

#[tokio::test]
async fn the_server_listens_on_local_addr_and_its_banner_token_passes_an_issuer_check() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = free.local_addr().unwrap().to_string();
    drop(free);
    // No subcommand: `serve` with LOCAL_ADDR, as the README says; tokens must carry `iss`.
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_chat-local"))
        .env_clear()
        .env("LOCAL_ADDR", &addr)
        .env("SESSION_TOKEN_ISSUER", "https://issuer.example")
        .env("LOG_LEVEL", "warn")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("chat-local starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let mut banner = Vec::new();
    let token = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            banner.push(line.clone());
            if let Some(token) = line.trim().strip_prefix("export TOKEN=") {
                return token.to_owned();
            }
        }
        panic!("no token in the banner: {banner:?}");
    })
    .await
    .expect("the banner within a minute");
    assert!(banner[0].contains(&format!("http://{addr}")), "{banner:?}");
    let response = reqwest::Client::new()
        .get(format!(
            "http://{addr}/v2/conversations/{}",
            chat_local::seed::DEMO_CONVERSATION
        ))
        .header("authorization", bearer(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    // The demo shop was crawled before the banner: its shipping page answers "shipping".
    let (status, found) = json(
        reqwest::Client::new()
            .get(format!(
                "http://{addr}/v2/search?q=shipping&apiKey={}",
                chat_local::seed::DEMO_PUBLISHABLE_KEY
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{found}");
    let first = found["results"][0]["url"].as_str().unwrap_or_default();
    assert!(first.ends_with("/help/shipping.html"), "{found}");
    let mut rest = String::new();
    while let Ok(Some(line)) = lines.next_line().await {
        rest.push_str(&line);
        if line.starts_with("demo shop:") {
            break;
        }
    }
    assert!(rest.contains("pages indexed"), "{rest}");
    child.kill().await.unwrap();
}

#[tokio::test]
async fn keys_and_the_widget_are_managed_from_the_command_line() {
    let app = app().await;
    let project = admin(
        &app,
        &["create-project", "--plan", "free", "--name", "Acme Store"],
    )
    .await;
    let widget = std::env::temp_dir().join(format!("widget-{}.json", Uuid::now_v7()));
    std::fs::write(
        &widget,
        r##"{"brandColor": "#ff6600", "welcomeMessage": "Welcome to Acme!"}"##,
    )
    .unwrap();
    admin(
        &app,
        &[
            "set-project",
            "--project",
            &project,
            "--widget",
            widget.to_str().unwrap(),
        ],
    )
    .await;
    let _ = std::fs::remove_file(&widget);
    let key = admin(
        &app,
        &[
            "create-key",
            "--project",
            &project,
            "--kind",
            "publishable",
            "--label",
            "shop",
            "--origin",
            "https://shop.example/",
        ],
    )
    .await;
    assert!(key.starts_with("pk_"), "{key}");
    let run = admin_run(
        &app,
        &["create-key", "--project", &project, "--kind", "secret"],
    )
    .await;
    assert!(run.success, "{}", run.stderr);
    let secret = run.stdout.trim().to_owned();
    assert!(
        secret.starts_with("sk_") && run.stderr.contains("only time"),
        "{}",
        run.stderr
    );

    let current = |origin: &'static str| {
        let (app, key) = (&app, key.clone());
        async move {
            json(
                app.http
                    .get(format!("{}/v2/projects/current?apiKey={key}", app.base))
                    .header("origin", origin)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let (status, body) = current("https://shop.example").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "Acme Store");
    assert_eq!(body["chatWidgetConfig"]["brandColor"], "#ff6600");
    assert_eq!(
        body["chatWidgetConfig"]["welcomeMessage"],
        "Welcome to Acme!"
    );
    assert_eq!(
        body["chatWidgetConfig"]["inputPlaceholder"],
        "Ask a question…"
    );
    assert_eq!(current("https://other.example").await.0, 403);

    // The listing shows both, the secret one by its first characters only.
    let listing = admin(&app, &["list-keys", "--project", &project]).await;
    assert!(listing.contains(&key), "{listing}");
    assert!(
        listing.contains(&secret[..11]) && !listing.contains(&secret),
        "{listing}"
    );
    assert!(listing.contains("https://shop.example"), "{listing}");

    // Refusals say why and write nothing.
    let before = app.snapshot().await;
    for args in [
        vec![
            "create-key",
            "--project",
            &project,
            "--kind",
            "publishable",
            "--origin",
            "shop.example",
        ],
        vec![
            "create-key",
            "--project",
            &project,
            "--kind",
            "secret",
            "--origin",
            "https://a.example",
        ],
        vec!["revoke-key", "--project", &project, "--key", "pk_nonsense"],
    ] {
        let run = admin_run(&app, &args).await;
        assert!(!run.success && !run.stderr.is_empty(), "{args:?}");
    }
    let stranger = Uuid::now_v7().to_string();
    let run = admin_run(&app, &["revoke-key", "--project", &stranger, "--key", &key]).await;
    assert!(!run.success, "another project's key is not revoked");
    assert_eq!(app.snapshot().await, before);

    // Revoked (the server trusts its cache for at most a minute; this one is fresh).
    admin(
        &app,
        &["revoke-key", "--project", &project, "--key", &secret],
    )
    .await;
    let listing = admin(&app, &["list-keys", "--project", &project]).await;
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("secret") && l.contains("revoked")),
        "{listing}"
    );
}

/// `chat-local admin args` against the app's table and its S3 engine; the run.
async fn knowledge_admin(app: &TestApp, args: &[&str]) -> Run {
    let dynamo = app.settings.base.store.dynamo.endpoint.clone().unwrap();
    let s3 = app
        .app
        .s3
        .as_ref()
        .expect("an embedded S3 engine")
        .endpoint()
        .to_owned();
    let mut all = vec!["admin"];
    all.extend_from_slice(args);
    chat_local(
        &[
            ("TABLE_NAME", app.table.as_str()),
            ("DYNAMODB_ENDPOINT", dynamo.as_str()),
            ("S3_ENDPOINT_URL", s3.as_str()),
            ("LOG_LEVEL", "warn"),
        ],
        &all,
    )
    .await
}

#[tokio::test]
async fn the_knowledge_commands_add_sync_and_list_what_the_api_then_searches() {
    let app = app().await;
    let project = crate::knowledge::project(&app, chat_domain::assistant::Plan::Free).await;
    let id = project.caller.project.0.to_string();
    let site = crate::knowledge::serve_pages(crate::knowledge::shop()).await;

    let run = knowledge_admin(
        &app,
        &["add-source", "--project", &id, "--url", &format!("{site}/")],
    )
    .await;
    assert!(run.success, "{}", run.stderr);
    let source: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        source["status"], "idle",
        "synced by the command itself: {source}"
    );
    assert_eq!(source["lastSync"]["pagesIndexed"], 3);
    let source_id = source["id"].as_str().unwrap().to_owned();

    let run = knowledge_admin(&app, &["pages", "--project", &id, "--source", &source_id]).await;
    assert!(run.success, "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 3, "{}", run.stdout);
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with("indexed") && l.contains("/shipping")),
        "{}",
        run.stdout
    );

    let run = knowledge_admin(
        &app,
        &[
            "qna",
            "add",
            "--project",
            &id,
            "--question",
            "Do you gift wrap?",
            "--answer",
            "Yes, for $4.",
        ],
    )
    .await;
    assert!(run.success, "{}", run.stderr);
    let run = knowledge_admin(&app, &["qna", "list", "--project", &id]).await;
    assert_eq!(run.stdout.lines().count(), 1, "{}", run.stdout);

    // The API serves what the commands wrote: the site's pages and the pair.
    let shipping = crate::knowledge::search(&app, &project, "shipping").await;
    assert_eq!(shipping[0]["path"], "/shipping");
    let wrap = crate::knowledge::search(&app, &project, "gift wrap").await;
    assert_eq!(wrap[0]["content"], "Yes, for $4.");

    let run = knowledge_admin(&app, &["sync", "--project", &id, "--source", &source_id]).await;
    assert!(run.success, "{}", run.stderr);
    let source: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(source["lastSync"]["pagesUnchanged"], 3, "{source}");

    let run = knowledge_admin(
        &app,
        &[
            "set-project",
            "--project",
            &id,
            "--embedding-model",
            "cohere:x",
        ],
    )
    .await;
    assert!(!run.success, "an unknown provider is refused");
    let run = knowledge_admin(
        &app,
        &[
            "set-project",
            "--project",
            &id,
            "--embedding-model",
            "bedrock:amazon.titan-embed-text-v2:0",
        ],
    )
    .await;
    assert!(run.success, "{}", run.stderr);
    let state = chat_storage::ports::SourceStore::knowledge(&app.store, project.caller.project)
        .await
        .unwrap();
    assert_eq!(
        state.embedding_model.as_deref(),
        Some("bedrock:amazon.titan-embed-text-v2:0")
    );
    let run = knowledge_admin(
        &app,
        &["set-project", "--project", &id, "--embedding-model", "none"],
    )
    .await;
    assert!(run.success, "{}", run.stderr);

    let run = knowledge_admin(
        &app,
        &[
            "add-source",
            "--project",
            &id,
            "--url",
            "ftp://example.com/",
        ],
    )
    .await;
    assert!(!run.success);
    assert!(
        run.stderr.contains("url must be an http or https URL"),
        "{}",
        run.stderr
    );
}
