//! Model providers behind one trait: each turns a [`ModelRequest`] into a stream of
//! [`ProviderEvent`]s (text deltas, then one finish) or a typed [`ProviderError`].

use std::pin::Pin;

use futures_util::Stream;
use serde::Serialize;

use crate::error::ApiError;

pub mod bedrock;
pub mod offline;
pub mod openai;
pub mod registry;
pub mod sse;

/// A provider's answer, as it arrives.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<ProviderEvent, ProviderError>> + Send>>;

/// Generates an answer.
pub trait ModelProvider: Send + Sync {
    /// Starts generating; the stream yields deltas and ends after one `Finish`.
    fn stream(&self, request: ModelRequest) -> EventStream;
}

/// A message of the model's context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: ChatRole,
    /// The text.
    pub content: String,
}

/// The role of a context message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChatRole {
    /// Instructions.
    System,
    /// The visitor.
    User,
    /// The assistant.
    Assistant,
}

impl ChatRole {
    /// The wire spelling shared by the API and the providers.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }
}

/// What a provider is asked.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelRequest {
    /// The provider's model id.
    pub model: String,
    /// The context: the assistant's system prompt first, then the request's messages.
    pub messages: Vec<ChatMessage>,
    /// Sampling temperature, when the assistant sets one.
    pub temperature: Option<f32>,
    /// The most output tokens to generate.
    pub max_output_tokens: Option<u32>,
}

/// One event of a provider's stream.
#[derive(Clone, Debug, PartialEq)]
pub enum ProviderEvent {
    /// More text.
    Delta(String),
    /// The end of the answer.
    Finish {
        /// Why it ended.
        reason: FinishReason,
        /// What it cost.
        usage: Usage,
    },
}

/// Why generation ended, as the AI SDK spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

impl FinishReason {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Length => "length",
            Self::ContentFilter => "content-filter",
            Self::ToolCalls => "tool-calls",
            Self::Error => "error",
            Self::Other => "other",
            Self::Unknown => "unknown",
        }
    }
}

impl Serialize for FinishReason {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
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

/// How a provider failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// Rate-limited or overloaded (503), with its retry hint in seconds.
    #[error("provider unavailable: {cause}")]
    Unavailable {
        /// Seconds the provider asked to wait, when it said.
        retry_after: Option<u64>,
        /// What it said, for the log.
        cause: String,
    },
    /// Did not answer in time (503).
    #[error("provider timed out: {0}")]
    Timeout(String),
    /// Failed or answered nonsense (502).
    #[error("provider failed: {0}")]
    Failed(String),
}

/// The retry hint given when a provider gave none.
pub const DEFAULT_PROVIDER_RETRY_AFTER_SECS: u64 = 5;

impl ProviderError {
    /// A sentence for the visitor, with no internals.
    pub fn user_text(&self) -> &'static str {
        match self {
            Self::Unavailable { .. } => {
                "The assistant is busy right now. Please try again in a moment."
            }
            Self::Timeout(_) => "The assistant took too long to answer. Please try again.",
            Self::Failed(_) => "The assistant ran into a problem and could not finish its answer.",
        }
    }
}

impl From<ProviderError> for ApiError {
    fn from(error: ProviderError) -> Self {
        match error {
            ProviderError::Unavailable { retry_after, .. } => ApiError::ServiceUnavailable {
                retry_after: retry_after.unwrap_or(DEFAULT_PROVIDER_RETRY_AFTER_SECS),
                cause: Box::new(error),
            },
            ProviderError::Timeout(_) => ApiError::ServiceUnavailable {
                retry_after: DEFAULT_PROVIDER_RETRY_AFTER_SECS,
                cause: Box::new(error),
            },
            ProviderError::Failed(_) => ApiError::BadGateway(Box::new(error)),
        }
    }
}
