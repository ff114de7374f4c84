//! What every part of the benchmark runs against: the embedded DynamoDB engine with the
//! table and the demo data, clients on it, and a stand-in for Secrets Manager so the
//! function binaries start with their deployed configuration (keys read from a secret).

use std::convert::Infallible;
use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use bytes::Bytes;
use chat_local::call_log::{CallLog, CallLogInterceptor};
use chat_local::engine::EmbeddedDynamo;
use chat_local::seed::{DEMO_PROJECT, demo_assistants, seed_demo};
use chat_local::settings::{DEV_SIGNING_KEYS, config_with};
use chat_shared::assistant::{Plan, ProjectSettings};
use chat_shared::config::{Config, CredentialSource};
use chat_shared::domain::{
    Caller, Conversation, Message, MessageRole, MessageStatus, ProjectId, VisitorId,
};
use chat_shared::services::Services;
use chat_shared::storage::items::{conversation_item, message_item, project_item};
use chat_shared::storage::table::create_table;
use chat_shared::timestamp::Timestamp;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use uuid::Uuid;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The table every part uses.
pub const TABLE: &str = "chat-bench";

/// The secret's ARN the functions are configured with, as on AWS.
pub const SECRET_ARN: &str =
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:chat-api/signing-keys-AbCdEf";

pub struct Stack {
    pub engine: EmbeddedDynamo,
    pub config: Config,
    /// Plain services: what warm latency is measured with.
    pub services: Services,
    /// Services whose client logs every request: what round trips are counted with.
    pub logged: Services,
    pub calls: Arc<CallLog>,
    /// `http://127.0.0.1:<port>` of the Secrets Manager stand-in.
    pub secrets_endpoint: String,
}

impl Stack {
    pub async fn start() -> Result<Self, BoxError> {
        let engine = EmbeddedDynamo::start(None).await?;
        let endpoint = engine.endpoint().to_owned();
        let mut config = config_with(|name| match name {
            "TABLE_NAME" => Some(TABLE.to_owned()),
            "DYNAMODB_ENDPOINT" => Some(endpoint.clone()),
            "LOG_LEVEL" => Some("warn".to_owned()),
            _ => None,
        })?;
        config.dynamo.credentials = CredentialSource::LocalDummy;
        // Timings call one visitor far past any rate limit: they run without the limiter.
        // The round-trip counts use `logged`, with it on as deployed.
        let mut unlimited = config.clone();
        unlimited.limits.enabled = false;
        let services = Services::build(unlimited).await?;
        let calls = Arc::new(CallLog::default());
        let interceptor = CallLogInterceptor(calls.clone());
        let logged = Services::build_with(config.clone(), |b| b.interceptor(interceptor)).await?;
        let client = services.store.client();
        create_table(client, TABLE).await?;
        seed_demo(client, TABLE).await.map_err(BoxError::from)?;
        let secrets_endpoint = serve_secret().await?;
        Ok(Self {
            engine,
            config,
            services,
            logged,
            calls,
            secrets_endpoint,
        })
    }

    pub fn client(&self) -> &Client {
        self.services.store.client()
    }

    /// Makes `model` the demo project's default assistant.
    pub async fn set_demo_model(&self, model: &str) -> Result<(), BoxError> {
        let [mut standard, _] = demo_assistants();
        standard.model = model.to_owned();
        let settings = ProjectSettings {
            plan: Plan::Free,
            default_assistant: Some(standard),
            limits: Default::default(),
        };
        self.client()
            .put_item()
            .table_name(TABLE)
            .set_item(Some(project_item(ProjectId(DEMO_PROJECT), &settings)))
            .send()
            .await?;
        Ok(())
    }

    /// Stores an open conversation of `caller` with `messages` messages; returns its id.
    pub async fn conversation(&self, caller: Caller, messages: usize) -> Result<Uuid, BoxError> {
        let id = Uuid::now_v7();
        let start = Timestamp::now().unix_millis() - 600_000;
        let mut conversation =
            Conversation::new(id, caller.visitor, Timestamp::from_unix_millis(start));
        for n in 0..messages {
            let at = Timestamp::from_unix_millis(start + n as i64 * 1_000);
            let role = if n % 2 == 0 {
                MessageRole::User
            } else {
                MessageRole::Assistant
            };
            let text = format!(
                "Message {n} of the benchmark conversation, of a typical length for a chat turn."
            );
            let message =
                Message::text(Uuid::now_v7(), id, role, &text, MessageStatus::Complete, at);
            self.client()
                .put_item()
                .table_name(TABLE)
                .set_item(Some(message_item(caller.project, &message)))
                .send()
                .await?;
            conversation.last_interaction_at = at;
            conversation.updated_at = at;
        }
        self.client()
            .put_item()
            .table_name(TABLE)
            .set_item(Some(conversation_item(caller.project, &conversation)))
            .send()
            .await?;
        Ok(id)
    }

    /// Stores the demo conversation open again (after a close).
    pub async fn reopen_demo(&self) -> Result<(), BoxError> {
        use aws_sdk_dynamodb::types::AttributeValue;
        let pk = chat_shared::storage::items::conversation_pk(
            ProjectId(DEMO_PROJECT),
            chat_local::seed::DEMO_CONVERSATION,
        );
        self.client()
            .update_item()
            .table_name(TABLE)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S("C".into()))
            .update_expression("SET #s = :open REMOVE closedAt, closeReason")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":open", AttributeValue::S("open".into()))
            .send()
            .await?;
        Ok(())
    }
}

/// A new caller in a new project.
pub fn new_caller() -> Caller {
    Caller {
        project: ProjectId(Uuid::now_v7()),
        visitor: VisitorId(Uuid::now_v7()),
    }
}

/// A token for `caller`, signed with the development key the secret holds.
pub fn token(caller: Caller) -> String {
    let keys = chat_shared::auth::SigningKeys::parse(DEV_SIGNING_KEYS).expect("dev keys");
    chat_shared::auth::TokenMinter::new(&keys).mint(caller, 3_600)
}

/// Answers every request as Secrets Manager's GetSecretValue would, with the development
/// keys: one round trip at a function's start, as on AWS.
async fn serve_secret() -> Result<String, BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let endpoint = format!("http://{}", listener.local_addr()?);
    let body = serde_json::json!({
        "ARN": SECRET_ARN,
        "Name": "chat-api/signing-keys",
        "VersionId": "00000000-0000-0000-0000-000000000001",
        "SecretString": DEV_SIGNING_KEYS,
        "VersionStages": ["AWSCURRENT"],
        "CreatedDate": 1.7e9
    })
    .to_string();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_req| {
                    let body = body.clone();
                    async move {
                        let mut response = http::Response::new(Full::new(Bytes::from(body)));
                        response.headers_mut().insert(
                            http::header::CONTENT_TYPE,
                            http::HeaderValue::from_static("application/x-amz-json-1.1"),
                        );
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(endpoint)
}
