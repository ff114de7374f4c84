//! Why a storage call failed, typed so that each handler can map it to the contract (the
//! edge does: `chat_edge::store_errors`), and how SDK failures are sorted into it.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::CancellationReason;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

/// A boxed cause kept for the log.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a storage call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such conversation in the caller's project.
    #[error("conversation not found")]
    NotFound,
    /// The conversation belongs to another visitor.
    #[error("conversation owned by another visitor")]
    NotOwner,
    /// An item with that key exists already (a start that named a used id).
    #[error("item exists already")]
    Exists,
    /// The conversation is closed and takes no new turn.
    #[error("conversation is closed")]
    Closed,
    /// A human agent handles the conversation, so the assistant may not answer in it.
    #[error("conversation is handled by a human agent")]
    HumanHandled,
    /// The conversation is not handled by a human agent, so no agent may write into it.
    #[error("conversation is not handled by a human agent")]
    NotHumanHandled,
    /// A knowledge source has a sync queued or running already.
    #[error("a sync is queued or running")]
    Busy,
    /// A conditional write lost to another writer (an index version published meanwhile).
    #[error("changed by another writer")]
    Changed,
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

/// The error codes DynamoDB throttles with.
const THROTTLING_CODES: [&str; 4] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TransactionInProgressException",
];

/// The error codes of DynamoDB failing on its side.
const SERVER_FAULT_CODES: [&str; 3] = [
    "InternalServerError",
    "ServiceUnavailable",
    "InternalFailure",
];

/// Sorts an SDK failure into what the API distinguishes: throttling and outages (503)
/// from everything else (500). An answer with an HTTP 5xx status is an outage whatever its
/// body says: a proxy or load balancer in the way answers with a page of its own, which
/// carries no DynamoDB error code.
pub fn classify<E>(error: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let code = error.code();
    let server_status = error
        .raw_response()
        .is_some_and(|response| response.status().is_server_error());
    if code.is_some_and(|code| THROTTLING_CODES.contains(&code)) {
        return StoreError::Throttled(Box::new(error));
    }
    let unavailable = server_status
        || matches!(
            error,
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_)
        )
        || code.is_some_and(|code| SERVER_FAULT_CODES.contains(&code));
    if unavailable {
        StoreError::Unavailable(Box::new(error))
    } else {
        StoreError::Other(Box::new(error))
    }
}

/// The reasons DynamoDB gives for cancelling a transaction, item by item, when that is how
/// it failed; any other failure, sorted as [`classify`] sorts it.
pub fn cancellation_reasons(
    error: SdkError<TransactWriteItemsError, HttpResponse>,
) -> Result<Vec<CancellationReason>, StoreError> {
    match error {
        SdkError::ServiceError(failure) if failure.err().is_transaction_canceled_exception() => {
            match failure.into_err() {
                TransactWriteItemsError::TransactionCanceledException(canceled) => {
                    Ok(canceled.cancellation_reasons.unwrap_or_default())
                }
                _ => unreachable!("checked above"),
            }
        }
        other => Err(classify(other)),
    }
}
