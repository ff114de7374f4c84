//! Builds the DynamoDB client once per process from [`DynamoSettings`].

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{Credentials, Region};

use crate::aws_https::https_client;
use crate::config::{CredentialSource, DynamoSettings};

/// The region used when neither the settings nor the environment name one (local runs).
pub const FALLBACK_REGION: &str = "us-east-1";

/// The shared SDK configuration: region, credentials, retries and timeouts. The endpoint
/// override is DynamoDB's alone, so it is applied by [`dynamo_client`].
pub async fn sdk_config(settings: &DynamoSettings) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client(&settings.trust))
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
    loader.load().await
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
