//! Session tokens: HS256 JWTs naming a project (`pid`) and a visitor (`sub`).
//!
//! Several keys can be live at once, chosen by the token's `kid` header, so a key is
//! rotated by adding the new one first, waiting out the old tokens, then dropping the old.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use http::HeaderMap;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ApiError;
use crate::ids::{Caller, ProjectId, VisitorId};

/// Seconds of clock skew allowed on `exp`, `nbf` and `iat`.
pub const CLOCK_SKEW_SECS: u64 = 30;

/// The smallest secret accepted: HS256 wants a key at least as long as its hash.
pub const MIN_SECRET_BYTES: usize = 32;

/// The configured signing keys, newest (the one new tokens are signed with) first.
#[derive(Clone)]
pub struct SigningKeys {
    keys: Vec<(String, Vec<u8>)>,
}

impl std::fmt::Debug for SigningKeys {
    // The secrets themselves are never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.keys.iter().map(|(kid, _)| kid.as_str()).collect();
        f.debug_struct("SigningKeys").field("kids", &kids).finish()
    }
}

/// Why a key list could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// No key at all.
    #[error("no signing key is configured")]
    Empty,
    /// An entry is not `kid:secret`.
    #[error("signing key entry {0} is not of the form kid:secret")]
    Malformed(usize),
    /// A secret is too short to be safe.
    #[error("signing key {kid:?} is {len} bytes; at least {MIN_SECRET_BYTES} are required")]
    TooShort {
        /// The key's id.
        kid: String,
        /// Its length.
        len: usize,
    },
    /// Two entries share a kid.
    #[error("signing key id {0:?} appears twice")]
    Duplicate(String),
}

impl SigningKeys {
    /// Parses `kid:secret[,kid:secret...]`, newest first.
    pub fn parse(spec: &str) -> Result<Self, KeyError> {
        let mut keys: Vec<(String, Vec<u8>)> = Vec::new();
        for (index, entry) in spec.split(',').map(str::trim).enumerate() {
            if entry.is_empty() {
                continue;
            }
            let (kid, secret) = entry.split_once(':').ok_or(KeyError::Malformed(index))?;
            let kid = kid.trim();
            if kid.is_empty() {
                return Err(KeyError::Malformed(index));
            }
            if secret.len() < MIN_SECRET_BYTES {
                return Err(KeyError::TooShort {
                    kid: kid.to_owned(),
                    len: secret.len(),
                });
            }
            if keys.iter().any(|(existing, _)| existing == kid) {
                return Err(KeyError::Duplicate(kid.to_owned()));
            }
            keys.push((kid.to_owned(), secret.as_bytes().to_vec()));
        }
        if keys.is_empty() {
            return Err(KeyError::Empty);
        }
        Ok(Self { keys })
    }

    /// The id of the key new tokens are signed with.
    pub fn current_kid(&self) -> &str {
        &self.keys[0].0
    }
}

/// The claims of a session token.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The visitor id.
    pub sub: Uuid,
    /// The project id.
    pub pid: Uuid,
    /// Issued at (seconds since the epoch).
    pub iat: u64,
    /// Expires at (seconds since the epoch).
    pub exp: u64,
    /// Not valid before, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// Issuer, checked when one is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// The site's own id for an identified visitor (tokens a site's backend mints).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext: Option<String>,
    /// An identified visitor's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// An identified visitor's picture URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
}

impl Claims {
    /// Claims for `caller`, valid for `ttl_secs` from now, with `iss` when given.
    pub fn new(caller: Caller, ttl_secs: u64, issuer: Option<String>) -> Self {
        let now = now_secs();
        Self {
            sub: caller.visitor.0,
            pid: caller.project.0,
            iat: now,
            exp: now + ttl_secs,
            nbf: None,
            iss: issuer,
            ext: None,
            name: None,
            picture: None,
        }
    }

    /// The visitor these claims describe, when a site's backend identified it (`ext`).
    pub fn identified_visitor(&self) -> Option<crate::visitor::Visitor> {
        let external_id = self.ext.clone()?;
        Some(crate::visitor::Visitor {
            object: "visitor",
            id: self.sub,
            kind: crate::visitor::VisitorType::Identified,
            external_id: Some(external_id),
            name: self.name.clone(),
            avatar_url: self.picture.clone(),
        })
    }
}

/// Verifies session tokens; built once per process.
pub struct Authenticator {
    keys: HashMap<String, DecodingKey>,
    current_kid: String,
    validation: Validation,
}

impl Authenticator {
    /// An authenticator for these keys, checking `iss` when `issuer` is set.
    pub fn new(keys: &SigningKeys, issuer: Option<&str>) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = CLOCK_SKEW_SECS;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        let mut required = vec!["exp", "sub"];
        if let Some(issuer) = issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        validation.set_required_spec_claims(&required);
        Self {
            keys: keys
                .keys
                .iter()
                .map(|(kid, secret)| (kid.clone(), DecodingKey::from_secret(secret)))
                .collect(),
            current_kid: keys.current_kid().to_owned(),
            validation,
        }
    }

    /// The caller named by the request's `Authorization: Bearer` token.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        let token = bearer_token(headers)?;
        self.verify(token)
    }

    /// Verifies a raw token.
    pub fn verify(&self, token: &str) -> Result<Caller, ApiError> {
        let claims = self.verify_claims(token)?;
        Ok(Caller {
            project: ProjectId(claims.pid),
            visitor: VisitorId(claims.sub),
        })
    }

    /// Verifies a raw token; its claims.
    pub fn verify_claims(&self, token: &str) -> Result<Claims, ApiError> {
        let refuse = |reason: String| ApiError::Unauthorized {
            reason,
            token_presented: true,
        };
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| refuse(format!("bad header: {e}")))?;
        if header.alg != Algorithm::HS256 {
            return Err(refuse(format!(
                "algorithm {:?} is not accepted",
                header.alg
            )));
        }
        let kid = header.kid.as_deref().unwrap_or(&self.current_kid);
        let key = self
            .keys
            .get(kid)
            .ok_or_else(|| refuse(format!("unknown key id {kid:?}")))?;
        let data = jsonwebtoken::decode::<Claims>(token, key, &self.validation)
            .map_err(|e| refuse(format!("token rejected: {e}")))?;
        let claims = data.claims;
        if claims.iat > now_secs() + CLOCK_SKEW_SECS {
            return Err(refuse("issued in the future".to_owned()));
        }
        if claims.sub == VisitorId::PROJECT.0 {
            // The nil id stands for the project itself, which only a secret key acts as.
            return Err(refuse("the nil visitor id is reserved".to_owned()));
        }
        Ok(claims)
    }
}

/// Signs session tokens with the current key: for the local server, the admin command
/// and tests. A site's own backend does the same with the shared secret.
pub struct TokenMinter {
    kid: String,
    key: EncodingKey,
}

impl TokenMinter {
    /// A minter signing with the newest of `keys`.
    pub fn new(keys: &SigningKeys) -> Self {
        Self {
            kid: keys.keys[0].0.clone(),
            key: EncodingKey::from_secret(&keys.keys[0].1),
        }
    }

    /// A token for `caller` valid for `ttl_secs` from now.
    pub fn mint(&self, caller: Caller, ttl_secs: u64) -> String {
        self.mint_claims(&Claims::new(caller, ttl_secs, None))
    }

    /// A token with exactly these claims.
    pub fn mint_claims(&self, claims: &Claims) -> String {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.kid.clone());
        // Encoding an HS256 token with a valid key and plain claims cannot fail.
        jsonwebtoken::encode(&header, claims, &self.key).expect("HS256 signing")
    }
}

/// Seconds since the epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The token of an `Authorization: Bearer` header (401 without one).
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    let missing = |reason: &str| ApiError::Unauthorized {
        reason: reason.to_owned(),
        token_presented: false,
    };
    let value = headers
        .get(http::header::AUTHORIZATION)
        .ok_or_else(|| missing("no Authorization header"))?
        .to_str()
        .map_err(|_| missing("Authorization header is not text"))?;
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or_else(|| missing("Authorization header has no scheme"))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(missing("Authorization scheme is not Bearer"));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(missing("empty bearer token"));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET_A: &str = "a-secret-that-is-long-enough-for-hs256!!";
    const SECRET_B: &str = "b-secret-that-is-long-enough-for-hs256!!";

    fn caller() -> Caller {
        Caller {
            project: ProjectId(Uuid::now_v7()),
            visitor: VisitorId(Uuid::now_v7()),
        }
    }

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::AUTHORIZATION, value.parse().unwrap());
        headers
    }

    fn assert_refused(result: Result<Caller, ApiError>, presented: bool) {
        match result {
            Err(ApiError::Unauthorized {
                token_presented, ..
            }) => assert_eq!(token_presented, presented),
            other => panic!("expected 401, got {other:?}"),
        }
    }

    #[test]
    fn a_minted_token_verifies_to_its_caller() {
        let keys = SigningKeys::parse(&format!("k1:{SECRET_A}")).unwrap();
        let caller = caller();
        let token = TokenMinter::new(&keys).mint(caller, 60);
        let auth = Authenticator::new(&keys, None);
        assert_eq!(
            auth.authenticate(&headers(&format!("Bearer {token}")))
                .unwrap(),
            caller
        );
        assert_eq!(
            auth.authenticate(&headers(&format!("bearer {token}")))
                .unwrap(),
            caller
        );
    }

    #[test]
    fn rotation_accepts_old_and_new_keys_by_kid() {
        let old = SigningKeys::parse(&format!("old:{SECRET_A}")).unwrap();
        let both = SigningKeys::parse(&format!("new:{SECRET_B},old:{SECRET_A}")).unwrap();
        let auth = Authenticator::new(&both, None);
        let caller = caller();
        assert!(
            auth.verify(&TokenMinter::new(&old).mint(caller, 60))
                .is_ok()
        );
        assert!(
            auth.verify(&TokenMinter::new(&both).mint(caller, 60))
                .is_ok()
        );
        let only_new = SigningKeys::parse(&format!("new:{SECRET_B}")).unwrap();
        assert_refused(
            Authenticator::new(&only_new, None).verify(&TokenMinter::new(&old).mint(caller, 60)),
            true,
        );
    }

    #[test]
    fn expiry_allows_thirty_seconds_of_skew_and_no_more() {
        let keys = SigningKeys::parse(&format!("k:{SECRET_A}")).unwrap();
        let auth = Authenticator::new(&keys, None);
        let minter = TokenMinter::new(&keys);
        let now = now_secs();
        let claims = |exp: u64, nbf: Option<u64>| Claims {
            sub: Uuid::now_v7(),
            pid: Uuid::now_v7(),
            iat: now - 100,
            exp,
            nbf,
            iss: None,
            ext: None,
            name: None,
            picture: None,
        };
        assert!(
            auth.verify(&minter.mint_claims(&claims(now - 20, None)))
                .is_ok()
        );
        assert_refused(
            auth.verify(&minter.mint_claims(&claims(now - 40, None))),
            true,
        );
        assert!(
            auth.verify(&minter.mint_claims(&claims(now + 60, Some(now + 20))))
                .is_ok()
        );
        assert_refused(
            auth.verify(&minter.mint_claims(&claims(now + 600, Some(now + 40)))),
            true,
        );
    }

    #[test]
    fn issuer_is_checked_when_configured() {
        let keys = SigningKeys::parse(&format!("k:{SECRET_A}")).unwrap();
        let auth = Authenticator::new(&keys, Some("https://site.example"));
        let minter = TokenMinter::new(&keys);
        let now = now_secs();
        let mut claims = Claims {
            sub: Uuid::now_v7(),
            pid: Uuid::now_v7(),
            iat: now,
            exp: now + 60,
            nbf: None,
            iss: None,
            ext: None,
            name: None,
            picture: None,
        };
        assert_refused(auth.verify(&minter.mint_claims(&claims)), true);
        claims.iss = Some("https://other.example".into());
        assert_refused(auth.verify(&minter.mint_claims(&claims)), true);
        claims.iss = Some("https://site.example".into());
        assert!(auth.verify(&minter.mint_claims(&claims)).is_ok());
    }

    #[test]
    fn missing_or_foreign_schemes_are_not_presented_tokens() {
        let keys = SigningKeys::parse(&format!("k:{SECRET_A}")).unwrap();
        let auth = Authenticator::new(&keys, None);
        assert_refused(auth.authenticate(&HeaderMap::new()), false);
        assert_refused(auth.authenticate(&headers("Basic dXNlcjpwYXNz")), false);
        assert_refused(auth.authenticate(&headers("Bearer ")), false);
        assert_refused(auth.authenticate(&headers("Bearer not.a.jwt")), true);
    }

    #[test]
    fn kid_and_header_tricks_are_refused() {
        let keys = SigningKeys::parse(&format!("new:{SECRET_B},old:{SECRET_A}")).unwrap();
        let auth = Authenticator::new(&keys, None);
        let now = now_secs();
        let claims = Claims {
            sub: Uuid::now_v7(),
            pid: Uuid::now_v7(),
            iat: now,
            exp: now + 60,
            nbf: None,
            iss: None,
            ext: None,
            name: None,
            picture: None,
        };
        let sign = |header: Header, secret: &str| {
            jsonwebtoken::encode(
                &header,
                &claims,
                &EncodingKey::from_secret(secret.as_bytes()),
            )
            .unwrap()
        };
        let with_kid = |kid: &str| {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some(kid.to_owned());
            header
        };
        // Signed with the old key but claiming the new kid, and the other way round.
        assert_refused(auth.verify(&sign(with_kid("new"), SECRET_A)), true);
        assert_refused(auth.verify(&sign(with_kid("old"), SECRET_B)), true);
        // No kid means the newest key only: an old-key token must name its kid.
        assert_refused(
            auth.verify(&sign(Header::new(Algorithm::HS256), SECRET_A)),
            true,
        );
        assert!(
            auth.verify(&sign(Header::new(Algorithm::HS256), SECRET_B))
                .is_ok()
        );
        // Kids are looked up, never used as paths, URLs or keys.
        for kid in [
            "",
            "../../../../dev/null",
            "https://evil.example/k",
            SECRET_A,
            "new ",
        ] {
            assert_refused(
                auth.verify(&sign(with_kid(kid), "attacker-secret-of-at-least-32-bytes")),
                true,
            );
        }
        // An embedded jwk or jku naming the attacker's key is ignored.
        let mut jku = with_kid("new");
        jku.jku = Some("https://evil.example/jwks.json".into());
        assert_refused(
            auth.verify(&sign(jku, "attacker-secret-of-at-least-32-bytes")),
            true,
        );
        // Any other algorithm, with a key the server has, is refused before verifying.
        for alg in [Algorithm::HS384, Algorithm::HS512] {
            let mut header = with_kid("new");
            header.alg = alg;
            assert_refused(auth.verify(&sign(header, SECRET_B)), true);
        }
    }

    #[test]
    fn a_token_replays_until_its_exp_and_no_longer() {
        // Nothing but `exp` limits replay: the server keeps no token state. What bounds
        // the damage is the short lifetime the minting side chooses and the token's scope
        // (one visitor of one project).
        let keys = SigningKeys::parse(&format!("k:{SECRET_A}")).unwrap();
        let auth = Authenticator::new(&keys, None);
        let minter = TokenMinter::new(&keys);
        let caller = caller();
        let token = minter.mint(caller, 60);
        for _ in 0..3 {
            assert_eq!(auth.verify(&token).unwrap(), caller);
        }
        let now = now_secs();
        let lapsed = minter.mint_claims(&Claims {
            sub: caller.visitor.0,
            pid: caller.project.0,
            iat: now - 600,
            exp: now - CLOCK_SKEW_SECS - 1,
            nbf: None,
            iss: None,
            ext: None,
            name: None,
            picture: None,
        });
        assert_refused(auth.verify(&lapsed), true);
    }

    #[test]
    fn key_lists_are_validated() {
        assert!(matches!(SigningKeys::parse(""), Err(KeyError::Empty)));
        assert!(matches!(
            SigningKeys::parse("nokid"),
            Err(KeyError::Malformed(0))
        ));
        assert!(matches!(
            SigningKeys::parse("k:short"),
            Err(KeyError::TooShort { .. })
        ));
        assert!(matches!(
            SigningKeys::parse(&format!("k:{SECRET_A},k:{SECRET_B}")),
            Err(KeyError::Duplicate(_))
        ));
        let debug = format!(
            "{:?}",
            SigningKeys::parse(&format!("k:{SECRET_A}")).unwrap()
        );
        assert!(!debug.contains(SECRET_A));
    }
}
