//! Who a request is from: a visitor, by its session token, or the project itself,
//! by one of its secret keys (`Authorization: Bearer sk_…`, API.md §6). Either way a bad
//! credential is the contract's 401, and nothing else is read or written.

use chat_domain::ApiError;
use chat_domain::api_key::{SECRET_PREFIX, SecretKey};
use chat_domain::ids::Caller;
use chat_domain::session::bearer_token;
use chat_storage::ports::KeyStore;
use http::HeaderMap;

use crate::wiring::Edge;

/// The caller an `Authorization: Bearer` header names: a session token's visitor, or the
/// project of a secret key (looked up through the key cache: one read per cold key).
pub async fn caller<S: KeyStore>(
    edge: &Edge,
    store: &S,
    headers: &HeaderMap,
) -> Result<Caller, ApiError> {
    let token = bearer_token(headers)?;
    if !token.starts_with(SECRET_PREFIX) {
        return edge.auth.verify(token);
    }
    let refuse = |reason: &str| ApiError::Unauthorized {
        reason: reason.to_owned(),
        token_presented: true,
    };
    let key = SecretKey::parse(token).ok_or_else(|| refuse("malformed secret key"))?;
    match edge.keys.secret(store, &key.digest()).await? {
        Some(record) if !record.revoked => Ok(Caller::project_scope(record.project)),
        Some(_) => Err(refuse("revoked secret key")),
        None => Err(refuse("unknown secret key")),
    }
}

/// The project a request of an agent route (API.md §12) comes from: only a secret key of
/// it will do. A valid session token is the wrong credential (403, as a secret key is on a
/// visitor's route); anything refused by [`caller`] is its 401.
pub async fn project_caller<S: KeyStore>(
    edge: &Edge,
    store: &S,
    headers: &HeaderMap,
    refusal: &'static str,
) -> Result<Caller, ApiError> {
    let caller = caller(edge, store, headers).await?;
    if caller.is_project_scope() {
        Ok(caller)
    } else {
        Err(ApiError::WrongCredential(refusal))
    }
}
