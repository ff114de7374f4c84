//! The local server reads the same configuration as the Lambdas, with development
//! defaults for what a fresh machine does not have.

use chat_shared::config::{Config, ConfigError};

/// The table used when `TABLE_NAME` is unset.
pub const DEFAULT_TABLE: &str = "chat-local";

/// The development signing key used when neither `SESSION_SIGNING_KEYS` nor
/// `SESSION_SIGNING_KEYS_SECRET_ARN` is set. Public: it must never sign tokens for a
/// deployment. The sample events in `events/` use it.
pub const DEV_SIGNING_KEYS: &str = "local:local-development-signing-key-do-not-deploy";

/// The origins allowed when `CORS_ALLOWED_ORIGINS` is unset: any, so a front end on
/// another local port (a dev server on :5173) can call the API.
pub const DEV_CORS_ALLOWED_ORIGINS: &str = "*";

/// The process environment with the local defaults underneath.
pub fn local_config() -> Result<Config, ConfigError> {
    config_with(|name| std::env::var(name).ok())
}

/// `lookup` with the local defaults underneath.
pub fn config_with(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
    let set = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
    // Keys from a secret win over the development key, as they would on Lambda.
    let keys_in_secret = set("SESSION_SIGNING_KEYS_SECRET_ARN").is_some();
    Config::from_lookup(|name| {
        set(name).or_else(|| match name {
            "TABLE_NAME" => Some(DEFAULT_TABLE.to_owned()),
            "SESSION_SIGNING_KEYS" if !keys_in_secret => Some(DEV_SIGNING_KEYS.to_owned()),
            "CORS_ALLOWED_ORIGINS" => Some(DEV_CORS_ALLOWED_ORIGINS.to_owned()),
            _ => None,
        })
    })
}

#[cfg(test)]
mod tests {
    use chat_shared::config::KeySource;
    use chat_shared::cors::Cors;

    use super::*;

    #[test]
    fn a_fresh_machine_gets_the_development_defaults() {
        let config = config_with(|_| None).unwrap();
        assert_eq!(config.table_name, DEFAULT_TABLE);
        assert!(config.signing_keys.inline().is_some());
        assert_eq!(config.cors, Cors::AnyOrigin);
    }

    #[test]
    fn a_signing_key_secret_is_not_shadowed_by_the_development_key() {
        let config = config_with(|name| {
            (name == "SESSION_SIGNING_KEYS_SECRET_ARN")
                .then(|| "arn:aws:secretsmanager:us-east-1:123456789012:secret:keys".to_owned())
        })
        .unwrap();
        assert!(
            matches!(config.signing_keys, KeySource::SecretsManager(ref arn) if arn.ends_with(":keys"))
        );
    }
}
