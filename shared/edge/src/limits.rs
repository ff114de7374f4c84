//! Moving a request's rate-limit counters, beside its other reads: the policy is the
//! domain's (`chat_domain::limits`), the counters the store's.

use chat_domain::ApiError;
use chat_domain::assistant::Plan;
use chat_domain::ids::Caller;
use chat_domain::limits::{OperationClass, RateLimiter, RateStatus};
use chat_domain::timestamp::Timestamp;
use chat_storage::ports::LimitStore;

use crate::store_errors::api_error;

/// Counts a get or close against its limits: the counters move in parallel with the
/// read of the project's overrides (skipped while cached).
pub async fn count_reads<S: LimitStore>(
    limiter: &RateLimiter,
    store: &S,
    caller: Caller,
    now: Timestamp,
) -> Result<RateStatus, ApiError> {
    if !limiter.enabled() {
        return Ok(RateStatus::unlimited());
    }
    let counters = limiter.counters(caller, OperationClass::Reads, now);
    let cached = limiter.cached_overrides(caller.project);
    let overrides = async {
        match cached {
            Some(overrides) => Ok(overrides),
            None => store
                .project_settings(caller.project)
                .await
                .map(|settings| settings.map(|s| s.limits).unwrap_or_default()),
        }
    };
    let (counts, overrides) = tokio::join!(store.increment(&counters), overrides);
    let overrides = overrides.map_err(api_error)?;
    limiter.remember_overrides(caller.project, overrides);
    Ok(limiter.evaluate(
        OperationClass::Reads,
        &counters,
        &counts.map_err(api_error)?,
        &overrides,
        Plan::Free,
    ))
}
