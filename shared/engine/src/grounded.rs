//! A turn grounded in the project's knowledge (API.md §16): the small port the engine
//! searches through, and what the search decides for the answer: drawn from sources and
//! cited, small talk without sources, or an answer as written (a Q&A pair's, or the
//! assistant's fallback) without asking a model at all.

use std::future::Future;
use std::sync::Arc;

use chat_domain::ApiError;
use chat_domain::assistant::Assistant;
use chat_domain::chat::{ChatMessage, ChatRole, FinishReason, Usage};
use chat_domain::citations::CitationRewriter;
use chat_domain::grounding::{Grounding, is_small_talk};
use chat_domain::ids::ProjectId;
use chat_edge::store_errors::STORE_RETRY_AFTER_SECS;
use chat_knowledge::blobs::BlobStore;
use chat_knowledge::retrieval::{Prepared, Retriever, TurnQuery};
use chat_providers::{EventStream, ProviderEvent};
use futures_util::stream;

/// Where a turn finds its sources: searched in-process, its one network call (a
/// question's embedding) made beside the turn's first read.
pub trait TurnKnowledge: Send + Sync {
    /// What is worked out before the project's index version is known.
    type Prepared: Send;

    /// Starts on `question` beside the turn's first read.
    fn prepare(
        &self,
        project: ProjectId,
        question: &str,
    ) -> impl Future<Output = Self::Prepared> + Send;

    /// The sources for `turn` in the project's index at `version`; `None` when nothing in
    /// it answers the question.
    fn ground(
        &self,
        project: ProjectId,
        version: &str,
        prepared: Self::Prepared,
        turn: TurnQuery<'_>,
    ) -> impl Future<Output = Result<Option<Grounding>, ApiError>> + Send;
}

impl<B: BlobStore> TurnKnowledge for Retriever<B> {
    type Prepared = Prepared;

    async fn prepare(&self, project: ProjectId, question: &str) -> Prepared {
        Retriever::prepare(self, project, question).await
    }

    async fn ground(
        &self,
        project: ProjectId,
        version: &str,
        prepared: Prepared,
        turn: TurnQuery<'_>,
    ) -> Result<Option<Grounding>, ApiError> {
        Retriever::ground(self, project, version, prepared, turn)
            .await
            // Answering without the knowledge could only guess: the visitor retries.
            .map_err(|error| ApiError::ServiceUnavailable {
                retry_after: STORE_RETRY_AFTER_SECS,
                cause: Box::new(error),
            })
    }
}

/// How a turn's answer stands to the project's knowledge.
#[derive(Clone, Debug, PartialEq)]
pub enum Answering {
    /// The project has no knowledge: the model answers as it always has.
    Free,
    /// From these sources, cited; the model's citations are rewritten as they stream.
    Grounded(Arc<Grounding>),
    /// A greeting or thanks nothing answers: the model answers without sources, and any
    /// citation or URL it makes up is removed.
    SmallTalk,
    /// This text, without a model: a Q&A pair's answer (`grounded`), or the fallback.
    AsWritten {
        /// The answer.
        text: String,
        /// Drawn from the knowledge (a pair), or the fallback (`false`).
        grounded: bool,
    },
}

/// What answers a turn on `message`, given what its search found.
pub fn decide(grounding: Option<Grounding>, message: &str, assistant: &Assistant) -> Answering {
    match grounding {
        Some(grounding) => match grounding.qna_answer() {
            Some(answer) => Answering::AsWritten {
                text: answer.to_owned(),
                grounded: true,
            },
            None => Answering::Grounded(Arc::new(grounding)),
        },
        None if is_small_talk(message) => Answering::SmallTalk,
        None => Answering::AsWritten {
            text: assistant.fallback_message().to_owned(),
            grounded: false,
        },
    }
}

/// What a model is told of a turn's sources, after the assistant's own prompt.
const SMALL_TALK_INSTRUCTIONS: &str = "Nothing on this website answers the visitor's message, \
     which is a greeting, a thanks or a goodbye. Answer it briefly and politely and offer to \
     help; state no facts, cite nothing and write no URL.";

impl Answering {
    /// The system message that goes after the assistant's prompt, when there is one.
    pub fn instructions(&self) -> Option<ChatMessage> {
        let content = match self {
            Self::Grounded(grounding) => grounding.instructions(),
            Self::SmallTalk => SMALL_TALK_INSTRUCTIONS.to_owned(),
            Self::Free | Self::AsWritten { .. } => return None,
        };
        Some(ChatMessage {
            role: ChatRole::System,
            content,
        })
    }

    /// The sources the provider answers from (the offline provider reads them).
    pub fn grounding(&self) -> Option<Arc<Grounding>> {
        match self {
            Self::Grounded(grounding) => Some(grounding.clone()),
            _ => None,
        }
    }

    /// How the answer's text is rewritten and what its metadata says.
    pub fn citing(&self) -> Citing {
        match self {
            Self::Free => Citing::default(),
            Self::Grounded(grounding) => Citing {
                rewriter: Some(CitationRewriter::new(grounding.numbered())),
                grounded: Some(true),
            },
            Self::SmallTalk => Citing {
                rewriter: Some(CitationRewriter::new(Vec::new())),
                grounded: Some(false),
            },
            Self::AsWritten { grounded, .. } => Citing {
                rewriter: None,
                grounded: Some(*grounded),
            },
        }
    }
}

/// How an answer's text is rewritten as it streams, and whether it is grounded.
#[derive(Debug, Default)]
pub struct Citing {
    /// Rewrites citations and removes URLs that are not the sources'; `None`: as written.
    pub rewriter: Option<CitationRewriter>,
    /// `metadata.grounded`: `None` for a project without knowledge (no key at all).
    pub grounded: Option<bool>,
}

/// `text` as a provider's answer: word by word, as a model's arrives (a widget shows it
/// the same way), then the end; nothing was generated, so nothing was spent.
pub fn as_written(text: String) -> EventStream {
    let words: Vec<Result<ProviderEvent, _>> = text
        .split_inclusive(' ')
        .map(|word| Ok(ProviderEvent::Delta(word.to_owned())))
        .chain([Ok(ProviderEvent::Finish {
            reason: FinishReason::Stop,
            usage: Usage::default(),
        })])
        .collect();
    Box::pin(stream::iter(words))
}
