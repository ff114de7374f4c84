//! `spawn_app`: an embedded engine, a fresh table, the local server on a free port, and
//! a DynamoDB client whose every request is logged, so tests count round trips.

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use chat_local::call_log::{CallLog, CallLogInterceptor};
use chat_local::engine::EmbeddedDynamo;
use chat_local::server::{App, serve};
use chat_local::settings::config_with;
use chat_shared::auth::{Claims, SigningKeys, TokenMinter, now_secs};
use chat_shared::config::Config;
use chat_shared::domain::{
    Caller, Conversation, Message, MessageRole, MessageStatus, ProjectId, VisitorId,
};
use chat_shared::provider::registry::Providers;
use chat_shared::services::Services;
use chat_shared::storage::client::dynamo_client;
use chat_shared::storage::items::{Item, conversation_item, message_item};
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
    _engine: EmbeddedDynamo,
    _shutdown: oneshot::Sender<()>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// As [`spawn_app`], with these environment variables in the app's configuration.
pub async fn spawn_app_with(env: &[(&str, &str)]) -> TestApp {
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
    config.dynamo.static_credentials = true;
    let calls = Arc::new(CallLog::default());
    let interceptor = CallLogInterceptor(calls.clone());
    let services = Services::build_with(config.clone(), |builder| builder.interceptor(interceptor))
        .await
        .expect("services");
    let dynamo = dynamo_client(&services.sdk, &config.dynamo);
    let providers = Providers::build(&config.completion, &services.sdk)
        .await
        .expect("providers");
    let app = Arc::new(App::new(services, providers));
    create_table(&dynamo, &table).await.expect("table");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (shutdown, stopped) = oneshot::channel::<()>();
    tokio::spawn(serve(listener, app.clone(), async move {
        let _ = stopped.await;
    }));
    TestApp {
        base,
        http: reqwest::Client::new(),
        dynamo,
        table,
        config,
        calls,
        app,
        _engine: engine,
        _shutdown: shutdown,
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

    /// Every item in the table, in key order: compared before and after a refused request.
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

    /// `POST /v2/chat/completions` with `body`, as `caller`.
    pub async fn complete(
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
