//! The ports: the small traits handlers talk to, one per need, and the values they carry.
//! [`crate::dynamo::DynamoStore`] is the production adapter of every one.

use std::future::Future;

use chat_domain::api_key::{KeyDigest, KeyRecord, PublishableKey};
use chat_domain::assistant::{Assistant, ProjectSettings};
use chat_domain::conversation::{Conversation, ConversationStatus};
use chat_domain::human_agent::HumanAgent;
use chat_domain::ids::{Caller, ProjectId, VisitorId};
use chat_domain::input::conversations::{ListQuery, MessageQuery};
use chat_domain::interrupted::InterruptPolicy;
use chat_domain::limits::Counter;
use chat_domain::message::{Feedback, Message, MessageStatus};
use chat_domain::timestamp::Timestamp;
use chat_domain::visitor::{DeviceId, Visitor};
use chat_domain::widget::PublicProject;
use uuid::Uuid;

use crate::error::StoreError;

/// The most messages `get` returns: the newest ones, oldest first.
pub const MAX_MESSAGES_RETURNED: usize = 1_000;

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

/// Starts conversations.
pub trait ConversationStarter: Send + Sync {
    /// Stores `conversation`, new and empty, for `caller`; an id that exists already is
    /// refused (`Exists`) with nothing written.
    fn start_conversation(
        &self,
        caller: Caller,
        conversation: &Conversation,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A page of the conversation list, before it is shown.
#[derive(Clone, Debug, PartialEq)]
pub struct ListedPage {
    /// Conversations matching the filter, whatever the page.
    pub total: u64,
    /// The page, in order, each with its newest message (shown as it is stored).
    pub data: Vec<(Conversation, Option<Message>)>,
}

/// Lists a visitor's conversations, or a project's.
pub trait ConversationLister: Send + Sync {
    /// The page `query` names of the caller's conversations, or with `scope=project` of
    /// every conversation of the caller's project (whether the caller may ask is not
    /// checked here).
    fn list_conversations(
        &self,
        caller: Caller,
        query: &ListQuery,
    ) -> impl Future<Output = Result<ListedPage, StoreError>> + Send;
}

/// A page of a conversation's messages.
#[derive(Clone, Debug, PartialEq)]
pub struct MessagePage {
    /// The messages, oldest first, interrupted generations shown as `error`.
    pub messages: Vec<Message>,
    /// The interrupted generations seen while reading (to repair).
    pub interrupted: Vec<Uuid>,
}

/// Lists a conversation's messages and repairs interrupted generations.
pub trait MessageLister: Send + Sync {
    /// The page `query` names of the caller's conversation `id`'s messages, oldest first;
    /// filters apply to messages as shown (an interrupted one is `error`).
    fn list_messages(
        &self,
        caller: Caller,
        id: Uuid,
        query: &MessageQuery,
        policy: InterruptPolicy,
        now: Timestamp,
    ) -> impl Future<Output = Result<MessagePage, StoreError>> + Send;

    /// Stores each of `messages` of conversation `id` that is still `streaming` as an
    /// interrupted `error`; one finished meanwhile is left as it is.
    fn repair_interrupted(
        &self,
        caller: Caller,
        id: Uuid,
        messages: &[Uuid],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Where a message is and who may rate it, read in one round trip.
pub trait FeedbackStore: Send + Sync {
    /// The pointer of the caller's project's message `id` (`NotFound` without one).
    fn message_pointer(
        &self,
        caller: Caller,
        id: Uuid,
    ) -> impl Future<Output = Result<crate::items::message_pointer::MessagePointer, StoreError>> + Send;

    /// Sets (or, with `None`, removes) the feedback of message `id` in conversation
    /// `conversation_id`; the same feedback again changes nothing. The conversation item is
    /// not written: its `updatedAt` stays.
    fn set_feedback(
        &self,
        caller: Caller,
        conversation_id: Uuid,
        id: Uuid,
        feedback: Option<Feedback>,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The agent side of a conversation (API.md §12): handing it to a human agent and back,
/// and the agent's messages. Each write returns what it stored, for whatever is told of it
/// next (a live push).
pub trait AgentStore: Send + Sync {
    /// Hands the caller's open conversation `id` to `agent` (replacing any agent it had) in
    /// one conditional UpdateItem; the conversation as stored. `NotFound`, `Closed`.
    fn hand_off(
        &self,
        caller: Caller,
        id: Uuid,
        agent: &HumanAgent,
        now: Timestamp,
    ) -> impl Future<Output = Result<Conversation, StoreError>> + Send;

    /// Gives the caller's conversation `id` back to the AI in one conditional UpdateItem;
    /// the conversation as stored (unchanged when no agent had it). `NotFound`.
    fn release(
        &self,
        caller: Caller,
        id: Uuid,
        now: Timestamp,
    ) -> impl Future<Output = Result<Conversation, StoreError>> + Send;

    /// The caller's conversation `id` (without messages), read strongly consistent in one
    /// GetItem: an agent message needs its agent. `NotFound`.
    fn conversation(
        &self,
        caller: Caller,
        id: Uuid,
    ) -> impl Future<Output = Result<Conversation, StoreError>> + Send;

    /// Stores a `human_agent` message with `content` in `conversation` (as
    /// [`AgentStore::conversation`] read it) in one TransactWriteItems: the message, its
    /// pointer, and the conversation's times moved forward, on the condition that it is
    /// still open and handled by the same agent (a new agent in between is retried with
    /// that agent). The message as stored. `NotFound`, `Closed`, `NotHumanHandled`.
    fn write_agent_message(
        &self,
        caller: Caller,
        conversation: &Conversation,
        content: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<Message, StoreError>> + Send;
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
    /// Whether a human agent handles it (then the assistant does not answer).
    pub is_human_handled: bool,
}

/// A turn to store: the visitor's message (complete) and the assistant's (streaming).
#[derive(Clone, Debug, PartialEq)]
pub struct NewTurn {
    /// The conversation.
    pub conversation_id: Uuid,
    /// Whether the turn creates the conversation when it does not exist (the completion
    /// route); otherwise a missing conversation is `NotFound` with nothing written.
    pub create: bool,
    /// The title the conversation gets if it has none yet.
    pub title: Option<String>,
    /// The last user message of the request.
    pub user_message: Message,
    /// The assistant's message, `streaming` and empty; none while a human agent answers.
    pub assistant_message: Option<Message>,
    /// Whether the assistant's message may be written only while no human agent handles
    /// the conversation (the send route): a handoff that lands between the turn's read
    /// and its write then fails the write with [`StoreError::HumanHandled`], nothing
    /// written, instead of letting the assistant answer over the agent.
    pub unless_human_handled: bool,
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
    /// The sources the answer cites, stored as `source-url` parts after its text.
    pub sources: Vec<chat_domain::citations::Cited>,
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

    /// The newest `limit` messages of the caller's conversation `conversation_id`, oldest
    /// first: the history a model's context is built from (one Query of at most `limit`
    /// items, whatever the conversation's length). Empty when there is no such
    /// conversation; ownership is the turn context's to check.
    fn history(
        &self,
        caller: Caller,
        conversation_id: Uuid,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Message>, StoreError>> + Send;

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
        counters: &[Counter],
    ) -> impl Future<Output = Result<Vec<u64>, StoreError>> + Send;

    /// The project's settings item, when it has one.
    fn project_settings(
        &self,
        project: ProjectId,
    ) -> impl Future<Output = Result<Option<ProjectSettings>, StoreError>> + Send;
}

/// A publishable key and its project's public face, read together.
#[derive(Clone, Debug, PartialEq)]
pub struct PublishableKeyContext {
    /// The key, when it exists.
    pub key: Option<KeyRecord>,
    /// The project's public settings (its defaults when it has no settings item).
    pub project: PublicProject,
}

/// Looking API keys up.
pub trait KeyStore: Send + Sync {
    /// A publishable key and its project's public settings, in one round trip.
    fn publishable_key(
        &self,
        key: &PublishableKey,
    ) -> impl Future<Output = Result<PublishableKeyContext, StoreError>> + Send;

    /// A secret key's record, by its digest, in one read.
    fn secret_key(
        &self,
        digest: &KeyDigest,
    ) -> impl Future<Output = Result<Option<KeyRecord>, StoreError>> + Send;
}

/// What creating an anonymous visitor for a device did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceVisitor {
    /// This call created the visitor.
    Created(VisitorId),
    /// The device had one already (an earlier call, or one that raced this one).
    Existing(VisitorId),
}

/// Visitors and their devices.
pub trait VisitorStore: Send + Sync {
    /// The visitor of a device, when it has one.
    fn device_visitor(
        &self,
        project: ProjectId,
        device: &DeviceId,
    ) -> impl Future<Output = Result<Option<VisitorId>, StoreError>> + Send;

    /// Creates `visitor` for a device that has none, race-free: of two calls for a new
    /// device, one creates and the other gets the created one.
    fn create_device_visitor(
        &self,
        project: ProjectId,
        device: &DeviceId,
        visitor: &Visitor,
        now: Timestamp,
    ) -> impl Future<Output = Result<DeviceVisitor, StoreError>> + Send;

    /// A stored visitor.
    fn visitor(
        &self,
        project: ProjectId,
        visitor: VisitorId,
    ) -> impl Future<Output = Result<Option<Visitor>, StoreError>> + Send;
}

/// The widget's WebSocket connections, recorded under their conversation.
pub trait ConnectionStore: Send + Sync {
    /// Records `connection` on conversation `conversation_id` of `project`, expiring at
    /// `expires_at` (epoch seconds), in one transaction that also checks the conversation
    /// exists: `NotFound` (nothing written) when it does not.
    fn open_connection(
        &self,
        project: ProjectId,
        conversation_id: Uuid,
        connection: &str,
        expires_at: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Forgets `connection` of a conversation whose place is known (a push found it gone,
    /// or the local server saw it close). Forgetting twice is no error.
    fn forget_connection(
        &self,
        project: ProjectId,
        conversation_id: Uuid,
        connection: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Forgets `connection` knowing only its id (`$disconnect`); where it was, when it was
    /// still recorded.
    fn close_connection(
        &self,
        connection: &str,
    ) -> impl Future<Output = Result<Option<crate::items::connection::ConnectionPlace>, StoreError>> + Send;

    /// The ids of conversation `conversation_id`'s connections not expired at `now`
    /// (epoch seconds): one Query per page of them.
    fn connections(
        &self,
        project: ProjectId,
        conversation_id: Uuid,
        now: i64,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;
}

/// A project's knowledge settings, sources and pairs, read in one Query of its partition.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KnowledgeState {
    /// The project's plan (`None` when the project has no settings item).
    pub plan: Option<chat_domain::assistant::Plan>,
    /// The version of its published index, if one was.
    pub index_version: Option<String>,
    /// The version that one replaced, if any.
    pub previous_index_version: Option<String>,
    /// The embedding model the project names (`openai:…`, `bedrock:…`), if any.
    pub embedding_model: Option<String>,
    /// Its sources, oldest first.
    pub sources: Vec<chat_domain::knowledge::Source>,
    /// Its question-and-answer pairs, oldest first.
    pub qnas: Vec<chat_domain::knowledge::Qna>,
}

/// A project's knowledge sources.
pub trait SourceStore: Send + Sync {
    /// The project's plan, index version, sources and pairs, in one Query.
    fn knowledge(
        &self,
        project: ProjectId,
    ) -> impl Future<Output = Result<KnowledgeState, StoreError>> + Send;

    /// Source `id` of `project` (`NotFound`).
    fn source(
        &self,
        project: ProjectId,
        id: Uuid,
    ) -> impl Future<Output = Result<chat_domain::knowledge::Source, StoreError>> + Send;

    /// Stores a new source; with `claim` (its normalized start URL) in one transaction
    /// with the URL's claim, refused (`Exists`) when another source holds it.
    fn create_source(
        &self,
        project: ProjectId,
        source: &chat_domain::knowledge::Source,
        claim: Option<&str>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Replaces source `read` (as it was read) by `source`, and moves its URL claim from
    /// `old_claim` to `new_claim` when they differ: `NotFound` when it is gone, `Changed`
    /// when its sync moved on since it was read, `Exists` when the new URL is taken.
    fn replace_source(
        &self,
        project: ProjectId,
        read: &chat_domain::knowledge::Source,
        source: &chat_domain::knowledge::Source,
        old_claim: Option<&str>,
        new_claim: Option<&str>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes source `id` and its URL claim; the source as it was (`NotFound`).
    fn delete_source(
        &self,
        project: ProjectId,
        id: Uuid,
        claim: Option<&str>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Marks source `id` queued, unless a sync is queued or running (`Busy`); the source
    /// as stored (`NotFound`).
    fn queue_sync(
        &self,
        project: ProjectId,
        id: Uuid,
        now: Timestamp,
    ) -> impl Future<Output = Result<chat_domain::knowledge::Source, StoreError>> + Send;

    /// Records where a sync of source `id` is: its status, its report, and when the
    /// schedule next syncs it. `NotFound` when the source was removed meanwhile.
    fn record_sync(
        &self,
        project: ProjectId,
        id: Uuid,
        status: chat_domain::knowledge::SourceStatus,
        report: &chat_domain::knowledge::SyncReport,
        next: Option<Timestamp>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Up to `limit` sources whose scheduled sync is due at `now`, oldest due first.
    fn due_sources(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<(ProjectId, Uuid)>, StoreError>> + Send;
}

/// A project's question-and-answer pairs.
pub trait QnaStore: Send + Sync {
    /// Pair `id` of `project` (`NotFound`).
    fn qna(
        &self,
        project: ProjectId,
        id: Uuid,
    ) -> impl Future<Output = Result<chat_domain::knowledge::Qna, StoreError>> + Send;

    /// Stores `qna`: a new one (`Exists` if the id is taken) or, with `replace`, over an
    /// existing one (`NotFound` if it is gone).
    fn put_qna(
        &self,
        project: ProjectId,
        qna: &chat_domain::knowledge::Qna,
        replace: bool,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes pair `id` (`NotFound`).
    fn delete_qna(
        &self,
        project: ProjectId,
        id: Uuid,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The pages a source's syncs found.
pub trait PageStore: Send + Sync {
    /// Every page record of source `source`, in URL order.
    fn pages(
        &self,
        project: ProjectId,
        source: Uuid,
    ) -> impl Future<Output = Result<Vec<chat_domain::knowledge::PageRecord>, StoreError>> + Send;

    /// Writes `pages` (25 to a batch, unprocessed ones retried).
    fn put_pages(
        &self,
        project: ProjectId,
        source: Uuid,
        pages: &[chat_domain::knowledge::PageRecord],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes the records of the pages at `urls`.
    fn delete_pages(
        &self,
        project: ProjectId,
        source: Uuid,
        urls: &[String],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Which index snapshot of a project is current: named in the project's settings item, so
/// the read a turn already makes tells whether a cached index is current.
pub trait IndexVersionStore: Send + Sync {
    /// The current version of `project`'s index, if one was published.
    fn index_version(
        &self,
        project: ProjectId,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// Makes `version` current if `expected` still is, and `expected` the previous one
    /// (`Changed` otherwise; `NotFound` without a project settings item).
    fn publish_index_version(
        &self,
        project: ProjectId,
        version: &str,
        expected: Option<&str>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
