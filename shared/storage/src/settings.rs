//! How to reach the table: its name, the endpoint, region, retries, timeouts, credentials and
//! trusted roots, read from the environment (pure; the CA bundle file is read when the client
//! is built, in [`crate::client::sdk_config`]).

use std::path::PathBuf;
use std::time::Duration;

use chat_domain::env::{ConfigError, Env};

/// Where the data lives and how it is reached.
#[derive(Clone, Debug)]
pub struct StoreSettings {
    /// The DynamoDB table (`TABLE_NAME`).
    pub table_name: String,
    /// How the DynamoDB client is built.
    pub dynamo: DynamoSettings,
}

/// How to reach DynamoDB.
#[derive(Clone, Debug, Default)]
pub struct DynamoSettings {
    /// Another endpoint than AWS's (`DYNAMODB_ENDPOINT`), e.g. a local engine.
    pub endpoint: Option<String>,
    /// The region (`AWS_REGION`, `AWS_DEFAULT_REGION`); the SDK's chain decides when unset.
    pub region: Option<String>,
    /// Attempts per call, first included (`DYNAMODB_MAX_ATTEMPTS`, default 3).
    pub max_attempts: u32,
    /// Limit for one attempt (`DYNAMODB_ATTEMPT_TIMEOUT_MS`, default 2000).
    pub attempt_timeout: Duration,
    /// Limit for a call with all its retries (`DYNAMODB_OPERATION_TIMEOUT_MS`, default 5000).
    pub operation_timeout: Duration,
    /// Where the AWS credentials come from.
    pub credentials: CredentialSource,
    /// A PEM file of certificates to trust for AWS endpoints instead of Amazon's roots
    /// (`AWS_CA_BUNDLE`); every AWS client of the process shares the choice.
    pub ca_bundle: Option<PathBuf>,
}

/// Where the AWS credentials come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CredentialSource {
    /// The SDK's default chain (environment, profile, web identity, container, instance).
    #[default]
    DefaultChain,
    /// The environment alone (`AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` are set, as
    /// Lambda sets them): the default chain would also build an STS client for web
    /// identity, with its own TLS set-up, at start-up.
    Environment,
    /// Fixed dummy credentials: for local engines, which check that a request is signed,
    /// not who signed it.
    LocalDummy,
}

impl StoreSettings {
    /// Reads `TABLE_NAME` and the DynamoDB settings.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: env.required("TABLE_NAME")?,
            dynamo: DynamoSettings::from_env(env)?,
        })
    }
}

impl DynamoSettings {
    /// Reads the DynamoDB settings; every one has a default.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            endpoint: env.get("DYNAMODB_ENDPOINT"),
            region: env
                .get("AWS_REGION")
                .or_else(|| env.get("AWS_DEFAULT_REGION")),
            max_attempts: env.number("DYNAMODB_MAX_ATTEMPTS", 3)?,
            attempt_timeout: env.millis("DYNAMODB_ATTEMPT_TIMEOUT_MS", Duration::from_secs(2))?,
            operation_timeout: env
                .millis("DYNAMODB_OPERATION_TIMEOUT_MS", Duration::from_secs(5))?,
            credentials: if env.get("AWS_ACCESS_KEY_ID").is_some()
                && env.get("AWS_SECRET_ACCESS_KEY").is_some()
            {
                CredentialSource::Environment
            } else {
                CredentialSource::DefaultChain
            },
            ca_bundle: env.get("AWS_CA_BUNDLE").map(PathBuf::from),
        })
    }

    /// Settings for a local engine at `endpoint`: dummy credentials, the defaults otherwise.
    pub fn local(endpoint: impl Into<String>) -> Self {
        Self {
            endpoint: Some(endpoint.into()),
            credentials: CredentialSource::LocalDummy,
            ..Self::from_env(&Env::from_pairs(&[])).expect("the defaults parse")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_required_and_defaults() {
        let settings =
            StoreSettings::from_env(&Env::from_pairs(&[("TABLE_NAME", "chat")])).unwrap();
        assert_eq!(settings.table_name, "chat");
        assert_eq!(settings.dynamo.max_attempts, 3);
        assert!(settings.dynamo.endpoint.is_none());
        assert!(settings.dynamo.ca_bundle.is_none());
        assert_eq!(settings.dynamo.credentials, CredentialSource::DefaultChain);
    }

    #[test]
    fn missing_and_invalid_values_are_named() {
        let err = StoreSettings::from_env(&Env::from_pairs(&[])).unwrap_err();
        assert_eq!(err.to_string(), "TABLE_NAME is not set");
        let err = DynamoSettings::from_env(&Env::from_pairs(&[("DYNAMODB_MAX_ATTEMPTS", "many")]))
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("DYNAMODB_MAX_ATTEMPTS is invalid")
        );
    }

    #[test]
    fn credentials_in_the_environment_are_read_from_there() {
        let settings = DynamoSettings::from_env(&Env::from_pairs(&[
            ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ]))
        .unwrap();
        assert_eq!(settings.credentials, CredentialSource::Environment);
    }
}
