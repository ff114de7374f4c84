//! Builds the DynamoDB client once per process from [`DynamoSettings`].

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{Credentials, Region};

use crate::config::DynamoSettings;

/// The region used when neither the settings nor the environment name one (local runs).
pub const FALLBACK_REGION: &str = "us-east-1";

/// The shared SDK configuration: region, endpoint, credentials, retries and timeouts.
pub async fn sdk_config(settings: &DynamoSettings) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
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
    if let Some(endpoint) = &settings.endpoint {
        loader = loader.endpoint_url(endpoint);
        if settings.region.is_none() {
            loader = loader.region(Region::new(FALLBACK_REGION));
        }
    }
    if settings.static_credentials {
        // A local engine checks that a request is signed, not who signed it.
        loader =
            loader.credentials_provider(Credentials::new("local", "local", None, None, "static"));
    }
    loader.load().await
}

/// A DynamoDB client for these settings.
pub async fn dynamo_client(settings: &DynamoSettings) -> Client {
    Client::new(&sdk_config(settings).await)
}
