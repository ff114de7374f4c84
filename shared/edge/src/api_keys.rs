//! Publishable and secret keys at the edge: parsed, looked up through a per-process cache
//! (at most [`KEY_CACHE_TTL`] old, so a revocation takes effect within it), and checked
//! against the request's origin. Unknown, malformed and revoked keys get one and the same
//! 401, so the answer tells them apart for nobody.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chat_domain::ApiError;
use chat_domain::api_key::{KeyDigest, KeyRecord, PublishableKey};
use chat_storage::ports::{KeyStore, PublishableKeyContext};
use http::HeaderMap;
use http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue, VARY};

use crate::cors::EXPOSE_HEADERS;
use crate::store_errors::api_error;

/// The longest a looked-up key (or its absence) is trusted: revocation takes effect within
/// it (API.md §6). `API_KEY_CACHE_TTL_MS` may shorten it.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(60);

/// The most keys a process remembers; past it the cache starts again empty.
pub const KEY_CACHE_CAPACITY: usize = 10_000;

/// What a lookup found, kept for [`KEY_CACHE_TTL`].
#[derive(Clone)]
enum Found {
    Publishable(Arc<PublishableKeyContext>),
    Secret(Option<Arc<KeyRecord>>),
}

/// The per-process key cache.
pub struct KeyCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, Found)>>,
}

impl KeyCache {
    /// A cache trusting what it read for `ttl` (at most [`KEY_CACHE_TTL`]).
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl: ttl.min(KEY_CACHE_TTL),
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, lookup: &str) -> Option<Found> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(lookup)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, found)| found.clone())
    }

    fn remember(&self, lookup: &str, found: Found) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= KEY_CACHE_CAPACITY {
            entries.clear();
        }
        entries.insert(lookup.to_owned(), (Instant::now(), found));
    }

    /// A publishable key with its project's public settings: one read when cold, none for
    /// a minute after.
    pub async fn publishable<S: KeyStore>(
        &self,
        store: &S,
        key: &PublishableKey,
    ) -> Result<Arc<PublishableKeyContext>, ApiError> {
        if let Some(Found::Publishable(context)) = self.cached(key.as_str()) {
            return Ok(context);
        }
        let context = Arc::new(store.publishable_key(key).await.map_err(api_error)?);
        self.remember(key.as_str(), Found::Publishable(context.clone()));
        Ok(context)
    }

    /// A secret key's record by its digest: one read when cold, none for a minute after.
    pub async fn secret<S: KeyStore>(
        &self,
        store: &S,
        digest: &KeyDigest,
    ) -> Result<Option<Arc<KeyRecord>>, ApiError> {
        if let Some(Found::Secret(record)) = self.cached(digest.as_str()) {
            return Ok(record);
        }
        let record = store
            .secret_key(digest)
            .await
            .map_err(api_error)?
            .map(Arc::new);
        self.remember(digest.as_str(), Found::Secret(record.clone()));
        Ok(record)
    }
}

/// The publishable key a request names in `field`, looked up and checked: 400 when it is
/// missing or empty, 401 when unknown, malformed, revoked or a secret key, 403 when the
/// request's `origin` may not use it.
pub async fn publishable_key<S: KeyStore>(
    cache: &KeyCache,
    store: &S,
    text: Option<&str>,
    field: &'static str,
    origin: Option<&str>,
) -> Result<(PublishableKey, Arc<PublishableKeyContext>), ApiError> {
    let text = text
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| ApiError::invalid(field, format!("{field} is required")))?;
    let refuse = |reason| ApiError::InvalidApiKey { reason, field };
    let key = PublishableKey::parse(text).ok_or(refuse("not a publishable key"))?;
    let context = cache.publishable(store, &key).await?;
    let record = context.key.as_ref().ok_or(refuse("unknown key"))?;
    if record.revoked {
        return Err(refuse("revoked key"));
    }
    if !record.allows_origin(origin) {
        return Err(ApiError::OriginNotAllowed);
    }
    Ok((key, context))
}

/// Lets the page at `origin` read the response, as the key's allowed origins do (the
/// deployment's own list may not name a widget's site).
pub fn allow_key_origin(origin: Option<&str>, headers: &mut HeaderMap) {
    let Some(value) = origin.and_then(|o| HeaderValue::from_str(o).ok()) else {
        return;
    };
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, value);
    headers.insert(
        ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE_HEADERS),
    );
    headers.append(VARY, HeaderValue::from_static("Origin"));
}
