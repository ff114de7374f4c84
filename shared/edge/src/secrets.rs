//! Reading secrets from Secrets Manager, once, at start-up: the session-token signing keys
//! and the OpenAI key, when the environment names secrets instead of holding the values.

use aws_config::SdkConfig;
use chat_domain::error::DisplayChain;
use chat_domain::secret::{Secret, SecretSource};
use chat_domain::session::SigningKeys;

use crate::settings::{KeySource, SIGNING_KEYS_SECRET_VAR};
use crate::startup_error::StartupError;

/// The secret's string value; errors name `variable`, the setting that named the secret.
pub async fn read_secret(
    sdk: &SdkConfig,
    id: &str,
    variable: &'static str,
) -> Result<Secret, StartupError> {
    let failed = |reason: String| StartupError::Secret { variable, reason };
    let secret = aws_sdk_secretsmanager::Client::new(sdk)
        .get_secret_value()
        .secret_id(id)
        .send()
        .await
        .map_err(|e| failed(DisplayChain(&e).to_string()))?;
    secret
        .secret_string()
        .map(Secret::new)
        .ok_or_else(|| failed("the secret has no string value".into()))
}

/// The value of `source`: itself, or read from the secret it names.
pub async fn resolve(
    source: &SecretSource,
    sdk: &SdkConfig,
    variable: &'static str,
) -> Result<Secret, StartupError> {
    match source {
        SecretSource::Inline(value) => Ok(value.clone()),
        SecretSource::SecretsManager(id) => read_secret(sdk, id, variable).await,
    }
}

/// The value of `source`, when there is one: [`resolve`] of an optional secret.
pub async fn resolve_optional(
    source: Option<&SecretSource>,
    sdk: &SdkConfig,
    variable: &'static str,
) -> Result<Option<Secret>, StartupError> {
    match source {
        Some(source) => resolve(source, sdk, variable).await.map(Some),
        None => Ok(None),
    }
}

/// The signing keys themselves, read from their secret when they live in one.
pub async fn signing_keys(
    source: &KeySource,
    sdk: &SdkConfig,
) -> Result<SigningKeys, StartupError> {
    match source {
        KeySource::Inline(keys) => Ok(keys.clone()),
        KeySource::SecretsManager(id) => {
            let text = read_secret(sdk, id, SIGNING_KEYS_SECRET_VAR).await?;
            SigningKeys::parse(text.expose()).map_err(|e| StartupError::Secret {
                variable: SIGNING_KEYS_SECRET_VAR,
                reason: format!("the secret does not hold signing keys: {e}"),
            })
        }
    }
}
