//! Why a process could not start: what the wiring and the secrets it reads fail with.

use chat_domain::env::ConfigError;

/// Why a process could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The environment is missing or has a wrong value.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A secret the environment names could not be read or used.
    #[error("reading the secret named by {variable} failed: {reason}")]
    Secret {
        /// The variable that named the secret.
        variable: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// Anything else that start-up needs (the local server's table, say).
    #[error("{0}")]
    Other(String),
}
