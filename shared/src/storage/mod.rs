//! The storage port: the small traits handlers talk to, and the errors they return.
//! [`dynamo::DynamoStore`] is the production adapter.

use std::future::Future;

use uuid::Uuid;

use crate::assistant::{Assistant, ProjectSettings};
use crate::domain::{Caller, Conversation, ConversationStatus, Message, MessageStatus};
use crate::error::{ApiError, Cause};
use crate::timestamp::Timestamp;

pub mod client;
pub mod counters;
pub mod dynamo;
pub mod items;
pub mod table;
pub mod turns;

/// The most messages `get` returns: the newest ones, oldest first.
pub const MAX_MESSAGES_RETURNED: usize = 1_000;

/// Seconds a client is told to wait after the database throttled or failed.
pub const STORE_RETRY_AFTER_SECS: u64 = 1;

/// Why a storage call failed, typed so each handler can map it to the contract.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such conversation in the caller's project.
    #[error("conversation not found")]
    NotFound,
    /// The conversation belongs to another visitor.
    #[error("conversation owned by another visitor")]
    NotOwner,
    /// The conversation is closed and takes no new turn.
    #[error("conversation is closed")]
    Closed,
    /// DynamoDB throttled the request past the SDK's retries.
    #[error("throttled: {0}")]
    Throttled(#[source] Cause),
    /// DynamoDB could not be reached or failed on its side, after retries.
    #[error("unavailable: {0}")]
    Unavailable(#[source] Cause),
    /// A stored item does not have the shape this code writes.
    #[error("corrupt item: {0}")]
    Corrupt(String),
    /// Anything else: a bug or a misconfiguration.
    #[error("storage failure: {0}")]
    Other(#[source] Cause),
}

impl StoreError {
    /// The contract's error for a failure concerning `conversation_id`.
    pub fn for_conversation(self, conversation_id: Uuid) -> ApiError {
        match self {
            Self::NotFound => ApiError::ConversationNotFound {
                conversation_id: conversation_id.to_string(),
            },
            Self::NotOwner => ApiError::Forbidden,
            Self::Closed => ApiError::Conflict {
                message: "Conversation is closed".to_owned(),
                resource: "conversation",
                conflicting_field: "status",
            },
            other => other.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Throttled(_) | StoreError::Unavailable(_) => ApiError::ServiceUnavailable {
                retry_after: STORE_RETRY_AFTER_SECS,
                cause: Box::new(error),
            },
            other => ApiError::internal(other),
        }
    }
}

/// What a close did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseOutcome {
    /// This call closed it.
    Closed,
    /// It was closed already; nothing changed.
    AlreadyClosed,
}

/// Reads a conversation with its messages.
pub trait ConversationReader: Send + Sync {
    /// The caller's conversation `id` with its newest `MAX_MESSAGES_RETURNED` messages,
    /// oldest first.
    fn conversation_with_messages(
        &self,
        caller: Caller,
        id: Uuid,
    ) -> impl Future<Output = Result<Conversation, StoreError>> + Send;
}

/// Closes a conversation.
pub trait ConversationCloser: Send + Sync {
    /// Closes the caller's conversation `id`; a closed one keeps its first close.
    fn close_conversation(
        &self,
        caller: Caller,
        id: Uuid,
        reason: Option<&str>,
        now: Timestamp,
    ) -> impl Future<Output = Result<CloseOutcome, StoreError>> + Send;
}

/// What a completion needs to know before it writes, read in one round trip.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TurnContext {
    /// The project's settings, when it has a settings item.
    pub project: Option<ProjectSettings>,
    /// The assistant the request named, when it exists in the project.
    pub assistant: Option<Assistant>,
    /// The conversation, when it exists in the project.
    pub conversation: Option<ConversationState>,
}

/// The part of a conversation a completion checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConversationState {
    /// The visitor who owns it.
    pub owner: Uuid,
    /// Open or closed.
    pub status: ConversationStatus,
}

/// A turn to store: the visitor's message (complete) and the assistant's (streaming).
#[derive(Clone, Debug, PartialEq)]
pub struct NewTurn {
    /// The conversation, created when it does not exist yet.
    pub conversation_id: Uuid,
    /// The last user message of the request.
    pub user_message: Message,
    /// The assistant's message, `streaming` and empty.
    pub assistant_message: Message,
}

/// How an assistant message ended.
#[derive(Clone, Debug, PartialEq)]
pub struct MessageOutcome {
    /// `complete` or `error`.
    pub status: MessageStatus,
    /// The text produced (all of it, or so far).
    pub text: String,
    /// Model, finish reason and usage.
    pub metadata: Option<serde_json::Value>,
    /// What went wrong, for `error`.
    pub error: Option<String>,
}

/// The storage a completion uses: three round trips, in order.
pub trait CompletionStore: Send + Sync {
    /// Reads the project's settings, the named assistant and the conversation together.
    fn turn_context(
        &self,
        caller: Caller,
        conversation_id: Uuid,
        assistant_id: Option<Uuid>,
    ) -> impl Future<Output = Result<TurnContext, StoreError>> + Send;

    /// Writes the turn in one transaction: the conversation (created or moved forward)
    /// and both messages. Refuses (`NotOwner`, `Closed`) with nothing written. A retry
    /// of a turn that was already written succeeds without writing it twice.
    fn write_turn(
        &self,
        caller: Caller,
        turn: &NewTurn,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Ends the assistant message of a turn.
    fn finish_message(
        &self,
        caller: Caller,
        conversation_id: Uuid,
        message_id: Uuid,
        outcome: &MessageOutcome,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Rate-limit counters and the project settings that may override their limits.
pub trait LimitStore: Send + Sync {
    /// Increments each counter by one, all at once; their new values, in order.
    fn increment(
        &self,
        counters: &[crate::rate_limit::Counter],
    ) -> impl Future<Output = Result<Vec<u64>, StoreError>> + Send;

    /// The project's settings item, when it has one.
    fn project_settings(
        &self,
        project: crate::domain::ProjectId,
    ) -> impl Future<Output = Result<Option<ProjectSettings>, StoreError>> + Send;
}
