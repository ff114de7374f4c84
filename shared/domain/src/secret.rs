//! Secret values (keys, tokens) that must never reach a log: `Debug` prints no part of
//! them, and there is no `Display`.

/// A secret string.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// A secret given inline or named in Secrets Manager (read at start-up, by the wiring).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretSource {
    /// The value itself (local runs).
    Inline(Secret),
    /// A Secrets Manager secret id or ARN.
    SecretsManager(String),
}

impl SecretSource {
    /// The secret `env` gives inline in `inline` or names in `secret_id` (inline wins);
    /// `None` when it gives neither.
    pub fn from_env(env: &crate::env::Env<'_>, inline: &str, secret_id: &str) -> Option<Self> {
        match (env.get(inline), env.get(secret_id)) {
            (Some(value), _) => Some(Self::Inline(Secret::new(value))),
            (None, Some(id)) => Some(Self::SecretsManager(id)),
            (None, None) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let secret = Secret::new("sk-live-123456");
        let source = SecretSource::Inline(secret.clone());
        for text in [
            format!("{secret:?}"),
            format!("{source:?}"),
            format!("{:?}", Some(&secret)),
        ] {
            assert!(!text.contains("123456"), "{text}");
        }
        assert_eq!(secret.expose(), "sk-live-123456");
    }
}
