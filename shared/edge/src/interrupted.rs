//! Interrupted generations at the edge: shown as `error` by every route that returns
//! messages, and repaired in the store by the request that saw them.

use chat_domain::ids::Caller;
use chat_domain::interrupted::InterruptPolicy;
use chat_domain::message::Message;
use chat_domain::timestamp::Timestamp;
use chat_storage::ports::MessageLister;
use uuid::Uuid;

/// Shows each interrupted message of `messages` as `error`; their ids.
pub fn show(policy: &InterruptPolicy, messages: &mut [Message], now: Timestamp) -> Vec<Uuid> {
    messages
        .iter_mut()
        .filter_map(|message| policy.apply(message, now).then_some(message.id))
        .collect()
}

/// Repairs `interrupted` messages of conversation `id` in the store. A failure is logged,
/// not answered: the response already shows them as they will be stored, and the next
/// request that sees them tries again.
pub async fn repair<S: MessageLister>(store: &S, caller: Caller, id: Uuid, interrupted: &[Uuid]) {
    if interrupted.is_empty() {
        return;
    }
    match store.repair_interrupted(caller, id, interrupted).await {
        Ok(()) => {
            tracing::info!(conversation_id = %id, count = interrupted.len(), "interrupted answers repaired")
        }
        Err(error) => {
            tracing::warn!(conversation_id = %id, %error, "repairing interrupted answers failed")
        }
    }
}
