//! Projects and assistants: a project's plan and default assistant, and an assistant's
//! provider, model, prompt and tier. They decide which model answers and what a plan
//! allows.

use strum::{EnumString, IntoStaticStr, VariantNames};
use uuid::Uuid;

/// A project's billing plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoStaticStr, EnumString, VariantNames)]
#[strum(serialize_all = "lowercase")]
pub enum Plan {
    /// Standard assistants only.
    Free,
    /// Every assistant.
    Pro,
}

impl Plan {
    /// Whether the plan includes assistants of `tier`.
    pub fn allows(self, tier: Tier) -> bool {
        matches!(
            (self, tier),
            (_, Tier::Standard) | (Self::Pro, Tier::Advanced)
        )
    }
}

/// What an assistant needs of a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoStaticStr, EnumString, VariantNames)]
#[strum(serialize_all = "lowercase")]
pub enum Tier {
    /// On every plan.
    Standard,
    /// Needs `pro`: the feature `advanced_ai_models`.
    Advanced,
}

/// Which provider serves an assistant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoStaticStr, EnumString, VariantNames)]
#[strum(serialize_all = "lowercase")]
pub enum ProviderKind {
    /// The deterministic offline provider.
    Offline,
    /// An OpenAI-compatible Chat Completions server.
    OpenAi,
    /// Amazon Bedrock (Converse stream).
    Bedrock,
}

/// An assistant: who answers, and how.
#[derive(Clone, Debug, PartialEq)]
pub struct Assistant {
    /// Its id; `None` for the configured default of a project with no settings.
    pub id: Option<Uuid>,
    /// Display name.
    pub name: String,
    /// The provider.
    pub provider: ProviderKind,
    /// The provider's model id.
    pub model: String,
    /// Goes first in the model's context.
    pub system_prompt: Option<String>,
    /// Sampling temperature.
    pub temperature: Option<f32>,
    /// Cap on generated tokens.
    pub max_output_tokens: Option<u32>,
    /// What plan it needs.
    pub tier: Tier,
    /// What it says when the project's knowledge does not answer a question
    /// (`fallbackMessage`); [`DEFAULT_FALLBACK_MESSAGE`] when unset.
    pub fallback_message: Option<String>,
}

/// The answer to a question the project's knowledge does not answer, for an assistant
/// that sets no `fallbackMessage` (API.md §16).
pub const DEFAULT_FALLBACK_MESSAGE: &str =
    "I couldn't find that on this site. Would you like to talk to a person?";

impl Assistant {
    /// What it answers when the knowledge does not answer a question.
    pub fn fallback_message(&self) -> &str {
        self.fallback_message
            .as_deref()
            .filter(|m| !m.trim().is_empty())
            .unwrap_or(DEFAULT_FALLBACK_MESSAGE)
    }
}

/// A project's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectSettings {
    /// Its plan.
    pub plan: Plan,
    /// The assistant used when a request names none (a copy of that assistant's item,
    /// kept in step by the admin command, so a completion reads it in the same batch).
    pub default_assistant: Option<Assistant>,
    /// Its own rate limits and quota, where they differ from configuration.
    pub limits: LimitOverrides,
    /// The version of its knowledge index, when it has one: a turn is grounded in it.
    pub index_version: Option<String>,
}

/// A project's own limits, from its settings item's `limits` map; unset ones fall back
/// to configuration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LimitOverrides {
    /// `completionsPerVisitor`.
    pub completions_per_visitor: Option<u64>,
    /// `completionsPerProject`.
    pub completions_per_project: Option<u64>,
    /// `readsPerVisitor`.
    pub reads_per_visitor: Option<u64>,
    /// `readsPerProject`.
    pub reads_per_project: Option<u64>,
    /// `monthlyCompletions`.
    pub monthly_completions: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spelling::Spelling;

    #[test]
    fn free_plans_allow_standard_assistants_only() {
        assert!(Plan::Free.allows(Tier::Standard));
        assert!(!Plan::Free.allows(Tier::Advanced));
        assert!(Plan::Pro.allows(Tier::Advanced));
    }

    #[test]
    fn spellings_round_trip() {
        for plan in [Plan::Free, Plan::Pro] {
            assert_eq!(Plan::parse(plan.as_str()), Some(plan));
        }
        for tier in [Tier::Standard, Tier::Advanced] {
            assert_eq!(Tier::parse(tier.as_str()), Some(tier));
        }
        for kind in [
            ProviderKind::Offline,
            ProviderKind::OpenAi,
            ProviderKind::Bedrock,
        ] {
            assert_eq!(ProviderKind::parse(kind.as_str()), Some(kind));
        }
    }
}
