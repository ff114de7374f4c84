//! What a turn is run with: the defaults for a project with no settings, and the timeouts
//! and caps of generation, read from the environment.

use std::time::Duration;

use chat_domain::Spelling;
use chat_domain::assistant::{Assistant, Plan, ProviderKind, Tier};
use chat_domain::env::{ConfigError, Env};

/// The turn engine's settings.
#[derive(Clone, Debug)]
pub struct TurnSettings {
    /// The plan of a project with no settings item (`DEFAULT_PLAN`, default `free`).
    pub default_plan: Plan,
    /// The assistant of a project with no default (`DEFAULT_PROVIDER`, `DEFAULT_MODEL`,
    /// `DEFAULT_SYSTEM_PROMPT`; default: the offline provider).
    pub default_assistant: Assistant,
    /// Longest wait for a provider's first token (`FIRST_TOKEN_TIMEOUT_MS`, 30000).
    pub first_token_timeout: Duration,
    /// Longest silence between two provider events (`PROVIDER_IDLE_TIMEOUT_MS`, 60000).
    pub idle_timeout: Duration,
    /// Quiet time after which a stream gets a keep-alive comment (`KEEP_ALIVE_MS`, 15000).
    pub keep_alive: Duration,
    /// Hard cap on an answer's output tokens (`MAX_OUTPUT_TOKENS`, 4096).
    pub max_output_tokens: u32,
    /// Hard cap on an answer's generation time (`MAX_GENERATION_SECS`, 240).
    pub max_generation_time: Duration,
    /// How much stored history the send route puts in a model's context.
    pub history: HistoryBudget,
}

/// The stored messages a context may hold: the most recent that fit both limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryBudget {
    /// At most this many messages (`HISTORY_MAX_MESSAGES`, 40); also the most one turn
    /// reads.
    pub max_messages: usize,
    /// At most this many characters of them together (`HISTORY_MAX_CHARS`, 24000).
    pub max_chars: usize,
    /// The page text is cut to this many characters (`PAGE_EXCERPT_CHARS`, 4000).
    pub page_excerpt_chars: usize,
}

impl TurnSettings {
    /// Reads the turn settings; each has a default.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let provider = env.spelled("DEFAULT_PROVIDER", ProviderKind::Offline)?;
        Ok(Self {
            default_plan: env.spelled("DEFAULT_PLAN", Plan::Free)?,
            default_assistant: Assistant {
                id: None,
                name: "Assistant".to_owned(),
                provider,
                model: env
                    .get("DEFAULT_MODEL")
                    .unwrap_or_else(|| provider.as_str().to_owned()),
                system_prompt: env.get("DEFAULT_SYSTEM_PROMPT"),
                temperature: None,
                max_output_tokens: None,
                tier: Tier::Standard,
                fallback_message: None,
            },
            first_token_timeout: env.millis("FIRST_TOKEN_TIMEOUT_MS", Duration::from_secs(30))?,
            idle_timeout: env.millis("PROVIDER_IDLE_TIMEOUT_MS", Duration::from_secs(60))?,
            keep_alive: env.millis("KEEP_ALIVE_MS", Duration::from_secs(15))?,
            max_output_tokens: env.number("MAX_OUTPUT_TOKENS", 4_096)?,
            max_generation_time: Duration::from_secs(env.number(
                "MAX_GENERATION_SECS",
                chat_domain::interrupted::DEFAULT_MAX_GENERATION_SECS,
            )?),
            history: HistoryBudget {
                max_messages: env.number("HISTORY_MAX_MESSAGES", 40)?,
                max_chars: env.number("HISTORY_MAX_CHARS", 24_000)?,
                page_excerpt_chars: env.number("PAGE_EXCERPT_CHARS", 4_000)?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_named_refusals() {
        let settings = TurnSettings::from_env(&Env::from_pairs(&[])).unwrap();
        assert_eq!(settings.default_plan, Plan::Free);
        assert_eq!(settings.default_assistant.provider, ProviderKind::Offline);
        assert_eq!(settings.default_assistant.model, "offline");
        assert_eq!(settings.keep_alive, Duration::from_secs(15));
        let settings = TurnSettings::from_env(&Env::from_pairs(&[
            ("DEFAULT_PROVIDER", "bedrock"),
            ("DEFAULT_PLAN", "pro"),
        ]))
        .unwrap();
        assert_eq!(settings.default_assistant.model, "bedrock");
        assert_eq!(settings.default_plan, Plan::Pro);
        let err =
            TurnSettings::from_env(&Env::from_pairs(&[("DEFAULT_PLAN", "gold")])).unwrap_err();
        assert!(err.to_string().starts_with("DEFAULT_PLAN is invalid"));
    }
}
