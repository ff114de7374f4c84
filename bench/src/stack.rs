//! What every part of the benchmark runs against: the embedded DynamoDB engine with the
//! table and the demo data, clients on it, and a stand-in for Secrets Manager so the
//! function binaries start with their deployed configuration (keys read from a secret).

use std::convert::Infallible;
use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use bytes::Bytes;
use chat_domain::Spelling;
use chat_domain::conversation::{Conversation, ConversationStatus};
use chat_domain::env::Env;
use chat_domain::ids::{Caller, ProjectId, VisitorId};
use chat_domain::message::{Message, MessageRole, MessageStatus};
use chat_domain::timestamp::Timestamp;
use chat_local::app::{App, LocalSettings};
use chat_local::embedded_dynamo::EmbeddedDynamo;
use chat_local::seed::{DEMO_CONVERSATION, DEMO_PROJECT, demo_assistants, seed_demo};
use chat_local::settings::{DEV_SIGNING_KEYS, local_settings};
use chat_storage::DynamoStore;
use chat_storage::items::conversation::{CLOSE_REASON, CLOSED_AT, STATUS};
use chat_storage::items::key;
use chat_storage::keys::{CONVERSATION_SK, conversation_pk};
use chat_storage::settings::CredentialSource;
use chat_storage::table::create_table_without_stream;
use chat_testkit::call_log::{CallLog, CallLogInterceptor};
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
    /// The same without the limiter: what warm latency and streams are measured with.
    pub unlimited: LocalSettings,
    /// Every function's state, without the limiter.
    pub app: App,
    /// Every function's state, with the limiter, on a client that logs every request:
    /// what round trips are counted with.
    pub logged: App,
    pub calls: Arc<CallLog>,
    /// `http://127.0.0.1:<port>` of the Secrets Manager stand-in.
    pub secrets_endpoint: String,
}

impl Stack {
    pub async fn start() -> Result<Self, BoxError> {
        let engine = EmbeddedDynamo::start(None).await?;
        let endpoint = engine.endpoint().to_owned();
        let mut settings = local_settings(Env::from_pairs(&[
            ("TABLE_NAME", TABLE),
            ("DYNAMODB_ENDPOINT", &endpoint),
            ("LOG_LEVEL", "warn"),
        ]))?;
        settings.base.store.dynamo.credentials = CredentialSource::LocalDummy;
        // Timings call one visitor far past any rate limit: they run without the limiter.
        // The round-trip counts use `logged`, with it on as deployed.
        let mut unlimited = settings.clone();
        unlimited.base.limits.enabled = false;
        let app = App::build(unlimited.clone()).await?;
        let calls = Arc::new(CallLog::default());
        let interceptor = CallLogInterceptor(calls.clone());
        let logged = App::build_with(settings.clone(), |b| b.interceptor(interceptor)).await?;
        // No stream: nothing here follows it (the push row hands its batches over itself).
        create_table_without_stream(app.store.client(), TABLE).await?;
        seed_demo(&app.store).await.map_err(BoxError::from)?;
        let secrets_endpoint = serve_secret().await?;
        Ok(Self {
            engine,
            unlimited,
            app,
            logged,
            calls,
            secrets_endpoint,
        })
    }

    pub fn store(&self) -> &DynamoStore {
        &self.app.store
    }

    pub fn client(&self) -> &Client {
        self.app.store.client()
    }

    /// Makes `model` the demo project's default assistant.
    pub async fn set_demo_model(&self, model: &str) -> Result<(), BoxError> {
        let [mut standard, _] = demo_assistants();
        standard.model = model.to_owned();
        self.store()
            .put_assistant(ProjectId(DEMO_PROJECT), &standard, true)
            .await?;
        Ok(())
    }

    /// Stores an open conversation of `caller` with `messages` messages of a typical
    /// length; returns its id.
    pub async fn conversation(&self, caller: Caller, messages: usize) -> Result<Uuid, BoxError> {
        self.conversation_sized(caller, messages, 0).await
    }

    /// Stores an open conversation of `caller` with `messages` messages, alternately the
    /// user's and the assistant's, each of at least `chars` characters; returns its id.
    /// Written by the storage crate's own import, through the item writers a turn uses.
    pub async fn conversation_sized(
        &self,
        caller: Caller,
        messages: usize,
        chars: usize,
    ) -> Result<Uuid, BoxError> {
        let id = Uuid::now_v7();
        let start = Timestamp::now().unix_millis() - 600_000 - messages as i64 * 1_000;
        let mut conversation =
            Conversation::new(id, caller.visitor, Timestamp::from_unix_millis(start));
        let mut history = Vec::with_capacity(messages);
        for n in 0..messages {
            let at = Timestamp::from_unix_millis(start + n as i64 * 1_000);
            let role = if n % 2 == 0 {
                MessageRole::User
            } else {
                MessageRole::Assistant
            };
            let mut text = format!(
                "Message {n} of the benchmark conversation, of a typical length for a chat turn."
            );
            while text.len() < chars {
                text.push_str(" More of the same answer, to make the message as long as asked.");
            }
            history.push(Message::text(
                Uuid::now_v7(),
                id,
                role,
                &text,
                MessageStatus::Complete,
                at,
            ));
            conversation.last_interaction_at = at;
            conversation.updated_at = at;
        }
        self.store()
            .import_conversation(caller.project, &conversation, &history)
            .await?;
        Ok(id)
    }

    /// How many Query pages a full read of conversation `id`'s partition takes, newest
    /// first, as the get reads it (1,001 items a page at most; DynamoDB and the engine stop
    /// a page at 1 MB).
    pub async fn query_pages(&self, caller: Caller, id: Uuid) -> Result<usize, BoxError> {
        let (mut pages, mut items, mut start) = (0, 0, None);
        loop {
            let page = self
                .client()
                .query()
                .table_name(TABLE)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", chat_storage::keys::PARTITION_KEY)
                .expression_attribute_values(
                    ":pk",
                    AttributeValue::S(conversation_pk(caller.project, id)),
                )
                .scan_index_forward(false)
                .consistent_read(true)
                .limit(1_001)
                .set_exclusive_start_key(start)
                .send()
                .await?;
            pages += 1;
            items += page.items.map_or(0, |i| i.len());
            start = page.last_evaluated_key;
            if start.is_none() || items >= 1_001 {
                return Ok(pages);
            }
        }
    }

    /// Stores the demo conversation open again (after a close), so that every cold close
    /// closes: a benchmark's own write, which no route makes.
    pub async fn reopen_demo(&self) -> Result<(), BoxError> {
        let pk = conversation_pk(ProjectId(DEMO_PROJECT), DEMO_CONVERSATION);
        self.client()
            .update_item()
            .table_name(TABLE)
            .set_key(Some(key(pk, CONVERSATION_SK)))
            .update_expression("SET #status = :open REMOVE #closedAt, #reason")
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#closedAt", CLOSED_AT)
            .expression_attribute_names("#reason", CLOSE_REASON)
            .expression_attribute_values(
                ":open",
                AttributeValue::S(ConversationStatus::Open.as_str().into()),
            )
            .send()
            .await?;
        Ok(())
    }
}

/// A new visitor of the demo project (whose settings and assistants the answer routes read).
pub fn demo_visitor() -> Caller {
    Caller {
        project: ProjectId(DEMO_PROJECT),
        visitor: VisitorId(Uuid::now_v7()),
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
    let keys = chat_domain::session::SigningKeys::parse(DEV_SIGNING_KEYS).expect("dev keys");
    chat_domain::session::TokenMinter::new(&keys).mint(caller, 3_600)
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
