//! The offline provider: no model, no network. Its answers are deterministic (built from
//! the question) and its timing and failures are settable, so every path of a completion
//! can be exercised locally and in tests.
//!
//! Settings come from configuration, and an assistant's model id may override them:
//! `offline:first=200,gap=50,tokens=12,fail=after-3`.
//! - `first`: milliseconds before the first token; `gap`: between tokens;
//! - `tokens`: how many tokens (words) the answer has;
//! - `fail`: `now` (fails before any token: 502), `busy` (overloaded before any token:
//!   503 with a retry hint), `after-N` (fails after N tokens), `stall-N` (stops without
//!   finishing after N tokens).

use std::time::Duration;

use chat_domain::grounding::extractive_answer;
use futures_util::stream;

use crate::{
    ChatRole, EventStream, FinishReason, ModelProvider, ModelRequest, ProviderError, ProviderEvent,
    Usage,
};

/// How the offline provider behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OfflineSettings {
    /// Delay before the first token.
    pub first_token_delay: Duration,
    /// Delay between tokens.
    pub token_gap: Duration,
    /// Tokens in an answer.
    pub tokens: u32,
    /// Whether and how it fails.
    pub failure: Option<OfflineFailure>,
}

/// A failure the offline provider acts out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OfflineFailure {
    /// Fails before the first token (502).
    Now,
    /// Overloaded before the first token (503, retry in 7 s).
    Busy,
    /// Fails after this many tokens.
    After(u32),
    /// Ends without a finish after this many tokens.
    Stall(u32),
}

/// The retry hint of the `busy` failure.
pub const BUSY_RETRY_AFTER_SECS: u64 = 7;

impl Default for OfflineSettings {
    fn default() -> Self {
        Self {
            first_token_delay: Duration::from_millis(150),
            token_gap: Duration::from_millis(30),
            tokens: 24,
            failure: None,
        }
    }
}

impl OfflineSettings {
    /// These settings with the overrides of a model id (`offline:key=value,...`).
    pub fn with_model(mut self, model: &str) -> Self {
        let Some((_, options)) = model.split_once(':') else {
            return self;
        };
        for option in options.split(',').map(str::trim).filter(|o| !o.is_empty()) {
            let (key, value) = option.split_once('=').unwrap_or((option, ""));
            let millis = || value.parse().ok().map(Duration::from_millis);
            match key {
                "first" => self.first_token_delay = millis().unwrap_or(self.first_token_delay),
                "gap" => self.token_gap = millis().unwrap_or(self.token_gap),
                "tokens" => self.tokens = value.parse().unwrap_or(self.tokens),
                "fail" => self.failure = OfflineFailure::parse(value),
                _ => tracing::warn!(option, "unknown offline provider option ignored"),
            }
        }
        self
    }
}

impl OfflineFailure {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "now" => Some(Self::Now),
            "busy" => Some(Self::Busy),
            _ => {
                if let Some(n) = text.strip_prefix("after-") {
                    n.parse().ok().map(Self::After)
                } else if let Some(n) = text.strip_prefix("stall-") {
                    n.parse().ok().map(Self::Stall)
                } else {
                    None
                }
            }
        }
    }
}

/// The offline provider, with its configured defaults.
#[derive(Clone, Debug, Default)]
pub struct OfflineProvider {
    defaults: OfflineSettings,
}

impl OfflineProvider {
    /// A provider whose answers follow `defaults` unless a model id overrides them.
    pub fn new(defaults: OfflineSettings) -> Self {
        Self { defaults }
    }
}

/// The deterministic answer to `request`, as the tokens it is streamed in: with sources,
/// the sentences of them that answer the question, each cited (all of it, whatever
/// `count`); without, a sentence about itself of `count` words.
pub fn answer_tokens(request: &ModelRequest, count: u32) -> Vec<String> {
    let question = request
        .messages
        .iter()
        .rev()
        .find(|m| m.role == ChatRole::User)
        .map(|m| m.content.as_str())
        .unwrap_or("");
    if let Some(grounding) = &request.grounding {
        // The question as searched: a short follow-up with the one before it.
        let question = match grounding.question.trim() {
            "" => question,
            searched => searched,
        };
        return word_tokens(&extractive_answer(question, grounding));
    }
    let excerpt: String = question
        .split_whitespace()
        .take(12)
        .collect::<Vec<_>>()
        .join(" ");
    let opening = format!("This is the offline assistant answering \"{excerpt}\".");
    let filler =
        "It runs without a model provider, so every answer is predictable and costs nothing.";
    let words = opening
        .split_whitespace()
        .chain(filler.split_whitespace().cycle())
        .take(count as usize);
    words
        .enumerate()
        .map(|(n, word)| {
            if n == 0 {
                word.to_owned()
            } else {
                format!(" {word}")
            }
        })
        .collect()
}

/// `text` as word tokens, each with the space after it: joined, the text.
fn word_tokens(text: &str) -> Vec<String> {
    text.split_inclusive(' ').map(str::to_owned).collect()
}

fn count_words(request: &ModelRequest) -> u64 {
    request
        .messages
        .iter()
        .map(|m| m.content.split_whitespace().count() as u64)
        .sum()
}

struct State {
    tokens: std::vec::IntoIter<String>,
    sent: u32,
    total: u32,
    settings: OfflineSettings,
    input_tokens: u64,
    finished: bool,
}

impl ModelProvider for OfflineProvider {
    fn stream(&self, request: ModelRequest) -> EventStream {
        let settings = self.defaults.with_model(&request.model);
        let tokens = answer_tokens(&request, settings.tokens);
        let state = State {
            total: tokens.len() as u32,
            tokens: tokens.into_iter(),
            sent: 0,
            settings,
            input_tokens: count_words(&request),
            finished: false,
        };
        Box::pin(stream::unfold(state, |mut state| async move {
            if state.finished {
                return None;
            }
            let delay = if state.sent == 0 {
                state.settings.first_token_delay
            } else {
                state.settings.token_gap
            };
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let failure = match state.settings.failure {
                Some(OfflineFailure::Now) if state.sent == 0 => {
                    Some(ProviderError::Failed("offline provider: fail=now".into()))
                }
                Some(OfflineFailure::Busy) if state.sent == 0 => Some(ProviderError::Unavailable {
                    retry_after: Some(BUSY_RETRY_AFTER_SECS),
                    cause: "offline provider: fail=busy".into(),
                }),
                Some(OfflineFailure::After(n)) if state.sent == n => Some(ProviderError::Failed(
                    format!("offline provider: fail=after-{n}"),
                )),
                Some(OfflineFailure::Stall(n)) if state.sent == n => return None,
                _ => None,
            };
            if let Some(error) = failure {
                state.finished = true;
                return Some((Err(error), state));
            }
            match state.tokens.next() {
                Some(token) => {
                    state.sent += 1;
                    Some((Ok(ProviderEvent::Delta(token)), state))
                }
                None => {
                    state.finished = true;
                    let usage = Usage::new(state.input_tokens, u64::from(state.total));
                    Some((
                        Ok(ProviderEvent::Finish {
                            reason: FinishReason::Stop,
                            usage,
                        }),
                        state,
                    ))
                }
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_domain::chat::ChatMessage;
    use futures_util::StreamExt;

    fn request(model: &str) -> ModelRequest {
        ModelRequest {
            model: model.into(),
            messages: vec![ChatMessage {
                role: ChatRole::User,
                content: "Do you ship to Canada?".into(),
            }],
            temperature: None,
            max_output_tokens: None,
            grounding: None,
        }
    }

    async fn collect(model: &str) -> Vec<Result<ProviderEvent, ProviderError>> {
        OfflineProvider::default()
            .stream(request(model))
            .collect()
            .await
    }

    #[tokio::test]
    async fn answers_are_deterministic_and_end_with_one_finish() {
        let events = collect("offline:first=0,gap=0,tokens=5").await;
        assert_eq!(events.len(), 6);
        let text: String = events
            .iter()
            .filter_map(|e| match e {
                Ok(ProviderEvent::Delta(d)) => Some(d.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(text, "This is the offline assistant");
        assert_eq!(
            events[5],
            Ok(ProviderEvent::Finish {
                reason: FinishReason::Stop,
                usage: Usage::new(5, 5)
            })
        );
        assert_eq!(collect("offline:first=0,gap=0,tokens=5").await, events);
    }

    #[tokio::test]
    async fn with_sources_it_answers_from_them_cited() {
        use chat_domain::grounding::{Grounding, Source};
        let mut request = request("offline:first=0,gap=0,tokens=2");
        request.grounding = Some(std::sync::Arc::new(Grounding {
            question: String::new(),
            sources: vec![Source {
                number: Some(1),
                title: "Shipping".into(),
                url: Some("https://shop.example/shipping".into()),
                text: "We ship to Canada in five days. Gift cards never expire.".into(),
                score: 0.8,
                is_pair: false,
            }],
        }));
        let events: Vec<_> = OfflineProvider::default().stream(request).collect().await;
        let text: String = events
            .iter()
            .filter_map(|e| match e {
                Ok(ProviderEvent::Delta(d)) => Some(d.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(text, "We ship to Canada in five days [1].");
        assert!(
            events.len() > 3,
            "streamed word by word, not capped at 2 tokens"
        );
    }

    #[tokio::test]
    async fn failures_happen_where_they_are_set() {
        let events = collect("offline:first=0,gap=0,fail=now").await;
        assert!(matches!(events.as_slice(), [Err(ProviderError::Failed(_))]));
        let events = collect("offline:first=0,gap=0,fail=busy").await;
        assert!(matches!(
            events.as_slice(),
            [Err(ProviderError::Unavailable {
                retry_after: Some(7),
                ..
            })]
        ));
        let events = collect("offline:first=0,gap=0,tokens=9,fail=after-3").await;
        assert_eq!(events.len(), 4);
        assert!(matches!(events[3], Err(ProviderError::Failed(_))));
        let events = collect("offline:first=0,gap=0,tokens=9,fail=stall-2").await;
        assert_eq!(events.len(), 2);
        assert!(
            events
                .iter()
                .all(|e| matches!(e, Ok(ProviderEvent::Delta(_))))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn timing_follows_the_settings() {
        let started = tokio::time::Instant::now();
        let mut stream =
            OfflineProvider::default().stream(request("offline:first=200,gap=50,tokens=3"));
        stream.next().await;
        assert_eq!(started.elapsed(), Duration::from_millis(200));
        stream.next().await;
        assert_eq!(started.elapsed(), Duration::from_millis(250));
    }
}
