//! Model providers behind one trait: each turns a [`ModelRequest`] into a stream of
//! [`ProviderEvent`]s (text deltas, then one finish) or a typed [`ProviderError`].

use std::pin::Pin;
use std::sync::Arc;

use chat_domain::ApiError;
use chat_domain::grounding::Grounding;
use futures_util::Stream;

pub mod bedrock;
pub mod offline;
pub mod openai;
pub mod registry;
pub mod settings;
pub mod sse;

pub use chat_domain::chat::{ChatMessage, ChatRole, FinishReason, Usage};

/// A provider's answer, as it arrives.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<ProviderEvent, ProviderError>> + Send>>;

/// Generates an answer.
pub trait ModelProvider: Send + Sync {
    /// Starts generating; the stream yields deltas and ends after one `Finish`.
    fn stream(&self, request: ModelRequest) -> EventStream;
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
    /// The project's sources the answer is to be drawn from, when it has knowledge: a
    /// model reads them in the context's system message; the offline provider answers
    /// from them directly (API.md §16).
    pub grounding: Option<Arc<Grounding>>,
}

impl ModelRequest {
    /// The context's size in tokens, estimated (for when the provider's count never comes).
    pub fn estimated_input_tokens(&self) -> u64 {
        chat_domain::chat::estimate_tokens(&self.messages)
    }
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
