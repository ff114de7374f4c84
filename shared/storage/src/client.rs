//! Builds the DynamoDB client once per process from [`DynamoSettings`].

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{Credentials, Region};

use chat_domain::env::{ConfigError, invalid};

use crate::aws_https::{AwsTrust, https_client};
use crate::settings::{CredentialSource, DynamoSettings};

/// The region used when neither the settings nor the environment name one (local runs).
pub const FALLBACK_REGION: &str = "us-east-1";

/// The roots AWS endpoints are checked against: Amazon's, or the certificates of the file
/// `AWS_CA_BUNDLE` names (read and checked here, at start-up).
pub fn trust(settings: &DynamoSettings) -> Result<AwsTrust, ConfigError> {
    match &settings.ca_bundle {
        None => Ok(AwsTrust::Amazon),
        Some(path) => std::fs::read(path)
            .map_err(|e| format!("{}: {e}", path.display()))
            .and_then(AwsTrust::bundle)
            .map_err(|reason| invalid("AWS_CA_BUNDLE", reason)),
    }
}

/// The shared SDK configuration: region, credentials, retries, timeouts and trusted roots.
/// The endpoint override is DynamoDB's alone, so it is applied by [`dynamo_client`].
pub async fn sdk_config(settings: &DynamoSettings) -> Result<SdkConfig, ConfigError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client(&trust(settings)?))
        .retry_config(RetryConfig::standard().with_max_attempts(settings.max_attempts.max(1)))
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(settings.operation_timeout)
                .operation_attempt_timeout(settings.attempt_timeout)
                .connect_timeout(settings.attempt_timeout)
                .build(),
        );
    if let Some(region) = &settings.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if settings.endpoint.is_some() && settings.region.is_none() {
        loader = loader.region(Region::new(FALLBACK_REGION));
    }
    loader = match settings.credentials {
        CredentialSource::DefaultChain => loader,
        CredentialSource::Environment => {
            loader.credentials_provider(EnvironmentVariableCredentialsProvider::new())
        }
        CredentialSource::LocalDummy => {
            loader.credentials_provider(Credentials::new("local", "local", None, None, "static"))
        }
    };
    Ok(loader.load().await)
}

/// A DynamoDB client on `sdk`, pointed at the settings' endpoint when there is one.
pub fn dynamo_client(sdk: &SdkConfig, settings: &DynamoSettings) -> Client {
    dynamo_client_with(sdk, settings, |builder| builder)
}

/// As [`dynamo_client`], with a last say over the client's configuration (tests add an
/// interceptor that logs every request).
pub fn dynamo_client_with(
    sdk: &SdkConfig,
    settings: &DynamoSettings,
    customize: impl FnOnce(aws_sdk_dynamodb::config::Builder) -> aws_sdk_dynamodb::config::Builder,
) -> Client {
    let mut builder = aws_sdk_dynamodb::config::Builder::from(sdk);
    if let Some(endpoint) = &settings.endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    Client::from_conf(customize(builder).build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_calls_trust_amazons_roots_unless_a_bundle_is_named() {
        let mut settings = DynamoSettings::default();
        assert_eq!(trust(&settings).unwrap(), AwsTrust::Amazon);
        settings.ca_bundle = Some(
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/certs/amazon-trust-services.pem"
            )
            .into(),
        );
        assert!(matches!(trust(&settings).unwrap(), AwsTrust::Bundle(_)));
        for unusable in [
            "/nonexistent/ca.pem",
            concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"),
        ] {
            settings.ca_bundle = Some(unusable.into());
            let error = trust(&settings).unwrap_err();
            assert!(
                error.to_string().starts_with("AWS_CA_BUNDLE is invalid"),
                "{unusable}: {error}"
            );
        }
    }
}
