//! The model's side of a conversation: context messages with their roles, why an answer
//! ended and what it cost. The completion request, the providers and the stream encoder all
//! speak these.

use serde::Serialize;
use strum::{EnumString, IntoStaticStr};

/// A message of the model's context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: ChatRole,
    /// The text.
    pub content: String,
}

/// The role of a context message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoStaticStr, EnumString)]
#[strum(serialize_all = "lowercase")]
pub enum ChatRole {
    /// Instructions.
    System,
    /// The visitor.
    User,
    /// The assistant.
    Assistant,
}

/// Why generation ended, as the AI SDK spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, IntoStaticStr, EnumString)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum FinishReason {
    /// A natural end.
    Stop,
    /// The output-token or time cap was reached.
    Length,
    /// A content filter stopped it.
    ContentFilter,
    /// The model called a tool.
    ToolCalls,
    /// It failed.
    Error,
    /// Another reason.
    Other,
    /// Not reported.
    Unknown,
}

/// Token counts; all five are always present on the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Generated tokens.
    pub output_tokens: u64,
    /// Their sum.
    pub total_tokens: u64,
    /// Reasoning tokens, where the model reports them.
    pub reasoning_tokens: u64,
    /// Prompt tokens served from a cache.
    pub cached_input_tokens: u64,
}

impl Usage {
    /// Usage from input and output counts, the total being their sum.
    pub fn new(input_tokens: u64, output_tokens: u64) -> Self {
        Self {
            input_tokens,
            output_tokens,
            total_tokens: input_tokens + output_tokens,
            reasoning_tokens: 0,
            cached_input_tokens: 0,
        }
    }
}

/// Characters per token in the estimate made where a provider's own count is missing: the
/// usual rule of thumb for English text and the common tokenizers.
pub const CHARS_PER_TOKEN: u64 = 4;

/// The tokens `messages` take, estimated from their characters.
pub fn estimate_tokens(messages: &[ChatMessage]) -> u64 {
    let chars: u64 = messages
        .iter()
        .map(|m| m.content.chars().count() as u64)
        .sum();
    chars.div_ceil(CHARS_PER_TOKEN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spelling::Spelling;

    #[test]
    fn finish_reasons_are_spelled_as_the_ai_sdk_spells_them() {
        let all = [
            (FinishReason::Stop, "stop"),
            (FinishReason::Length, "length"),
            (FinishReason::ContentFilter, "content-filter"),
            (FinishReason::ToolCalls, "tool-calls"),
            (FinishReason::Error, "error"),
            (FinishReason::Other, "other"),
            (FinishReason::Unknown, "unknown"),
        ];
        for (reason, text) in all {
            assert_eq!(reason.as_str(), text);
            assert_eq!(serde_json::to_value(reason).unwrap(), text);
        }
        assert_eq!(ChatRole::System.as_str(), "system");
    }

    #[test]
    fn token_estimates_round_up_and_count_characters() {
        let message = |content: &str| ChatMessage {
            role: ChatRole::User,
            content: content.to_owned(),
        };
        assert_eq!(estimate_tokens(&[]), 0);
        assert_eq!(estimate_tokens(&[message("héllo")]), 2);
        assert_eq!(estimate_tokens(&[message("abcd"), message("abcd")]), 2);
    }
}
