//! What a process builds once and shares across every request: the configuration, the
//! DynamoDB store and the token verifier.

use aws_config::SdkConfig;

use crate::auth::Authenticator;
use crate::config::{Config, ConfigError};
use crate::rate_limit::RateLimiter;
use crate::storage::client::{dynamo_client_with, sdk_config};
use crate::storage::dynamo::DynamoStore;
use crate::telemetry;

/// The process-wide clients a handler is called with.
pub struct Services {
    /// The configuration they were built from.
    pub config: Config,
    /// The SDK configuration, for further AWS clients.
    pub sdk: SdkConfig,
    /// The storage adapter.
    pub store: DynamoStore,
    /// The session-token verifier.
    pub auth: Authenticator,
    /// Rate limits and quotas.
    pub limiter: RateLimiter,
}

impl Services {
    /// Reads the environment, starts logging, and builds everything: a Lambda's `main`.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let config = Config::from_env()?;
        telemetry::init(config.log_format);
        Self::build(config).await
    }

    /// Builds everything from `config`.
    pub async fn build(config: Config) -> Result<Self, ConfigError> {
        Self::build_with(config, |builder| builder).await
    }

    /// As [`Services::build`], with a last say over the DynamoDB client's configuration.
    pub async fn build_with(
        config: Config,
        customize: impl FnOnce(aws_sdk_dynamodb::config::Builder) -> aws_sdk_dynamodb::config::Builder,
    ) -> Result<Self, ConfigError> {
        let sdk = sdk_config(&config.dynamo).await;
        // The DynamoDB client is built while the signing-key secret's answer is on its way.
        let (keys, client) = tokio::join!(config.signing_keys.resolve(&sdk), async {
            dynamo_client_with(&sdk, &config.dynamo, customize)
        });
        let keys = keys?;
        let store = DynamoStore::new(client, config.table_name.clone());
        let auth = Authenticator::new(&keys, config.token_issuer.as_deref());
        let limiter = RateLimiter::new(config.limits);
        Ok(Self {
            config,
            sdk,
            store,
            auth,
            limiter,
        })
    }
}
