//! Generations that died: an assistant message left `streaming` by a function that was
//! stopped reads as `error` once it is older than the generation time cap plus a margin,
//! and the store is repaired when it is next touched.

use std::time::Duration;

use crate::env::{ConfigError, Env};
use crate::message::{Message, MessageStatus};
use crate::timestamp::Timestamp;

/// What an interrupted answer's `error` says.
pub const INTERRUPTED_TEXT: &str = "The answer was interrupted.";

/// The generation time cap's default (`MAX_GENERATION_SECS`), shared with the turn engine.
pub const DEFAULT_MAX_GENERATION_SECS: u64 = 240;

/// The margin's default (`INTERRUPTED_MARGIN_SECS`): room for the finishing write's
/// retries and for clocks that disagree a little.
pub const DEFAULT_INTERRUPTED_MARGIN_SECS: u64 = 60;

/// When a `streaming` message counts as interrupted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InterruptPolicy {
    /// The age past which no generation can still be running.
    pub after: Duration,
}

impl InterruptPolicy {
    /// `MAX_GENERATION_SECS` plus `INTERRUPTED_MARGIN_SECS`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let cap: u64 = env.number("MAX_GENERATION_SECS", DEFAULT_MAX_GENERATION_SECS)?;
        let margin: u64 = env.number("INTERRUPTED_MARGIN_SECS", DEFAULT_INTERRUPTED_MARGIN_SECS)?;
        Ok(Self {
            after: Duration::from_secs(cap.saturating_add(margin)),
        })
    }

    /// Whether `message` is a generation that died, seen at `now`.
    pub fn is_interrupted(&self, message: &Message, now: Timestamp) -> bool {
        let age = now.unix_millis() - message.created_at.unix_millis();
        message.status == Some(MessageStatus::Streaming)
            && u128::try_from(age).is_ok_and(|age| age > self.after.as_millis())
    }

    /// Shows `message` as `error` when it is interrupted; whether it was.
    pub fn apply(&self, message: &mut Message, now: Timestamp) -> bool {
        if !self.is_interrupted(message, now) {
            return false;
        }
        message.status = Some(MessageStatus::Error);
        message.error = Some(INTERRUPTED_TEXT.to_owned());
        true
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::message::MessageRole;

    #[test]
    fn only_old_streaming_messages_are_interrupted() {
        let policy = InterruptPolicy::from_env(&Env::from_pairs(&[
            ("MAX_GENERATION_SECS", "10"),
            ("INTERRUPTED_MARGIN_SECS", "5"),
        ]))
        .unwrap();
        let at = |millis| Timestamp::from_unix_millis(millis);
        let mut message = Message::text(
            Uuid::nil(),
            Uuid::nil(),
            MessageRole::Assistant,
            "",
            MessageStatus::Streaming,
            at(0),
        );
        assert!(!policy.apply(&mut message, at(15_000)));
        assert_eq!(message.status, Some(MessageStatus::Streaming));
        assert!(policy.apply(&mut message, at(15_001)));
        assert_eq!(message.status, Some(MessageStatus::Error));
        assert_eq!(message.error.as_deref(), Some(INTERRUPTED_TEXT));
        // A finished message stays as it is, however old.
        assert!(!policy.apply(&mut message, at(99_000)));
    }
}
