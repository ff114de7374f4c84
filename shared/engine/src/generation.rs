//! Runs a provider's answer to its end and stores how it ended: into a UI message
//! stream, or into one JSON response. Generation and storage finish even when the client
//! has gone away.

use std::time::Duration;

use bytes::Bytes;
use chat_domain::ApiError;
use chat_domain::chat::{FinishReason, Usage};
use chat_domain::citations::{CitationRewriter, Cited};
use chat_domain::ids::Caller;
use chat_domain::message::MessageStatus;
use chat_domain::ui_stream;
use chat_edge::store_errors::for_conversation;
use chat_providers::{EventStream, ProviderError, ProviderEvent};
use chat_storage::ports::{CompletionStore, MessageOutcome};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedSender;
use uuid::Uuid;

use crate::grounded::Citing;

/// What is needed to finish one turn after the handler has answered.
pub struct Generation<S> {
    /// Where the assistant message is stored.
    pub store: S,
    /// Whose turn it is.
    pub caller: Caller,
    /// The conversation.
    pub conversation_id: Uuid,
    /// The assistant message, stored `streaming`.
    pub message_id: Uuid,
    /// The model, recorded in the message's metadata.
    pub model: String,
    /// The context's size in tokens, estimated: what a capped answer reports, since the
    /// provider's own count comes only with an answer it finished.
    pub input_estimate: u64,
    /// Longest silence from the provider before giving up.
    pub idle_timeout: Duration,
    /// Quiet time after which the stream gets a keep-alive comment.
    pub keep_alive: Duration,
    /// Limits on the answer's length and time.
    pub caps: Caps,
    /// How the answer stands to the project's knowledge: its citations rewritten, and
    /// `metadata.grounded`.
    pub citing: Citing,
}

/// A finished answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    /// All the text.
    pub text: String,
    /// Why it ended.
    pub reason: FinishReason,
    /// What it cost.
    pub usage: Usage,
    /// The sources it cites, in its own numbering.
    pub sources: Vec<Cited>,
}

/// The metadata stored on an assistant message: with `grounded` and the cited `sources`
/// when the project has knowledge (API.md §16).
pub fn metadata(
    model: &str,
    reason: FinishReason,
    usage: &Usage,
    grounded: Option<bool>,
    sources: &[Cited],
) -> Value {
    let mut metadata = json!({ "model": model, "finishReason": reason, "usage": usage });
    if let Some(grounded) = grounded {
        metadata["grounded"] = json!(grounded);
        metadata["sources"] = json!(sources);
    }
    metadata
}

impl<S: CompletionStore> Generation<S> {
    /// Stores the message as failed with `text` so far; logs a storage failure.
    async fn store_failure(&self, text: String, error: &ProviderError) -> Result<(), ApiError> {
        tracing::warn!(error = %error, chars = text.chars().count(), "generation failed");
        let outcome = MessageOutcome {
            status: MessageStatus::Error,
            text,
            metadata: Some(metadata(
                &self.model,
                FinishReason::Error,
                &Usage::default(),
                self.citing.grounded,
                &[],
            )),
            error: Some(error.user_text().to_owned()),
            sources: Vec::new(),
        };
        self.store_outcome(&outcome).await
    }

    async fn store_outcome(&self, outcome: &MessageOutcome) -> Result<(), ApiError> {
        self.store
            .finish_message(self.caller, self.conversation_id, self.message_id, outcome)
            .await
            .map_err(|e| for_conversation(e, self.conversation_id))
    }

    /// The provider failed before its first token: the message ends `error`, and the
    /// client gets the contract's JSON error.
    pub async fn fail_before_first_token(&self, error: ProviderError) -> ApiError {
        if let Err(store_error) = self.store_failure(String::new(), &error).await {
            store_error.log();
        }
        error.into()
    }

    async fn complete(&self, answer: &Answer) -> Result<(), ApiError> {
        let outcome = MessageOutcome {
            status: MessageStatus::Complete,
            text: answer.text.clone(),
            metadata: Some(metadata(
                &self.model,
                answer.reason,
                &answer.usage,
                self.citing.grounded,
                &answer.sources,
            )),
            error: None,
            sources: answer.sources.clone(),
        };
        self.store_outcome(&outcome).await
    }

    /// Reads the answer to its end and stores it: the JSON mode.
    pub async fn collect(
        mut self,
        first: ProviderEvent,
        events: EventStream,
    ) -> Result<Answer, ApiError> {
        let mut answer = Reader::new(
            first,
            events,
            self.idle_timeout,
            self.idle_timeout,
            self.caps,
            self.input_estimate,
            self.citing.rewriter.take(),
        );
        loop {
            match answer.step(|| {}).await {
                Step::Delta(_) => {}
                Step::Done(answer, _) => {
                    self.complete(&answer).await?;
                    return Ok(answer);
                }
                Step::Failed(text, error) => {
                    self.store_failure(text, &error).await?;
                    return Err(error.into());
                }
            }
        }
    }

    /// Streams the answer as UI message stream chunks into `chunks`, stores it, and ends
    /// the stream with `[DONE]`. A client that has gone keeps nothing from finishing.
    pub async fn stream(
        mut self,
        first: ProviderEvent,
        events: EventStream,
        chunks: UnboundedSender<Bytes>,
    ) {
        let send = |bytes: Bytes| {
            // An error means the client went away; generation and storage go on.
            let _ = chunks.send(bytes);
        };
        let text_id = format!("text-{}", self.message_id.simple());
        send(ui_stream::start(
            &self.message_id.to_string(),
            &self.conversation_id.to_string(),
        ));
        send(ui_stream::start_step());
        send(ui_stream::text_start(&text_id));
        let mut reader = Reader::new(
            first,
            events,
            self.idle_timeout,
            self.keep_alive,
            self.caps,
            self.input_estimate,
            self.citing.rewriter.take(),
        );
        loop {
            match reader
                .step(|| send(Bytes::from_static(ui_stream::KEEP_ALIVE)))
                .await
            {
                // A delta the rewriter holds back whole sends nothing.
                Step::Delta(delta) if delta.is_empty() => {}
                Step::Delta(delta) => send(ui_stream::text_delta(&text_id, &delta)),
                Step::Done(answer, tail) => {
                    if !tail.is_empty() {
                        send(ui_stream::text_delta(&text_id, &tail));
                    }
                    send(ui_stream::text_end(&text_id));
                    send(ui_stream::finish_step());
                    // The client hears `finish` only once the answer is stored.
                    match self.complete(&answer).await {
                        Ok(()) => {
                            for source in &answer.sources {
                                send(ui_stream::source_url(
                                    &source.id,
                                    &source.url,
                                    &source.title,
                                ));
                            }
                            send(ui_stream::finish(answer.reason, &answer.usage))
                        }
                        Err(error) => {
                            error.log();
                            send(ui_stream::error(
                                "The answer could not be saved. Please try again.",
                            ));
                        }
                    }
                    break;
                }
                Step::Failed(text, error) => {
                    if let Err(store_error) = self.store_failure(text, &error).await {
                        store_error.log();
                    }
                    send(ui_stream::error(error.user_text()));
                    break;
                }
            }
        }
        send(Bytes::from_static(ui_stream::DONE));
    }
}

/// The project's knowledge could not be read for a stored turn: its assistant message
/// ends `error` with [`UNREAD_KNOWLEDGE`], as one whose provider failed before its first
/// token; a storage failure is logged.
pub async fn fail_unread_knowledge<S: CompletionStore>(
    store: &S,
    caller: Caller,
    conversation_id: Uuid,
    message_id: Uuid,
    model: &str,
) {
    let outcome = MessageOutcome {
        status: MessageStatus::Error,
        text: String::new(),
        metadata: Some(metadata(
            model,
            FinishReason::Error,
            &Usage::default(),
            None,
            &[],
        )),
        error: Some(UNREAD_KNOWLEDGE.to_owned()),
        sources: Vec::new(),
    };
    if let Err(error) = store
        .finish_message(caller, conversation_id, message_id, &outcome)
        .await
    {
        for_conversation(error, conversation_id).log();
    }
}

/// What a message says when the site's knowledge could not be read for it.
pub const UNREAD_KNOWLEDGE: &str =
    "The assistant could not read this site's information just now. Please try again.";

/// The hard limits on one answer, so a runaway answer cannot run up the bill.
#[derive(Clone, Copy, Debug)]
pub struct Caps {
    /// Output tokens (counted as provider deltas) after which the answer is cut.
    pub max_output_tokens: u32,
    /// When the answer is cut whatever its length.
    pub deadline: tokio::time::Instant,
}

/// One step of an answer.
enum Step {
    /// More text.
    Delta(String),
    /// The end: natural, or cut by a cap (`length`), with the text the rewriter held back
    /// and the sources block (already in the answer's text; still to be sent).
    Done(Answer, String),
    /// A failure, with the text so far.
    Failed(String, ProviderError),
}

/// Reads an answer event by event, accumulating its text and applying the caps.
struct Reader {
    pending: Option<ProviderEvent>,
    rewriter: Option<CitationRewriter>,
    pump: Pump,
    caps: Caps,
    input_estimate: u64,
    text: String,
    tokens: u32,
}

impl Reader {
    fn new(
        first: ProviderEvent,
        events: EventStream,
        idle: Duration,
        quiet: Duration,
        caps: Caps,
        input_estimate: u64,
        rewriter: Option<CitationRewriter>,
    ) -> Self {
        Self {
            pending: Some(first),
            rewriter,
            pump: Pump::new(events, idle, quiet),
            caps,
            input_estimate,
            text: String::new(),
            tokens: 0,
        }
    }

    fn capped(&mut self) -> Step {
        tracing::warn!(tokens = self.tokens, "answer cut at its cap");
        let usage = Usage::new(self.input_estimate, u64::from(self.tokens));
        self.done(FinishReason::Length, usage)
    }

    /// The end of the answer: what the rewriter held back, and its sources block.
    fn done(&mut self, reason: FinishReason, usage: Usage) -> Step {
        let (tail, sources) = match self.rewriter.take() {
            Some(rewriter) => rewriter.finish(),
            None => (String::new(), Vec::new()),
        };
        self.text.push_str(&tail);
        Step::Done(
            Answer {
                text: std::mem::take(&mut self.text),
                reason,
                usage,
                sources,
            },
            tail,
        )
    }

    async fn step(&mut self, on_quiet: impl FnMut()) -> Step {
        if self.tokens >= self.caps.max_output_tokens {
            return self.capped();
        }
        let event = match self.pending.take() {
            Some(event) => Some(Ok(event)),
            None => {
                match tokio::time::timeout_at(self.caps.deadline, self.pump.next(on_quiet)).await {
                    Ok(event) => event,
                    Err(_) => return self.capped(),
                }
            }
        };
        match event {
            Some(Ok(ProviderEvent::Delta(delta))) => {
                let delta = match &mut self.rewriter {
                    Some(rewriter) => rewriter.push(&delta),
                    None => delta,
                };
                self.text.push_str(&delta);
                self.tokens += 1;
                Step::Delta(delta)
            }
            Some(Ok(ProviderEvent::Finish { reason, usage })) => self.done(reason, usage),
            Some(Err(error)) => Step::Failed(std::mem::take(&mut self.text), error),
            None => Step::Failed(std::mem::take(&mut self.text), unfinished()),
        }
    }
}

fn unfinished() -> ProviderError {
    ProviderError::Failed("the provider's stream ended before the answer finished".into())
}

/// Reads provider events with an idle limit, calling back during quiet spells.
pub struct Pump {
    events: EventStream,
    idle_timeout: Duration,
    quiet: Duration,
}

impl Pump {
    /// Reads `events`, giving up after `idle_timeout` of silence and calling back every
    /// `quiet` of it.
    pub fn new(events: EventStream, idle_timeout: Duration, quiet: Duration) -> Self {
        Self {
            events,
            idle_timeout,
            quiet: quiet.max(Duration::from_millis(1)),
        }
    }

    /// The next event, a timeout error after too long a silence, or `None` at the end.
    pub async fn next(
        &mut self,
        mut on_quiet: impl FnMut(),
    ) -> Option<Result<ProviderEvent, ProviderError>> {
        let mut waited = Duration::ZERO;
        loop {
            let wait = self.quiet.min(self.idle_timeout.saturating_sub(waited));
            // `next()` on the boxed stream is cancel-safe: a timed-out wait loses nothing.
            match tokio::time::timeout(wait, self.events.next()).await {
                Ok(event) => return event,
                Err(_) => {
                    waited += wait;
                    if waited >= self.idle_timeout {
                        return Some(Err(ProviderError::Timeout(format!(
                            "no event for {} ms",
                            self.idle_timeout.as_millis()
                        ))));
                    }
                    on_quiet();
                }
            }
        }
    }
}

/// The first event, or the error that stands for its absence.
pub async fn first_event(
    events: &mut EventStream,
    first_token_timeout: Duration,
) -> Result<ProviderEvent, ProviderError> {
    match tokio::time::timeout(first_token_timeout, events.next()).await {
        Ok(Some(event)) => event,
        Ok(None) => Err(unfinished()),
        Err(_) => Err(ProviderError::Timeout(format!(
            "no first token within {} ms",
            first_token_timeout.as_millis()
        ))),
    }
}
