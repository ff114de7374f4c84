//! What the providers are built with, read from the environment (pure: the OpenAI key's
//! secret, when it is one, is read by the wiring).

use chat_domain::env::{ConfigError, Env};
use chat_domain::secret::SecretSource;

use crate::offline::OfflineSettings;
use crate::openai::DEFAULT_BASE_URL;

/// The providers' settings.
#[derive(Clone, Debug)]
pub struct ProviderSettings {
    /// The OpenAI-compatible server (`OPENAI_BASE_URL`).
    pub openai_base_url: String,
    /// Its key (`OPENAI_API_KEY`, or `OPENAI_API_KEY_SECRET_ARN` for a secret).
    pub openai_api_key: Option<SecretSource>,
    /// The offline provider's timing (`OFFLINE_FIRST_TOKEN_MS`, `OFFLINE_TOKEN_GAP_MS`,
    /// `OFFLINE_TOKENS`).
    pub offline: OfflineSettings,
}

/// The variable naming the OpenAI key's secret: the name its read errors carry.
pub const OPENAI_KEY_SECRET_VAR: &str = "OPENAI_API_KEY_SECRET_ARN";

impl ProviderSettings {
    /// Reads the providers' settings; every one has a default.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let defaults = OfflineSettings::default();
        Ok(Self {
            openai_base_url: env
                .get("OPENAI_BASE_URL")
                .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned()),
            openai_api_key: SecretSource::from_env(env, "OPENAI_API_KEY", OPENAI_KEY_SECRET_VAR),
            offline: OfflineSettings {
                first_token_delay: env
                    .millis("OFFLINE_FIRST_TOKEN_MS", defaults.first_token_delay)?,
                token_gap: env.millis("OFFLINE_TOKEN_GAP_MS", defaults.token_gap)?,
                tokens: env.number("OFFLINE_TOKENS", defaults.tokens)?,
                failure: None,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_openai_key_is_inline_or_a_secret_and_never_printed() {
        let settings =
            ProviderSettings::from_env(&Env::from_pairs(&[("OPENAI_API_KEY", "sk-abcdef123")]))
                .unwrap();
        assert!(!format!("{settings:?}").contains("abcdef123"));
        let settings = ProviderSettings::from_env(&Env::from_pairs(&[(
            OPENAI_KEY_SECRET_VAR,
            "arn:aws:secretsmanager:eu-west-1:1:secret:openai",
        )]))
        .unwrap();
        assert!(matches!(
            settings.openai_api_key,
            Some(SecretSource::SecretsManager(ref arn)) if arn.ends_with(":openai")
        ));
        assert_eq!(settings.openai_base_url, DEFAULT_BASE_URL);
    }
}
