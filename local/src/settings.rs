//! The local server reads the same configuration as the Lambdas, with development
//! defaults for what a fresh machine does not have.

use chat_domain::env::{ConfigError, Env};

use crate::app::LocalSettings;

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
pub fn local_env() -> Env<'static> {
    with_local_defaults(Env::process())
}

/// `env` with the local defaults underneath.
pub fn with_local_defaults(env: Env<'_>) -> Env<'_> {
    // Keys from a secret win over the development key, as they would on Lambda.
    let keys_in_secret = env.get("SESSION_SIGNING_KEYS_SECRET_ARN").is_some();
    env.with_defaults(move |name| match name {
        "TABLE_NAME" => Some(DEFAULT_TABLE.to_owned()),
        "SESSION_SIGNING_KEYS" if !keys_in_secret => Some(DEV_SIGNING_KEYS.to_owned()),
        "CORS_ALLOWED_ORIGINS" => Some(DEV_CORS_ALLOWED_ORIGINS.to_owned()),
        // The local server crawls its own demo shop, and the tests their own sites, on
        // loopback; a deployment never does (the template does not set it).
        "KNOWLEDGE_ALLOW_LOOPBACK" => Some("true".to_owned()),
        _ => None,
    })
}

/// Every setting, from `env` with the local defaults underneath.
pub fn local_settings(env: Env<'_>) -> Result<LocalSettings, ConfigError> {
    LocalSettings::from_env(&with_local_defaults(env))
}

#[cfg(test)]
mod tests {
    use chat_edge::cors::Cors;
    use chat_edge::settings::KeySource;

    use super::*;

    #[test]
    fn a_fresh_machine_gets_the_development_defaults() {
        let settings = local_settings(Env::from_pairs(&[])).unwrap();
        assert_eq!(settings.base.store.table_name, DEFAULT_TABLE);
        assert!(settings.base.edge.signing_keys.inline().is_some());
        assert_eq!(settings.base.edge.cors, Cors::AnyOrigin);
        assert!(settings.knowledge.policy.allow_loopback);
    }

    #[test]
    fn a_signing_key_secret_is_not_shadowed_by_the_development_key() {
        let settings = local_settings(Env::from_pairs(&[(
            "SESSION_SIGNING_KEYS_SECRET_ARN",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:keys",
        )]))
        .unwrap();
        assert!(matches!(
            settings.base.edge.signing_keys,
            KeySource::SecretsManager(ref arn) if arn.ends_with(":keys")
        ));
    }
}
