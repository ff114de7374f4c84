//! How storage failures reach the client: the contract's 404, 403 and 409 for what concerns
//! a conversation, 503 with `retryAfter` for a throttled or unreachable store, 500 (logged
//! with its cause) for anything else.

use chat_domain::ApiError;
use chat_storage::StoreError;
use uuid::Uuid;

/// Seconds a client is told to wait after the database throttled or failed.
pub const STORE_RETRY_AFTER_SECS: u64 = 1;

/// The contract's error for a storage failure that concerns no resource in particular.
pub fn api_error(error: StoreError) -> ApiError {
    match error {
        StoreError::Throttled(_) | StoreError::Unavailable(_) => ApiError::ServiceUnavailable {
            retry_after: STORE_RETRY_AFTER_SECS,
            cause: Box::new(error),
        },
        other => ApiError::internal(other),
    }
}

/// The contract's error for a storage failure concerning `conversation_id`.
pub fn for_conversation(error: StoreError, conversation_id: Uuid) -> ApiError {
    match error {
        StoreError::NotFound => ApiError::ConversationNotFound {
            conversation_id: conversation_id.to_string(),
        },
        StoreError::NotOwner => ApiError::Forbidden,
        StoreError::Closed => ApiError::Conflict {
            message: "Conversation is closed".to_owned(),
            resource: "conversation",
            conflicting_field: "status",
        },
        StoreError::NotHumanHandled => ApiError::Conflict {
            message: "Conversation is not handled by a human agent".to_owned(),
            resource: "conversation",
            conflicting_field: "isHumanHandled",
        },
        StoreError::HumanHandled => ApiError::Conflict {
            message: "A human agent handles this conversation".to_owned(),
            resource: "conversation",
            conflicting_field: "isHumanHandled",
        },
        other => api_error(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_store_failure_has_its_contract_status() {
        let id = Uuid::now_v7();
        let cases = [
            (StoreError::NotFound, 404),
            (StoreError::NotOwner, 403),
            (StoreError::Closed, 409),
            (StoreError::HumanHandled, 409),
            (StoreError::NotHumanHandled, 409),
            (StoreError::Throttled("slow".into()), 503),
            (StoreError::Unavailable("down".into()), 503),
            (StoreError::Corrupt("bad".into()), 500),
            (StoreError::Other("bug".into()), 500),
        ];
        for (error, status) in cases {
            let error = for_conversation(error, id);
            assert_eq!(error.status().as_u16(), status, "{error}");
            if status == 503 {
                assert_eq!(error.retry_after(), Some(STORE_RETRY_AFTER_SECS));
            }
        }
    }

    #[test]
    fn the_two_conflicts_of_an_agent_write_name_their_field() {
        let id = Uuid::now_v7();
        let conflict = |error: StoreError| {
            let error = for_conversation(error, id);
            (
                error.client_message(),
                error.details().map(|d| d["conflictingField"].clone()),
            )
        };
        assert_eq!(
            conflict(StoreError::NotHumanHandled),
            (
                "Conversation is not handled by a human agent".into(),
                Some("isHumanHandled".into())
            )
        );
        assert_eq!(
            conflict(StoreError::Closed),
            ("Conversation is closed".into(), Some("status".into()))
        );
    }
}
