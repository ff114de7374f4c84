//! `spawn_app`: an embedded engine, a fresh table, the local server on a free port, and
//! a DynamoDB client whose every request is logged, so tests count round trips.

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::sync::{Arc, Mutex, OnceLock};

use aws_sdk_dynamodb::types::AttributeValue;
use chat_local::call_log::{CallLog, CallLogInterceptor};
use chat_local::engine::EmbeddedDynamo;
use chat_local::server::{App, LocalBody, ROUTES, route};
use chat_local::settings::config_with;
use chat_shared::assistant::{Assistant, Plan, ProjectSettings, ProviderKind, Tier};
use chat_shared::auth::{Claims, SigningKeys, TokenMinter, now_secs};
use chat_shared::config::{Config, CredentialSource};
use chat_shared::domain::{
    Caller, Conversation, Message, MessageRole, MessageStatus, ProjectId, VisitorId,
};
use chat_shared::provider::registry::Providers;
use chat_shared::services::Services;
use chat_shared::storage::client::dynamo_client;
use chat_shared::storage::items::{
    Item, assistant_item, conversation_item, message_item, project_item,
};
use chat_shared::storage::table::create_table;
use chat_shared::timestamp::Timestamp;
use tokio::sync::oneshot;
use uuid::Uuid;

/// A running local stack for one test.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// A plain HTTP client.
    pub http: reqwest::Client,
    /// A client for setting up and inspecting the table (not logged).
    pub dynamo: aws_sdk_dynamodb::Client,
    /// This test's table.
    pub table: String,
    /// The configuration the app runs with.
    pub config: Config,
    /// What the app sent to DynamoDB.
    pub calls: Arc<CallLog>,
    /// The app, for in-process handler calls.
    pub app: Arc<App>,
    /// Responses whose status `openapi.yaml` does not declare for their operation: a
    /// test that sees one fails when its app is dropped.
    undeclared: Arc<Mutex<Vec<String>>>,
    _engine: EmbeddedDynamo,
    _shutdown: oneshot::Sender<()>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// As [`spawn_app`], with a last say over the configuration.
pub async fn spawn_app_with(customize: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_routed(&[], customize, |endpoint| async move { endpoint }).await
}

/// As [`spawn_app`], with these environment variables in the app's configuration.
pub async fn spawn_app_with_env(env: &[(&str, &str)]) -> TestApp {
    spawn_app_routed(env, |_| {}, |endpoint| async move { endpoint }).await
}

/// The general form: environment variables `env`, a last say over the configuration,
/// and the app's DynamoDB traffic sent to the endpoint `route` returns for the engine's
/// (a fault-injecting proxy); set-up and inspection go straight to the engine.
pub async fn spawn_app_routed<F, Fut>(
    env: &[(&str, &str)],
    customize: impl FnOnce(&mut Config),
    route: F,
) -> TestApp
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = String>,
{
    let engine = EmbeddedDynamo::start(None).await.expect("engine starts");
    let table = format!("t-{}", Uuid::now_v7().simple());
    let endpoint = engine.endpoint().to_owned();
    let mut config = config_with(|name| match name {
        "TABLE_NAME" => Some(table.clone()),
        "DYNAMODB_ENDPOINT" => Some(endpoint.clone()),
        _ => env
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned()),
    })
    .expect("config");
    config.dynamo.credentials = CredentialSource::LocalDummy;
    customize(&mut config);
    let direct = config.dynamo.clone();
    config.dynamo.endpoint = Some(route(endpoint.clone()).await);
    let calls = Arc::new(CallLog::default());
    let interceptor = CallLogInterceptor(calls.clone());
    let services = Services::build_with(config.clone(), |builder| builder.interceptor(interceptor))
        .await
        .expect("services");
    let dynamo = dynamo_client(&services.sdk, &direct);
    let providers = Providers::build(&config.completion, &services.sdk)
        .await
        .expect("providers");
    let app = Arc::new(App::new(services, providers));
    create_table(&dynamo, &table).await.expect("table");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (shutdown, stopped) = oneshot::channel::<()>();
    let undeclared = Arc::new(Mutex::new(Vec::new()));
    tokio::spawn(serve_checked(
        listener,
        app.clone(),
        undeclared.clone(),
        stopped,
    ));
    TestApp {
        base,
        http: reqwest::Client::new(),
        dynamo,
        table,
        config,
        calls,
        app,
        undeclared,
        _engine: engine,
        _shutdown: shutdown,
    }
}

/// The statuses `openapi.yaml` declares for each `(METHOD, path template)`.
pub fn declared_statuses() -> &'static BTreeMap<(String, String), BTreeSet<u16>> {
    static DECLARED: OnceLock<BTreeMap<(String, String), BTreeSet<u16>>> = OnceLock::new();
    DECLARED.get_or_init(|| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi.yaml");
        let spec: serde_json::Value =
            serde_yaml_ng::from_str(&std::fs::read_to_string(path).expect("openapi.yaml"))
                .expect("openapi.yaml is YAML");
        let mut declared = BTreeMap::new();
        for (template, item) in spec["paths"].as_object().expect("paths") {
            for (method, operation) in item.as_object().expect("path item") {
                let Some(responses) = operation.get("responses").and_then(|r| r.as_object()) else {
                    continue;
                };
                let statuses = responses.keys().filter_map(|s| s.parse().ok()).collect();
                declared.insert((method.to_uppercase(), template.clone()), statuses);
            }
        }
        declared
    })
}

/// The operation (`ROUTES` entry) a request is for, when it is one of the API's.
pub fn operation_of(method: &str, path: &str) -> Option<(&'static str, &'static str)> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    ROUTES.into_iter().find(|(route_method, template)| {
        let pattern: Vec<&str> = template.split('/').collect();
        *route_method == method
            && pattern.len() == segments.len()
            && pattern
                .iter()
                .zip(&segments)
                .all(|(p, s)| p == s || (p.starts_with('{') && !s.is_empty()))
    })
}

/// The local server's accept loop, checking every API response's status against the spec.
async fn serve_checked(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    undeclared: Arc<Mutex<Vec<String>>>,
    mut stopped: oneshot::Receiver<()>,
) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
            _ = &mut stopped => return,
        };
        let app = app.clone();
        let undeclared = undeclared.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let app = app.clone();
                let undeclared = undeclared.clone();
                let operation = operation_of(req.method().as_str(), req.uri().path());
                async move {
                    let response: http::Response<LocalBody> = route(&app, req).await;
                    let status = response.status().as_u16();
                    if let Some((method, template)) = operation
                        && !declared_statuses()
                            .get(&(method.to_owned(), template.to_owned()))
                            .is_some_and(|statuses| statuses.contains(&status))
                    {
                        undeclared
                            .lock()
                            .unwrap()
                            .push(format!("{method} {template} answered {status}"));
                    }
                    Ok::<_, Infallible>(response)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let undeclared = self.undeclared.lock().unwrap();
        if !undeclared.is_empty() && !std::thread::panicking() {
            panic!("statuses openapi.yaml does not declare: {undeclared:?}");
        }
    }
}

/// A new caller in a new project.
pub fn new_caller() -> Caller {
    Caller {
        project: ProjectId(Uuid::now_v7()),
        visitor: VisitorId(Uuid::now_v7()),
    }
}

/// Another visitor of the same project.
pub fn same_project_other_visitor(caller: Caller) -> Caller {
    Caller {
        project: caller.project,
        visitor: VisitorId(Uuid::now_v7()),
    }
}

impl TestApp {
    pub fn keys(&self) -> &SigningKeys {
        self.config.signing_keys.inline().expect("inline test keys")
    }

    /// A valid token for `caller`.
    pub fn token(&self, caller: Caller) -> String {
        TokenMinter::new(self.keys()).mint(caller, 600)
    }

    /// A token with these claims, signed with the app's current key.
    pub fn token_with(&self, claims: &Claims) -> String {
        TokenMinter::new(self.keys()).mint_claims(claims)
    }

    /// Claims for `caller`, valid now.
    pub fn claims(&self, caller: Caller) -> Claims {
        let now = now_secs();
        Claims {
            sub: caller.visitor.0,
            pid: caller.project.0,
            iat: now,
            exp: now + 600,
            nbf: None,
            iss: None,
        }
    }

    /// Stores an open conversation of `caller` with `messages` alternating user and
    /// assistant messages, one millisecond apart, and returns its id.
    pub async fn create_conversation(&self, caller: Caller, messages: usize) -> Uuid {
        let id = Uuid::now_v7();
        let start = Timestamp::now().unix_millis() - 10 * 60 * 1000;
        let mut conversation =
            Conversation::new(id, caller.visitor, Timestamp::from_unix_millis(start));
        let mut items = Vec::new();
        for n in 0..messages {
            let at = Timestamp::from_unix_millis(start + n as i64);
            let role = if n % 2 == 0 {
                MessageRole::User
            } else {
                MessageRole::Assistant
            };
            let message = Message::text(
                Uuid::now_v7(),
                id,
                role,
                &format!("message {n}"),
                MessageStatus::Complete,
                at,
            );
            items.push(message_item(caller.project, &message));
            conversation.last_interaction_at = at;
            conversation.updated_at = at;
        }
        items.push(conversation_item(caller.project, &conversation));
        for item in items {
            self.dynamo
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .send()
                .await
                .expect("put");
        }
        id
    }

    /// Every item of the API's data in the table, in key order (rate-limit counters left
    /// out: they count requests, refused ones included): compared before and after a
    /// refused request.
    pub async fn snapshot(&self) -> Vec<Item> {
        let mut all = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .dynamo
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan");
            all.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        let key = |item: &Item| {
            let text = |name: &str| match item.get(name) {
                Some(AttributeValue::S(s)) => s.clone(),
                _ => String::new(),
            };
            (text("pk"), text("sk"))
        };
        all.retain(|item| !key(item).0.starts_with("RL#"));
        all.sort_by_key(key);
        all
    }

    pub async fn get(&self, id: &str, auth: Option<&str>) -> reqwest::Response {
        let mut request = self
            .http
            .get(format!("{}/v2/conversations/{id}", self.base));
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        request.send().await.expect("get")
    }

    /// `POST /v2/chat/completions` with `body`, as `caller`, from a browser `origin`.
    pub async fn complete_from(
        &self,
        caller: Caller,
        body: &serde_json::Value,
        origin: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self
            .http
            .post(format!("{}/v2/chat/completions", self.base))
            .header("authorization", bearer(&self.token(caller)))
            .json(body);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send().await.expect("completion")
    }

    pub async fn close(
        &self,
        id: &str,
        auth: Option<&str>,
        body: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self
            .http
            .post(format!("{}/v2/conversations/{id}/close", self.base));
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_owned());
        }
        request.send().await.expect("close")
    }
}

/// A response's status and JSON body.
pub async fn json(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let body = response.json().await.expect("a JSON body");
    (status, body)
}

/// `Bearer <token>`.
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

impl TestApp {
    /// Posts a completion with `body` as `caller`.
    pub async fn complete(&self, caller: Caller, body: &serde_json::Value) -> reqwest::Response {
        self.complete_from(caller, body, None).await
    }

    /// Stores an assistant in `caller`'s project and returns its id.
    pub async fn put_assistant(&self, caller: Caller, model: &str, tier: Tier) -> Uuid {
        let id = Uuid::now_v7();
        let assistant = Assistant {
            id: Some(id),
            name: format!("assistant {model}"),
            provider: ProviderKind::Offline,
            model: model.to_owned(),
            system_prompt: Some("You are a test assistant.".into()),
            temperature: None,
            max_output_tokens: None,
            tier,
        };
        self.dynamo
            .put_item()
            .table_name(&self.table)
            .set_item(Some(assistant_item(caller.project, &assistant)))
            .send()
            .await
            .expect("put assistant");
        id
    }

    /// Stores the project's settings item.
    pub async fn put_project(&self, caller: Caller, plan: Plan, default_model: Option<&str>) {
        let default_assistant = default_model.map(|model| Assistant {
            id: Some(Uuid::now_v7()),
            name: "default".into(),
            provider: ProviderKind::Offline,
            model: model.to_owned(),
            system_prompt: None,
            temperature: None,
            max_output_tokens: None,
            tier: Tier::Standard,
        });
        let settings = ProjectSettings {
            plan,
            default_assistant,
            limits: Default::default(),
        };
        self.dynamo
            .put_item()
            .table_name(&self.table)
            .set_item(Some(project_item(caller.project, &settings)))
            .send()
            .await
            .expect("put project");
    }

    /// The stored conversation, as its owner reads it.
    pub async fn read(&self, caller: Caller, id: &str) -> serde_json::Value {
        let (status, body) = json(self.get(id, Some(&bearer(&self.token(caller)))).await).await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

/// The `data:` payloads of a UI message stream, in order, with comments kept as `:`.
pub fn stream_events(text: &str) -> Vec<String> {
    assert!(
        text.ends_with("\n\n"),
        "a stream ends with a blank line: {text:?}"
    );
    text.trim_end_matches("\n\n")
        .split("\n\n")
        .map(|event| {
            if event.starts_with(':') {
                event.to_owned()
            } else {
                event
                    .strip_prefix("data: ")
                    .unwrap_or_else(|| panic!("not a data event: {event:?}"))
                    .to_owned()
            }
        })
        .collect()
}

/// A user message.
pub fn user(content: &str) -> serde_json::Value {
    serde_json::json!({ "role": "user", "content": content })
}

/// Serves `handle` over HTTP/1 on a free loopback port for the rest of the test; the
/// stand-ins for what the project does not own (model providers, a faulty network) are
/// built on it. Returns `http://127.0.0.1:<port>`.
pub async fn serve_http<F, Fut, B>(handle: F) -> String
where
    F: Fn(hyper::Request<hyper::body::Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = hyper::Response<B>> + Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let handle = handle.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let response = handle(req);
                    async move { Ok::<_, std::convert::Infallible>(response.await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    address
}
