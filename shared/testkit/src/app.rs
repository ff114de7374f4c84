//! The test kit's stack: [`TestApp::builder`] starts an embedded engine, a fresh table, the
//! local server's router and accept loop on a free port, and a DynamoDB client whose every
//! request is logged, so tests count round trips. Every answer to an API route is checked
//! against the statuses `openapi.yaml` declares for it. With [`Builder::pushing`], the
//! table's changes are pushed to the sockets as the local server pushes them.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chat_domain::assistant::{
    Assistant, LimitOverrides, Plan, ProjectSettings, ProviderKind, Tier,
};
use chat_domain::conversation::Conversation;
use chat_domain::env::Env;
use chat_domain::ids::{Caller, ProjectId, VisitorId};
use chat_domain::message::{Message, MessageRole, MessageStatus};
use chat_domain::session::{Claims, SigningKeys, TokenMinter};
use chat_domain::timestamp::Timestamp;
use chat_local::app::{App, LocalSettings};
use chat_local::changes::ChangeFollower;
use chat_local::embedded_dynamo::EmbeddedDynamo;
use chat_local::server::{Observer, serve};
use chat_local::settings::local_settings;
use chat_storage::DynamoStore;
use chat_storage::client::dynamo_client;
use chat_storage::items::{Item, key_of};
use chat_storage::keys::COUNTER_PK_PREFIX;
use chat_storage::settings::CredentialSource;
use chat_storage::table::create_table;
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::call_log::{CallLog, CallLogInterceptor};

/// A running local stack for one test.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// A plain HTTP client.
    pub http: reqwest::Client,
    /// A client for setting up and inspecting the table (not logged).
    pub dynamo: aws_sdk_dynamodb::Client,
    /// The same, as the store: for writing through the production writers.
    pub store: DynamoStore,
    /// This test's table.
    pub table: String,
    /// The settings the app runs with.
    pub settings: LocalSettings,
    /// What the app sent to DynamoDB.
    pub calls: Arc<CallLog>,
    /// The app, for in-process handler calls.
    pub app: Arc<App>,
    /// The follower of the table's stream, when the stack pushes ([`Builder::pushing`]).
    changes: Option<ChangeFollower>,
    /// Responses whose status `openapi.yaml` does not declare for their operation: a
    /// test that sees one fails when its app is dropped.
    undeclared: Arc<Mutex<Vec<String>>>,
    _engine: EmbeddedDynamo,
    _shutdown: oneshot::Sender<()>,
}

/// Where the app's DynamoDB traffic goes, given the engine's endpoint (a fault proxy).
type Reroute = Box<dyn FnOnce(String) -> Pin<Box<dyn Future<Output = String> + Send>> + Send>;

/// A change to the settings read from the environment.
type Customize = Box<dyn FnOnce(&mut LocalSettings) + Send>;

/// How a [`TestApp`] is set up: environment variables, a last say over the settings, and
/// where the app's DynamoDB traffic goes. [`TestApp::builder`] makes one.
#[derive(Default)]
pub struct Builder {
    env: Vec<(String, String)>,
    customize: Vec<Customize>,
    reroute: Option<Reroute>,
    pushing: bool,
}

/// A stack with the default settings.
pub async fn spawn_app() -> TestApp {
    TestApp::builder().spawn().await
}

impl TestApp {
    /// A builder for a stack.
    pub fn builder() -> Builder {
        Builder::default()
    }
}

impl Builder {
    /// Sets the environment variable `name` in the app's environment.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// A last say over the settings read from the environment.
    pub fn settings(mut self, customize: impl FnOnce(&mut LocalSettings) + Send + 'static) -> Self {
        self.customize.push(Box::new(customize));
        self
    }

    /// Pushes the table's changes to the sockets, as the local server does (off by
    /// default: the pushes' own reads would land in other tests' call logs at any time).
    pub fn pushing(mut self) -> Self {
        self.pushing = true;
        self
    }

    /// Offline answers with no delay before or between tokens.
    pub fn instant_answers(self) -> Self {
        self.settings(|settings| {
            settings.providers.offline.first_token_delay = Duration::ZERO;
            settings.providers.offline.token_gap = Duration::ZERO;
        })
    }

    /// Sends the app's DynamoDB traffic to the endpoint `reroute` returns for the engine's
    /// (a fault-injecting proxy); set-up and inspection go straight to the engine.
    pub fn dynamo_through<F, Fut>(mut self, reroute: F) -> Self
    where
        F: FnOnce(String) -> Fut + Send + 'static,
        Fut: Future<Output = String> + Send + 'static,
    {
        self.reroute = Some(Box::new(move |endpoint| Box::pin(reroute(endpoint))));
        self
    }

    /// Starts the stack.
    pub async fn spawn(self) -> TestApp {
        let engine = EmbeddedDynamo::start(None).await.expect("engine starts");
        let table = format!("t-{}", Uuid::now_v7().simple());
        let endpoint = engine.endpoint().to_owned();
        let mut pairs = vec![
            ("TABLE_NAME".to_owned(), table.clone()),
            ("DYNAMODB_ENDPOINT".to_owned(), endpoint.clone()),
        ];
        pairs.extend(self.env);
        let env = Env::from_lookup(move |name| {
            pairs
                .iter()
                .rev()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
        });
        let mut settings = local_settings(env).expect("settings");
        settings.base.store.dynamo.credentials = CredentialSource::LocalDummy;
        for customize in self.customize {
            customize(&mut settings);
        }
        let direct = settings.base.store.dynamo.clone();
        if let Some(reroute) = self.reroute {
            settings.base.store.dynamo.endpoint = Some(reroute(endpoint.clone()).await);
        }
        let calls = Arc::new(CallLog::default());
        let interceptor = CallLogInterceptor(calls.clone());
        let app = App::build_with(settings.clone(), |builder| builder.interceptor(interceptor))
            .await
            .expect("app");
        let sdk = chat_storage::client::sdk_config(&direct)
            .await
            .expect("sdk");
        let dynamo = dynamo_client(&sdk, &direct);
        create_table(&dynamo, &table).await.expect("table");
        let changes = match self.pushing {
            true => Some(app.follow_changes().await.expect("the stream is followed")),
            false => None,
        };
        let app = Arc::new(app);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (shutdown, stopped) = oneshot::channel::<()>();
        let undeclared = Arc::new(Mutex::new(Vec::new()));
        let seen = undeclared.clone();
        let observer: Observer = Arc::new(move |route, status| {
            let Some(route) = route else { return };
            let key = (route.method.to_owned(), route.template.to_owned());
            let declared = declared_statuses()
                .get(&key)
                .is_some_and(|statuses| statuses.contains(&status.as_u16()));
            if !declared {
                seen.lock().unwrap().push(format!(
                    "{} {} answered {}",
                    route.method,
                    route.template,
                    status.as_u16()
                ));
            }
        });
        tokio::spawn(serve(
            listener,
            app.clone(),
            async {
                let _ = stopped.await;
            },
            Some(observer),
        ));
        TestApp {
            base,
            http: reqwest::Client::new(),
            store: DynamoStore::new(dynamo.clone(), table.clone()),
            dynamo,
            table,
            settings,
            calls,
            app,
            changes,
            undeclared,
            _engine: engine,
            _shutdown: shutdown,
        }
    }
}

impl TestApp {
    /// Returns once every change committed so far has been pushed to the sockets.
    pub async fn pushed(&self) {
        self.changes
            .as_ref()
            .expect("a stack built with Builder::pushing")
            .caught_up()
            .await;
    }
}

/// The statuses `openapi.yaml` declares for each `(METHOD, path template)`.
pub fn declared_statuses() -> &'static BTreeMap<(String, String), BTreeSet<u16>> {
    static DECLARED: OnceLock<BTreeMap<(String, String), BTreeSet<u16>>> = OnceLock::new();
    DECLARED.get_or_init(|| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi.yaml");
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
    /// The keys the app verifies tokens with.
    pub fn keys(&self) -> &SigningKeys {
        self.settings
            .base
            .edge
            .signing_keys
            .inline()
            .expect("inline test keys")
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
        Claims::new(caller, 600, None)
    }

    /// Stores an open conversation of `caller` with `messages` alternating user and
    /// assistant messages, one millisecond apart, and returns its id.
    pub async fn create_conversation(&self, caller: Caller, messages: usize) -> Uuid {
        let id = Uuid::now_v7();
        let start = Timestamp::now().unix_millis() - 10 * 60 * 1000;
        let mut conversation =
            Conversation::new(id, caller.visitor, Timestamp::from_unix_millis(start));
        let mut history = Vec::with_capacity(messages);
        for n in 0..messages {
            let at = Timestamp::from_unix_millis(start + n as i64);
            let role = if n % 2 == 0 {
                MessageRole::User
            } else {
                MessageRole::Assistant
            };
            history.push(Message::text(
                Uuid::now_v7(),
                id,
                role,
                &format!("message {n}"),
                MessageStatus::Complete,
                at,
            ));
            conversation.last_interaction_at = at;
            conversation.updated_at = at;
        }
        self.store
            .import_conversation(caller.project, &conversation, &history)
            .await
            .expect("import");
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
        all.retain(|item| !key_of(item).0.starts_with(COUNTER_PK_PREFIX));
        all.sort_by(|a, b| key_of(a).cmp(&key_of(b)));
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

    /// Stores an assistant in `caller`'s project (created on the free plan if it has no
    /// settings yet) and returns its id.
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
            fallback_message: None,
        };
        self.store_assistant(caller, &assistant).await;
        id
    }

    /// Stores `assistant` in `caller`'s project (created on the free plan if it has no
    /// settings yet), through the admin commands' writer.
    pub async fn store_assistant(&self, caller: Caller, assistant: &Assistant) {
        self.ensure_project(caller.project, Plan::Free).await;
        self.store
            .put_assistant(caller.project, assistant, false)
            .await
            .expect("put assistant");
    }

    /// Puts the project on `plan` with these limits (creating it if needed).
    pub async fn put_limits(&self, caller: Caller, plan: Plan, limits: LimitOverrides) {
        let settings = ProjectSettings {
            plan,
            default_assistant: None,
            limits,
            index_version: None,
        };
        match self.store.create_project(caller.project, &settings).await {
            Ok(()) => {}
            Err(chat_storage::projects::ProjectWriteError::Exists(_)) => self
                .store
                .set_plan(caller.project, plan, &limits)
                .await
                .expect("set plan"),
            Err(error) => panic!("create project: {error}"),
        }
    }

    /// Puts the project on `plan` (creating it if needed), with a default assistant of
    /// `default_model` when one is given.
    pub async fn put_project(&self, caller: Caller, plan: Plan, default_model: Option<&str>) {
        if !self.ensure_project(caller.project, plan).await {
            self.store
                .set_plan(caller.project, plan, &LimitOverrides::default())
                .await
                .expect("set plan");
        }
        if let Some(model) = default_model {
            let assistant = Assistant {
                id: Some(Uuid::now_v7()),
                name: "default".into(),
                provider: ProviderKind::Offline,
                model: model.to_owned(),
                system_prompt: None,
                temperature: None,
                max_output_tokens: None,
                tier: Tier::Standard,
                fallback_message: None,
            };
            self.store
                .put_assistant(caller.project, &assistant, true)
                .await
                .expect("put default assistant");
        }
    }

    /// Creates the project on `plan` unless it exists; whether it created it.
    async fn ensure_project(&self, project: ProjectId, plan: Plan) -> bool {
        let settings = ProjectSettings {
            plan,
            default_assistant: None,
            limits: Default::default(),
            index_version: None,
        };
        match self.store.create_project(project, &settings).await {
            Ok(()) => true,
            Err(chat_storage::projects::ProjectWriteError::Exists(_)) => false,
            Err(error) => panic!("create project: {error}"),
        }
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

/// An embedded engine holding a table `table` with the local server's demo data, for tests
/// that run the function binaries themselves; the engine stops when the first is dropped.
pub async fn demo_engine(table: &str) -> (EmbeddedDynamo, DynamoStore) {
    let engine = EmbeddedDynamo::start(None).await.expect("engine starts");
    let settings = chat_storage::settings::DynamoSettings::local(engine.endpoint());
    let sdk = chat_storage::client::sdk_config(&settings)
        .await
        .expect("sdk");
    let store = DynamoStore::new(dynamo_client(&sdk, &settings), table);
    create_table(store.client(), table).await.expect("table");
    chat_local::seed::seed_demo(&store).await.expect("seed");
    (engine, store)
}
