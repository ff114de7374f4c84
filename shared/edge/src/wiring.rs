//! What a process builds once and shares across every request, and the one helper every
//! function's `main` calls: read the settings, start logging, build the clients (reading
//! secrets while the DynamoDB client is built), build the function's state, serve events.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use aws_config::SdkConfig;
use chat_domain::env::{ConfigError, Env};
use chat_domain::interrupted::InterruptPolicy;
use chat_domain::limits::{LimitSettings, RateLimiter};
use chat_domain::session::{Authenticator, SigningKeys};
use chat_storage::DynamoStore;
use chat_storage::client::{dynamo_client_with, sdk_config};
use chat_storage::settings::StoreSettings;
use futures_util::FutureExt;
use lambda_http::{Request, Response, service_fn};

use crate::api_keys::KeyCache;
use crate::cors::Cors;
use crate::settings::EdgeSettings;
use crate::startup_error::StartupError;
use crate::{secrets, telemetry};

/// The settings every function reads.
#[derive(Clone, Debug)]
pub struct BaseSettings {
    /// The table and how DynamoDB is reached.
    pub store: StoreSettings,
    /// Tokens, CORS, logging.
    pub edge: EdgeSettings,
    /// Rate limits and quotas.
    pub limits: LimitSettings,
    /// When a message left `streaming` reads as interrupted.
    pub interrupt: InterruptPolicy,
}

impl BaseSettings {
    /// Reads them from `env`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            store: StoreSettings::from_env(env)?,
            edge: EdgeSettings::from_env(env)?,
            limits: LimitSettings::from_env(env)?,
            interrupt: InterruptPolicy::from_env(env)?,
        })
    }
}

/// What every handler's edge uses: the token verifier, the limiter, the allowed origins.
pub struct Edge {
    /// The session-token verifier.
    pub auth: Authenticator,
    /// The keys tokens are signed with (the identity function mints with them).
    pub signing_keys: SigningKeys,
    /// The `iss` minted tokens carry, when the deployment checks one.
    pub token_issuer: Option<String>,
    /// Looked-up API keys, for a minute.
    pub keys: KeyCache,
    /// Rate limits and quotas.
    pub limiter: RateLimiter,
    /// Which browser origins may read responses.
    pub cors: Cors,
    /// When a message left `streaming` reads as interrupted.
    pub interrupt: InterruptPolicy,
}

/// What a process builds once: the store, the edge, and the SDK configuration for any
/// further AWS client.
pub struct Base {
    /// The settings it was built from.
    pub settings: BaseSettings,
    /// The SDK configuration (region, credentials, trusted roots).
    pub sdk: SdkConfig,
    /// The storage adapter.
    pub store: DynamoStore,
    /// Auth, limits, CORS.
    pub edge: Arc<Edge>,
}

impl Base {
    /// Builds everything `settings` describe.
    pub async fn build(settings: BaseSettings) -> Result<Self, StartupError> {
        Self::build_with(settings, |builder| builder).await
    }

    /// As [`Base::build`], with a last say over the DynamoDB client's configuration (tests
    /// add an interceptor that logs every request).
    pub async fn build_with(
        settings: BaseSettings,
        customize: impl FnOnce(aws_sdk_dynamodb::config::Builder) -> aws_sdk_dynamodb::config::Builder,
    ) -> Result<Self, StartupError> {
        let sdk = sdk_config(&settings.store.dynamo).await?;
        // One after the other, not joined with the secret's read: the join's state machine
        // cost about 7 KB of every binary, to hide a client build of a tenth of a millisecond.
        let client = dynamo_client_with(&sdk, &settings.store.dynamo, customize);
        let keys = secrets::signing_keys(&settings.edge.signing_keys, &sdk).await?;
        let store = DynamoStore::new(client, settings.store.table_name.clone());
        let edge = Arc::new(Edge {
            auth: Authenticator::new(&keys, settings.edge.token_issuer.as_deref()),
            signing_keys: keys,
            token_issuer: settings.edge.token_issuer.clone(),
            keys: KeyCache::new(settings.edge.key_cache_ttl),
            limiter: RateLimiter::new(settings.limits),
            cors: settings.edge.cors.clone(),
            interrupt: settings.interrupt,
        });
        Ok(Self {
            settings,
            sdk,
            store,
            edge,
        })
    }
}

/// A function's state: built once, it answers every request.
pub trait Handler: Send + Sync {
    /// The response body: `lambda_http::Body`, or a stream.
    type Body;

    /// Answers one request; every outcome, errors included, is a response.
    fn handle(&self, req: Request) -> impl Future<Output = Response<Self::Body>> + Send;
}

/// Reads the process environment, starts logging and builds the [`Base`]: the first half
/// of every `main`.
pub async fn start() -> Result<(Base, Env<'static>), StartupError> {
    let env = Env::process();
    let settings = BaseSettings::from_env(&env)?;
    telemetry::init(&settings.edge.log);
    Ok((Base::build(settings).await?, env))
}

/// A buffered function's whole `main`: [`start`], `build` its state, serve events.
pub async fn run<H, F, Fut>(build: F) -> Result<(), lambda_http::Error>
where
    H: Handler<Body = lambda_http::Body>,
    F: FnOnce(Base, Env<'static>) -> Fut,
    Fut: Future<Output = Result<H, StartupError>>,
{
    let (base, env) = start().await?;
    let handler = build(base, env).await?;
    let handler = &handler;
    lambda_http::run(service_fn(move |req| {
        handler.handle(req).map(Ok::<_, Infallible>)
    }))
    .await
}

/// A streaming function's whole `main`: as [`run`], with response streaming.
pub async fn run_streaming<H, F, Fut>(build: F) -> Result<(), lambda_http::Error>
where
    H: Handler,
    H::Body: http_body::Body + Unpin + Send + 'static,
    <H::Body as http_body::Body>::Data: Into<bytes::Bytes> + Send,
    <H::Body as http_body::Body>::Error: Into<lambda_http::Error> + Send + std::fmt::Debug,
    F: FnOnce(Base, Env<'static>) -> Fut,
    Fut: Future<Output = Result<H, StartupError>>,
{
    let (base, env) = start().await?;
    let handler = build(base, env).await?;
    let handler = &handler;
    lambda_http::run_with_streaming_response(service_fn(move |req| {
        handler.handle(req).map(Ok::<_, Infallible>)
    }))
    .await
}
