//! API keys (API.md §6): publishable keys, public by design, which name a project and let a
//! widget start; secret keys, server-side only, with the project's whole scope, stored only as
//! their SHA-256. Both are parsed here, once, into types that are valid by construction.

use std::fmt::Write;

use aws_lc_rs::{constant_time, digest, rand};
use uuid::Uuid;

use crate::ids::ProjectId;
use crate::secret::Secret;
use crate::timestamp::Timestamp;

/// The prefix of a publishable key.
pub const PUBLISHABLE_PREFIX: &str = "pk_";
/// The prefix of a secret key.
pub const SECRET_PREFIX: &str = "sk_";
/// Random bytes in a publishable key: 128 bits.
pub const PUBLISHABLE_RANDOM_BYTES: usize = 16;
/// Random bytes in a secret key: 256 bits.
pub const SECRET_RANDOM_BYTES: usize = 32;

/// A publishable key: `pk_<project id, 32 hex>_<128 random bits, 32 hex>`. The project id in
/// it is no secret (the key is public), and lets one round trip read the key and its
/// project together.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PublishableKey {
    text: String,
    project: ProjectId,
}

impl PublishableKey {
    /// The key `text` spells, if it is one.
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix(PUBLISHABLE_PREFIX)?;
        let (project, random) = rest.split_once('_')?;
        if project.len() != 32
            || random.len() != 2 * PUBLISHABLE_RANDOM_BYTES
            || !is_lower_hex(project)
            || !is_lower_hex(random)
        {
            return None;
        }
        let project = Uuid::try_parse(project).ok()?;
        Some(Self {
            text: text.to_owned(),
            project: ProjectId(project),
        })
    }

    /// A new key for `project`, from the system's random source.
    pub fn generate(project: ProjectId) -> Self {
        let text = format!(
            "{PUBLISHABLE_PREFIX}{}_{}",
            project.0.simple(),
            random_hex(PUBLISHABLE_RANDOM_BYTES)
        );
        Self::parse(&text).expect("a generated key parses")
    }

    /// The project it names.
    pub fn project(&self) -> ProjectId {
        self.project
    }

    /// The key's text.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// A secret key: `sk_<256 random bits, 64 hex>`. Only its digest is ever stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretKey(Secret);

impl SecretKey {
    /// The key `text` spells, if it is one.
    pub fn parse(text: &str) -> Option<Self> {
        let random = text.strip_prefix(SECRET_PREFIX)?;
        (random.len() == 2 * SECRET_RANDOM_BYTES && is_lower_hex(random))
            .then(|| Self(Secret::new(text)))
    }

    /// A new key, from the system's random source.
    pub fn generate() -> Self {
        Self(Secret::new(format!(
            "{SECRET_PREFIX}{}",
            random_hex(SECRET_RANDOM_BYTES)
        )))
    }

    /// Its SHA-256, hex: what the store keeps and looks it up by.
    pub fn digest(&self) -> KeyDigest {
        let hash = digest::digest(&digest::SHA256, self.0.expose().as_bytes());
        KeyDigest(hex(hash.as_ref()))
    }

    /// The key itself: shown once, when it is created.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// The first characters, for telling keys apart in a listing (`sk_1a2b3c4d…`).
    pub fn hint(&self) -> String {
        format!("{}…", &self.0.expose()[..SECRET_PREFIX.len() + 8])
    }
}

/// The SHA-256 of a secret key, in lower-case hex.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KeyDigest(String);

impl KeyDigest {
    /// A digest read back from the store, if it is one.
    pub fn parse(text: &str) -> Option<Self> {
        (text.len() == 64 && is_lower_hex(text)).then(|| Self(text.to_owned()))
    }

    /// The hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `other` is the same digest, compared in constant time: how long a refusal
    /// takes says nothing about how close a guess was.
    pub fn matches(&self, other: &KeyDigest) -> bool {
        constant_time::verify_slices_are_equal(self.0.as_bytes(), other.0.as_bytes()).is_ok()
    }
}

/// What kind of key.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString, strum::VariantNames,
)]
#[strum(serialize_all = "lowercase")]
pub enum KeyKind {
    /// `pk_…`: in web pages.
    Publishable,
    /// `sk_…`: on servers.
    Secret,
}

/// A stored key: its project and what it allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRecord {
    /// Publishable or secret.
    pub kind: KeyKind,
    /// The project it belongs to.
    pub project: ProjectId,
    /// The assistant its visitors talk to (publishable keys), when not the default.
    pub assistant: Option<Uuid>,
    /// The origins of the pages that may use it; empty: any (publishable keys).
    pub allowed_origins: Vec<String>,
    /// What the operator called it.
    pub label: Option<String>,
    /// Revoked keys are refused like unknown ones.
    pub revoked: bool,
    /// When it was created.
    pub created_at: Timestamp,
    /// The key itself for a publishable key; its first characters for a secret one.
    pub display: String,
}

impl KeyRecord {
    /// Whether a request from `origin` (its `Origin` header; none from servers and curl)
    /// may use the key: no origin, an empty list, or an origin in the list.
    pub fn allows_origin(&self, origin: Option<&str>) -> bool {
        match origin {
            None => true,
            Some(origin) => {
                self.allowed_origins.is_empty()
                    || self
                        .allowed_origins
                        .iter()
                        .any(|allowed| allowed.eq_ignore_ascii_case(origin))
            }
        }
    }
}

fn is_lower_hex(text: &str) -> bool {
    text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(2 * bytes.len()), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::fill(&mut buffer).expect("the system's random source");
    hex(&buffer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_name_their_project() {
        let project = ProjectId(Uuid::now_v7());
        let key = PublishableKey::generate(project);
        assert_eq!(PublishableKey::parse(key.as_str()), Some(key.clone()));
        assert_eq!(key.project(), project);
        assert_ne!(PublishableKey::generate(project), key, "random");
        let secret = SecretKey::generate();
        assert_eq!(SecretKey::parse(secret.expose()), Some(secret.clone()));
        assert_eq!(secret.expose().len(), 3 + 64);
        assert!(!format!("{secret:?}").contains(&secret.expose()[3..]));
    }

    #[test]
    fn malformed_keys_do_not_parse() {
        let project = ProjectId(Uuid::now_v7());
        let good = PublishableKey::generate(project);
        for bad in [
            "",
            "pk_",
            "sk_abc",
            &good.as_str().to_uppercase(),
            &good.as_str()[..good.as_str().len() - 1],
            &format!("{}0", good.as_str()),
            &good.as_str().replacen("pk_", "sk_", 1),
        ] {
            assert_eq!(PublishableKey::parse(bad), None, "{bad}");
        }
        assert_eq!(SecretKey::parse(good.as_str()), None);
        assert_eq!(SecretKey::parse(&format!("sk_{}", "g".repeat(64))), None);
    }

    #[test]
    fn digests_are_sha256_and_compare_exactly() {
        let key = SecretKey::parse(&format!("sk_{}", "0".repeat(64))).unwrap();
        // sha256("sk_" + 64 zeros), computed with Python's hashlib.
        let digest = key.digest();
        assert_eq!(
            digest.as_str(),
            "0d7f11803834307e0a89dbf3e61485c9aa4e1564ad5c0ff0b4807d4bdc333824"
        );
        assert_eq!(KeyDigest::parse(digest.as_str()), Some(digest.clone()));
        assert!(digest.matches(&digest));
        assert!(!digest.matches(&SecretKey::generate().digest()));
    }

    #[test]
    fn origins_are_checked_only_for_browsers_and_only_against_a_non_empty_list() {
        let mut record = KeyRecord {
            kind: KeyKind::Publishable,
            project: ProjectId(Uuid::nil()),
            assistant: None,
            allowed_origins: Vec::new(),
            label: None,
            revoked: false,
            created_at: Timestamp::from_unix_millis(0),
            display: String::new(),
        };
        assert!(record.allows_origin(Some("https://any.example")));
        record.allowed_origins = vec!["https://shop.example".into()];
        assert!(record.allows_origin(None));
        assert!(record.allows_origin(Some("https://shop.example")));
        assert!(!record.allows_origin(Some("https://evil.example")));
        assert!(!record.allows_origin(Some("https://shop.example.evil.example")));
    }
}
