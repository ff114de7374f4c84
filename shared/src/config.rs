//! Configuration from the environment, read once per process. The README's table lists
//! every variable; this is the one place that reads them.

use std::time::Duration;

use crate::assistant::{Assistant, Plan, ProviderKind, Tier};
use crate::auth::{KeyError, SigningKeys};
use crate::aws_https::AwsTrust;
use crate::cors::Cors;
use crate::provider::offline::OfflineSettings;
use crate::rate_limit::{LimitSettings, Limits};

/// Everything a function needs to know about its deployment.
#[derive(Clone, Debug)]
pub struct Config {
    /// The DynamoDB table (`TABLE_NAME`).
    pub table_name: String,
    /// Where the session-token keys come from.
    pub signing_keys: KeySource,
    /// The `iss` every token must carry, when set (`SESSION_TOKEN_ISSUER`).
    pub token_issuer: Option<String>,
    /// How the DynamoDB client is built.
    pub dynamo: DynamoSettings,
    /// How logs are written.
    pub log_format: LogFormat,
    /// Which browser origins may read responses (`CORS_ALLOWED_ORIGINS`: `*` or
    /// `https://a.example,https://b.example`; unset: none).
    pub cors: Cors,
    /// Completion defaults and provider settings.
    pub completion: CompletionSettings,
    /// Rate limits and quotas.
    pub limits: LimitSettings,
}

/// What the completion function needs beyond the common settings.
#[derive(Clone, Debug)]
pub struct CompletionSettings {
    /// The plan of a project with no settings item (`DEFAULT_PLAN`, default `free`).
    pub default_plan: Plan,
    /// The assistant of a project with no default (`DEFAULT_PROVIDER`, `DEFAULT_MODEL`,
    /// `DEFAULT_SYSTEM_PROMPT`; default: the offline provider).
    pub default_assistant: Assistant,
    /// The OpenAI-compatible server (`OPENAI_BASE_URL`).
    pub openai_base_url: String,
    /// Its key (`OPENAI_API_KEY`, or `OPENAI_API_KEY_SECRET_ARN` for a secret).
    pub openai_api_key: Option<SecretSource>,
    /// The offline provider's timing (`OFFLINE_FIRST_TOKEN_MS`, `OFFLINE_TOKEN_GAP_MS`,
    /// `OFFLINE_TOKENS`).
    pub offline: OfflineSettings,
    /// Longest wait for a provider's first token (`FIRST_TOKEN_TIMEOUT_MS`, 30000).
    pub first_token_timeout: Duration,
    /// Longest silence between two provider events (`PROVIDER_IDLE_TIMEOUT_MS`, 60000).
    pub idle_timeout: Duration,
    /// Quiet time after which a stream gets a keep-alive comment (`KEEP_ALIVE_MS`, 15000).
    pub keep_alive: Duration,
    /// Hard cap on a completion's output tokens (`MAX_OUTPUT_TOKENS`, 4096).
    pub max_output_tokens: u32,
    /// Hard cap on a completion's generation time (`MAX_GENERATION_SECS`, 240).
    pub max_generation_time: Duration,
}

/// A secret given inline or named in Secrets Manager.
#[derive(Clone)]
pub enum SecretSource {
    /// The value itself (local runs).
    Inline(String),
    /// A Secrets Manager secret id or ARN, read at start-up.
    SecretsManager(String),
}

impl std::fmt::Debug for SecretSource {
    // The value itself is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Inline(_) => f.write_str("Inline(..)"),
            Self::SecretsManager(id) => f.debug_tuple("SecretsManager").field(id).finish(),
        }
    }
}

impl SecretSource {
    /// The secret's text.
    pub async fn resolve(&self, sdk: &aws_config::SdkConfig) -> Result<String, ConfigError> {
        match self {
            Self::Inline(value) => Ok(value.clone()),
            Self::SecretsManager(id) => read_secret(sdk, id).await,
        }
    }
}

async fn read_secret(sdk: &aws_config::SdkConfig, id: &str) -> Result<String, ConfigError> {
    let secret = aws_sdk_secretsmanager::Client::new(sdk)
        .get_secret_value()
        .secret_id(id)
        .send()
        .await
        .map_err(|e| ConfigError::Secret(crate::error::DisplayChain(&e).to_string()))?;
    secret
        .secret_string()
        .map(str::to_owned)
        .ok_or_else(|| ConfigError::Secret("the secret has no string value".into()))
}

/// Where the session-token signing keys come from.
#[derive(Clone, Debug)]
pub enum KeySource {
    /// Given inline (`SESSION_SIGNING_KEYS`, `kid:secret,...`): local runs and tests.
    Inline(SigningKeys),
    /// A Secrets Manager secret holding the same text (`SESSION_SIGNING_KEYS_SECRET_ARN`),
    /// read once at start-up: how a deployment keeps keys out of its configuration.
    SecretsManager(String),
}

/// How to reach DynamoDB.
#[derive(Clone, Debug, Default)]
pub struct DynamoSettings {
    /// Another endpoint than AWS's (`DYNAMODB_ENDPOINT`), e.g. a local engine.
    pub endpoint: Option<String>,
    /// The region (`AWS_REGION`); the SDK's chain decides when unset.
    pub region: Option<String>,
    /// Attempts per call, first included (`DYNAMODB_MAX_ATTEMPTS`, default 3).
    pub max_attempts: u32,
    /// Limit for one attempt (`DYNAMODB_ATTEMPT_TIMEOUT_MS`, default 2000).
    pub attempt_timeout: Duration,
    /// Limit for a call with all its retries (`DYNAMODB_OPERATION_TIMEOUT_MS`, default 5000).
    pub operation_timeout: Duration,
    /// Where the AWS credentials come from.
    pub credentials: CredentialSource,
    /// What AWS endpoints' certificates are checked against (all AWS clients of the
    /// process share it): Amazon's roots, or the file `AWS_CA_BUNDLE` names.
    pub trust: AwsTrust,
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

/// The log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line, for CloudWatch.
    Json,
    /// Human-readable, for a terminal.
    Text,
}

/// What is wrong with the environment.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is unset.
    #[error("{0} is not set")]
    Missing(&'static str),
    /// A variable does not parse.
    #[error("{name} is invalid: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Why.
        reason: String,
    },
    /// The signing keys do not parse.
    #[error("the session signing keys are invalid: {0}")]
    Keys(#[from] KeyError),
    /// The signing-key secret could not be read.
    #[error("reading the signing-key secret failed: {0}")]
    Secret(String),
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`, so callers can layer defaults on top.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let table_name = get("TABLE_NAME").ok_or(ConfigError::Missing("TABLE_NAME"))?;
        let signing_keys = match (
            get("SESSION_SIGNING_KEYS"),
            get("SESSION_SIGNING_KEYS_SECRET_ARN"),
        ) {
            (Some(keys), _) => KeySource::Inline(SigningKeys::parse(&keys)?),
            (None, Some(secret)) => KeySource::SecretsManager(secret),
            (None, None) => return Err(ConfigError::Missing("SESSION_SIGNING_KEYS")),
        };
        let on_lambda = get("AWS_LAMBDA_FUNCTION_NAME").is_some();
        let log_format = match get("LOG_FORMAT").as_deref() {
            Some("json") => LogFormat::Json,
            Some("text") => LogFormat::Text,
            None if on_lambda => LogFormat::Json,
            None => LogFormat::Text,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "LOG_FORMAT",
                    reason: format!("{other:?} is neither json nor text"),
                });
            }
        };
        let dynamo = DynamoSettings {
            endpoint: get("DYNAMODB_ENDPOINT"),
            region: get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")),
            max_attempts: parse_number(&get, "DYNAMODB_MAX_ATTEMPTS", 3)?,
            attempt_timeout: Duration::from_millis(parse_number(
                &get,
                "DYNAMODB_ATTEMPT_TIMEOUT_MS",
                2_000,
            )?),
            operation_timeout: Duration::from_millis(parse_number(
                &get,
                "DYNAMODB_OPERATION_TIMEOUT_MS",
                5_000,
            )?),
            credentials: if get("AWS_ACCESS_KEY_ID").is_some()
                && get("AWS_SECRET_ACCESS_KEY").is_some()
            {
                CredentialSource::Environment
            } else {
                CredentialSource::DefaultChain
            },
            trust: match get("AWS_CA_BUNDLE") {
                None => AwsTrust::Amazon,
                Some(path) => std::fs::read(&path)
                    .map_err(|e| format!("{path}: {e}"))
                    .and_then(AwsTrust::bundle)
                    .map_err(|reason| ConfigError::Invalid {
                        name: "AWS_CA_BUNDLE",
                        reason,
                    })?,
            },
        };
        let cors = match get("CORS_ALLOWED_ORIGINS") {
            None => Cors::Disabled,
            Some(text) => Cors::parse(&text).map_err(|reason| ConfigError::Invalid {
                name: "CORS_ALLOWED_ORIGINS",
                reason,
            })?,
        };
        Ok(Self {
            table_name,
            signing_keys,
            token_issuer: get("SESSION_TOKEN_ISSUER"),
            dynamo,
            log_format,
            cors,
            completion: completion_settings(&get)?,
            limits: limit_settings(&get)?,
        })
    }
}

impl KeySource {
    /// The keys themselves, fetching the secret when they live in Secrets Manager.
    pub async fn resolve(&self, sdk: &aws_config::SdkConfig) -> Result<SigningKeys, ConfigError> {
        match self {
            Self::Inline(keys) => Ok(keys.clone()),
            Self::SecretsManager(id) => Ok(SigningKeys::parse(&read_secret(sdk, id).await?)?),
        }
    }

    /// The inline keys; `None` when they live in a secret.
    pub fn inline(&self) -> Option<&SigningKeys> {
        match self {
            Self::Inline(keys) => Some(keys),
            Self::SecretsManager(_) => None,
        }
    }
}

fn limit_settings(get: &impl Fn(&str) -> Option<String>) -> Result<LimitSettings, ConfigError> {
    let defaults = LimitSettings::default();
    let enabled = match get("RATE_LIMITS_ENABLED").as_deref() {
        None | Some("true") | Some("1") => true,
        Some("false") | Some("0") => false,
        Some(other) => {
            return Err(ConfigError::Invalid {
                name: "RATE_LIMITS_ENABLED",
                reason: format!("{other:?} is neither true nor false"),
            });
        }
    };
    let limits = &defaults.limits;
    Ok(LimitSettings {
        enabled,
        window_secs: parse_number(get, "RATE_LIMIT_WINDOW_SECS", defaults.window_secs)?,
        limits: Limits {
            completions_per_visitor: parse_number(
                get,
                "RATE_LIMIT_COMPLETIONS_PER_VISITOR",
                limits.completions_per_visitor,
            )?,
            completions_per_project: parse_number(
                get,
                "RATE_LIMIT_COMPLETIONS_PER_PROJECT",
                limits.completions_per_project,
            )?,
            reads_per_visitor: parse_number(
                get,
                "RATE_LIMIT_READS_PER_VISITOR",
                limits.reads_per_visitor,
            )?,
            reads_per_project: parse_number(
                get,
                "RATE_LIMIT_READS_PER_PROJECT",
                limits.reads_per_project,
            )?,
        },
        monthly_free: parse_number(get, "QUOTA_FREE_MONTHLY_COMPLETIONS", defaults.monthly_free)?,
        monthly_pro: parse_number(get, "QUOTA_PRO_MONTHLY_COMPLETIONS", defaults.monthly_pro)?,
    })
}

fn completion_settings(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<CompletionSettings, ConfigError> {
    let invalid = |name: &'static str, value: &str| ConfigError::Invalid {
        name,
        reason: format!("{value:?} is not accepted"),
    };
    let default_plan = match get("DEFAULT_PLAN") {
        None => Plan::Free,
        Some(text) => Plan::parse(&text).ok_or_else(|| invalid("DEFAULT_PLAN", &text))?,
    };
    let provider = match get("DEFAULT_PROVIDER") {
        None => ProviderKind::Offline,
        Some(text) => {
            ProviderKind::parse(&text).ok_or_else(|| invalid("DEFAULT_PROVIDER", &text))?
        }
    };
    let default_assistant = Assistant {
        id: None,
        name: "Assistant".to_owned(),
        provider,
        model: get("DEFAULT_MODEL").unwrap_or_else(|| provider.as_str().to_owned()),
        system_prompt: get("DEFAULT_SYSTEM_PROMPT"),
        temperature: None,
        max_output_tokens: None,
        tier: Tier::Standard,
    };
    let openai_api_key = match (get("OPENAI_API_KEY"), get("OPENAI_API_KEY_SECRET_ARN")) {
        (Some(key), _) => Some(SecretSource::Inline(key)),
        (None, Some(arn)) => Some(SecretSource::SecretsManager(arn)),
        (None, None) => None,
    };
    let offline_defaults = OfflineSettings::default();
    let millis = |name: &'static str, default: Duration| -> Result<Duration, ConfigError> {
        Ok(Duration::from_millis(parse_number(
            get,
            name,
            default.as_millis() as u64,
        )?))
    };
    Ok(CompletionSettings {
        default_plan,
        default_assistant,
        openai_base_url: get("OPENAI_BASE_URL")
            .unwrap_or_else(|| crate::provider::openai::DEFAULT_BASE_URL.to_owned()),
        openai_api_key,
        offline: OfflineSettings {
            first_token_delay: millis(
                "OFFLINE_FIRST_TOKEN_MS",
                offline_defaults.first_token_delay,
            )?,
            token_gap: millis("OFFLINE_TOKEN_GAP_MS", offline_defaults.token_gap)?,
            tokens: parse_number(get, "OFFLINE_TOKENS", offline_defaults.tokens)?,
            failure: None,
        },
        first_token_timeout: millis("FIRST_TOKEN_TIMEOUT_MS", Duration::from_secs(30))?,
        idle_timeout: millis("PROVIDER_IDLE_TIMEOUT_MS", Duration::from_secs(60))?,
        keep_alive: millis("KEEP_ALIVE_MS", Duration::from_secs(15))?,
        max_output_tokens: parse_number(get, "MAX_OUTPUT_TOKENS", 4_096)?,
        max_generation_time: Duration::from_secs(parse_number(get, "MAX_GENERATION_SECS", 240)?),
    })
}

fn parse_number<T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match get(name) {
        None => Ok(default),
        Some(text) => text
            .trim()
            .parse()
            .map_err(|e: T::Err| ConfigError::Invalid {
                name,
                reason: e.to_string(),
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const KEY: &str = "k:0123456789abcdef0123456789abcdef";

    #[test]
    fn reads_required_and_defaults() {
        let config = Config::from_lookup(lookup(&[
            ("TABLE_NAME", "chat"),
            ("SESSION_SIGNING_KEYS", KEY),
        ]))
        .unwrap();
        assert_eq!(config.table_name, "chat");
        assert_eq!(config.dynamo.max_attempts, 3);
        assert_eq!(config.log_format, LogFormat::Text);
        assert!(config.dynamo.endpoint.is_none());
    }

    #[test]
    fn keys_can_come_from_a_secret() {
        let config = Config::from_lookup(lookup(&[
            ("TABLE_NAME", "chat"),
            (
                "SESSION_SIGNING_KEYS_SECRET_ARN",
                "arn:aws:secretsmanager:eu-west-1:1:secret:k",
            ),
        ]))
        .unwrap();
        assert!(
            matches!(config.signing_keys, KeySource::SecretsManager(ref arn) if arn.ends_with(":k"))
        );
        let config = Config::from_lookup(lookup(&[
            ("TABLE_NAME", "chat"),
            ("SESSION_SIGNING_KEYS", KEY),
        ]))
        .unwrap();
        assert!(config.signing_keys.inline().is_some());
    }

    #[test]
    fn aws_calls_trust_amazons_roots_unless_a_bundle_is_named() {
        let base = [("TABLE_NAME", "chat"), ("SESSION_SIGNING_KEYS", KEY)];
        let config = Config::from_lookup(lookup(&base)).unwrap();
        assert_eq!(config.dynamo.trust, AwsTrust::Amazon);
        assert_eq!(config.dynamo.credentials, CredentialSource::DefaultChain);

        let bundle = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/certs/amazon-trust-services.pem"
        );
        let with = |path: &'static str| {
            let mut pairs = base.to_vec();
            pairs.push(("AWS_CA_BUNDLE", path));
            Config::from_lookup(lookup(&pairs))
        };
        assert!(matches!(
            with(bundle).unwrap().dynamo.trust,
            AwsTrust::Bundle(_)
        ));
        for unusable in [
            "/nonexistent/ca.pem",
            concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"),
        ] {
            let error = with(unusable).unwrap_err();
            assert!(
                matches!(
                    error,
                    ConfigError::Invalid {
                        name: "AWS_CA_BUNDLE",
                        ..
                    }
                ),
                "{unusable}: {error}"
            );
        }
    }

    #[test]
    fn credentials_in_the_environment_are_read_from_there() {
        let config = Config::from_lookup(lookup(&[
            ("TABLE_NAME", "chat"),
            ("SESSION_SIGNING_KEYS", KEY),
            ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ]))
        .unwrap();
        assert_eq!(config.dynamo.credentials, CredentialSource::Environment);
    }

    #[test]
    fn cors_origins_are_read_and_checked() {
        let config = Config::from_lookup(lookup(&[
            ("TABLE_NAME", "chat"),
            ("SESSION_SIGNING_KEYS", KEY),
        ]))
        .unwrap();
        assert_eq!(
            config.cors,
            Cors::Disabled,
            "no cross-origin access unless asked"
        );
        let config = Config::from_lookup(lookup(&[
            ("TABLE_NAME", "chat"),
            ("SESSION_SIGNING_KEYS", KEY),
            (
                "CORS_ALLOWED_ORIGINS",
                "https://a.example,https://b.example",
            ),
        ]))
        .unwrap();
        assert_eq!(
            config.cors,
            Cors::Origins(vec!["https://a.example".into(), "https://b.example".into()])
        );
        let err = Config::from_lookup(lookup(&[
            ("TABLE_NAME", "chat"),
            ("SESSION_SIGNING_KEYS", KEY),
            ("CORS_ALLOWED_ORIGINS", "a.example"),
        ]))
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("CORS_ALLOWED_ORIGINS is invalid")
        );
    }

    #[test]
    fn lambda_logs_json_by_default() {
        let config = Config::from_lookup(lookup(&[
            ("TABLE_NAME", "chat"),
            ("SESSION_SIGNING_KEYS", KEY),
            ("AWS_LAMBDA_FUNCTION_NAME", "get"),
        ]))
        .unwrap();
        assert_eq!(config.log_format, LogFormat::Json);
    }

    #[test]
    fn missing_and_invalid_values_are_named() {
        let err = Config::from_lookup(lookup(&[("SESSION_SIGNING_KEYS", KEY)])).unwrap_err();
        assert_eq!(err.to_string(), "TABLE_NAME is not set");
        let err = Config::from_lookup(lookup(&[
            ("TABLE_NAME", "chat"),
            ("SESSION_SIGNING_KEYS", KEY),
            ("DYNAMODB_MAX_ATTEMPTS", "many"),
        ]))
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("DYNAMODB_MAX_ATTEMPTS is invalid")
        );
    }
}
