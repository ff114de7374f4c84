//! What every handler's edge is configured with: the session-token keys and issuer, the
//! browser origins, and logging, read from the environment (pure: a signing-key secret is
//! read by the wiring, `crate::secrets`).

use chat_domain::env::{ConfigError, Env, invalid};
use chat_domain::session::SigningKeys;

use crate::cors::Cors;

/// The edge's settings.
#[derive(Clone, Debug)]
pub struct EdgeSettings {
    /// Where the session-token signing keys come from.
    pub signing_keys: KeySource,
    /// The `iss` every token must carry, when set (`SESSION_TOKEN_ISSUER`).
    pub token_issuer: Option<String>,
    /// Which browser origins may read responses (`CORS_ALLOWED_ORIGINS`: `*` or
    /// `https://a.example,https://b.example`; unset: none).
    pub cors: Cors,
    /// How logs are written.
    pub log: LogSettings,
    /// How long a session token minted by `identity/init` is valid
    /// (`SESSION_TOKEN_TTL_SECS`, default a day).
    pub session_token_ttl_secs: u64,
    /// How long a process trusts a key it looked up (`API_KEY_CACHE_TTL_MS`, default and
    /// most 60000: a revocation takes effect within it).
    pub key_cache_ttl: std::time::Duration,
}

/// The variable holding the signing keys inline.
pub const SIGNING_KEYS_VAR: &str = "SESSION_SIGNING_KEYS";
/// The variable naming the signing keys' secret: the name its read errors carry.
pub const SIGNING_KEYS_SECRET_VAR: &str = "SESSION_SIGNING_KEYS_SECRET_ARN";

/// Where the session-token signing keys come from.
#[derive(Clone, Debug)]
pub enum KeySource {
    /// Given inline (`SESSION_SIGNING_KEYS`, `kid:secret,...`): local runs and tests.
    Inline(SigningKeys),
    /// A Secrets Manager secret holding the same text (`SESSION_SIGNING_KEYS_SECRET_ARN`),
    /// read once at start-up: how a deployment keeps keys out of its configuration.
    SecretsManager(String),
}

impl KeySource {
    /// The inline keys; `None` when they live in a secret.
    pub fn inline(&self) -> Option<&SigningKeys> {
        match self {
            Self::Inline(keys) => Some(keys),
            Self::SecretsManager(_) => None,
        }
    }
}

/// How logs are written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogSettings {
    /// JSON lines or text.
    pub format: LogFormat,
    /// A target list such as `info,aws_smithy_runtime=warn`.
    pub level: String,
}

/// The log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line, for CloudWatch.
    Json,
    /// Human-readable, for a terminal.
    Text,
}

/// The filter used when no level is configured: our lines at info, the SDK's at warn.
pub const DEFAULT_LOG_LEVEL: &str = "info,aws_smithy_runtime=warn,aws_config=warn,hyper=warn";

impl EdgeSettings {
    /// Reads the edge's settings: the signing keys are required (inline or a secret).
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let signing_keys = match (env.get(SIGNING_KEYS_VAR), env.get(SIGNING_KEYS_SECRET_VAR)) {
            (Some(keys), _) => KeySource::Inline(
                SigningKeys::parse(&keys).map_err(|e| invalid(SIGNING_KEYS_VAR, e.to_string()))?,
            ),
            (None, Some(secret)) => KeySource::SecretsManager(secret),
            (None, None) => return Err(ConfigError::Missing(SIGNING_KEYS_VAR)),
        };
        let cors = match env.get("CORS_ALLOWED_ORIGINS") {
            None => Cors::Disabled,
            Some(text) => Cors::parse(&text).map_err(|r| invalid("CORS_ALLOWED_ORIGINS", r))?,
        };
        Ok(Self {
            signing_keys,
            token_issuer: env.get("SESSION_TOKEN_ISSUER"),
            cors,
            log: LogSettings::from_env(env)?,
            session_token_ttl_secs: env.number("SESSION_TOKEN_TTL_SECS", 24 * 3600)?,
            key_cache_ttl: env.millis("API_KEY_CACHE_TTL_MS", crate::api_keys::KEY_CACHE_TTL)?,
        })
    }
}

impl LogSettings {
    /// `LOG_FORMAT` and `LOG_LEVEL` when set; else Lambda's advanced logging controls
    /// (`AWS_LAMBDA_LOG_FORMAT`: `JSON` or `Text`; `AWS_LAMBDA_LOG_LEVEL`: `TRACE` to
    /// `FATAL`), so a function's logging can be changed from the Lambda console; else JSON on
    /// Lambda and text elsewhere, at [`DEFAULT_LOG_LEVEL`].
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let on_lambda = env.get("AWS_LAMBDA_FUNCTION_NAME").is_some();
        let format = match (env.get("LOG_FORMAT"), env.get("AWS_LAMBDA_LOG_FORMAT")) {
            (Some(ours), _) => match ours.trim() {
                "json" => LogFormat::Json,
                "text" => LogFormat::Text,
                other => {
                    return Err(invalid(
                        "LOG_FORMAT",
                        format!("{other:?} is neither json nor text"),
                    ));
                }
            },
            (None, Some(lambda)) if lambda.trim().eq_ignore_ascii_case("json") => LogFormat::Json,
            (None, Some(lambda)) if lambda.trim().eq_ignore_ascii_case("text") => LogFormat::Text,
            (None, Some(other)) => {
                return Err(invalid(
                    "AWS_LAMBDA_LOG_FORMAT",
                    format!("{other:?} is neither JSON nor Text"),
                ));
            }
            (None, None) if on_lambda => LogFormat::Json,
            (None, None) => LogFormat::Text,
        };
        let level = match (env.get("LOG_LEVEL"), env.get("AWS_LAMBDA_LOG_LEVEL")) {
            (Some(ours), _) => ours,
            (None, Some(lambda)) => match lambda.trim().to_ascii_uppercase().as_str() {
                "TRACE" => "trace".to_owned(),
                "DEBUG" => "debug".to_owned(),
                "INFO" => DEFAULT_LOG_LEVEL.to_owned(),
                "WARN" => "warn".to_owned(),
                "ERROR" | "FATAL" => "error".to_owned(),
                other => {
                    return Err(invalid(
                        "AWS_LAMBDA_LOG_LEVEL",
                        format!("{other:?} is not one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL"),
                    ));
                }
            },
            (None, None) => DEFAULT_LOG_LEVEL.to_owned(),
        };
        Ok(Self { format, level })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "k:0123456789abcdef0123456789abcdef";

    #[test]
    fn keys_are_inline_or_in_a_secret_and_one_is_required() {
        let settings =
            EdgeSettings::from_env(&Env::from_pairs(&[(SIGNING_KEYS_VAR, KEY)])).unwrap();
        assert!(settings.signing_keys.inline().is_some());
        assert_eq!(settings.log.format, LogFormat::Text);
        let settings = EdgeSettings::from_env(&Env::from_pairs(&[(
            SIGNING_KEYS_SECRET_VAR,
            "arn:aws:secretsmanager:eu-west-1:1:secret:k",
        )]))
        .unwrap();
        assert!(
            matches!(settings.signing_keys, KeySource::SecretsManager(ref arn) if arn.ends_with(":k"))
        );
        let err = EdgeSettings::from_env(&Env::from_pairs(&[])).unwrap_err();
        assert_eq!(err.to_string(), "SESSION_SIGNING_KEYS is not set");
        let err =
            EdgeSettings::from_env(&Env::from_pairs(&[(SIGNING_KEYS_VAR, "k:short")])).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("SESSION_SIGNING_KEYS is invalid"),
            "{err}"
        );
    }

    #[test]
    fn cors_origins_are_read_and_checked() {
        let read = |origins: Option<&str>| {
            let mut pairs = vec![(SIGNING_KEYS_VAR, KEY)];
            if let Some(origins) = origins {
                pairs.push(("CORS_ALLOWED_ORIGINS", origins));
            }
            EdgeSettings::from_env(&Env::from_pairs(&pairs)).map(|s| s.cors)
        };
        assert_eq!(
            read(None).unwrap(),
            Cors::Disabled,
            "no cross-origin access unless asked"
        );
        assert_eq!(
            read(Some("https://a.example,https://b.example")).unwrap(),
            Cors::Origins(vec!["https://a.example".into(), "https://b.example".into()])
        );
        let err = read(Some("a.example")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("CORS_ALLOWED_ORIGINS is invalid")
        );
    }

    #[test]
    fn lambda_logs_json_by_default_and_follows_its_advanced_logging_controls() {
        let log = |pairs: &[(&str, &str)]| LogSettings::from_env(&Env::from_pairs(pairs));
        assert_eq!(
            log(&[("AWS_LAMBDA_FUNCTION_NAME", "get")]).unwrap(),
            LogSettings {
                format: LogFormat::Json,
                level: DEFAULT_LOG_LEVEL.into()
            }
        );
        let controlled = log(&[
            ("AWS_LAMBDA_FUNCTION_NAME", "get"),
            ("AWS_LAMBDA_LOG_FORMAT", "Text"),
            ("AWS_LAMBDA_LOG_LEVEL", "DEBUG"),
        ])
        .unwrap();
        assert_eq!(controlled.format, LogFormat::Text);
        assert_eq!(controlled.level, "debug");
        assert_eq!(
            log(&[("AWS_LAMBDA_LOG_LEVEL", "FATAL")]).unwrap().level,
            "error"
        );
        // The project's own variables win over the console's.
        let ours = log(&[
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_LAMBDA_LOG_LEVEL", "ERROR"),
            ("LOG_FORMAT", "text"),
            ("LOG_LEVEL", "info,chat=debug"),
        ])
        .unwrap();
        assert_eq!(ours.format, LogFormat::Text);
        assert_eq!(ours.level, "info,chat=debug");
        assert!(log(&[("AWS_LAMBDA_LOG_LEVEL", "LOUD")]).is_err());
        assert!(log(&[("LOG_FORMAT", "xml")]).is_err());
    }
}
