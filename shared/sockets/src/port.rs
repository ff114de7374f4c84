//! The push port: send one text frame to one connection. Boxed futures, so that a
//! publisher holds either adapter behind one pointer.

use futures_util::future::BoxFuture;

/// A boxed cause kept for the log.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a push did not arrive.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The connection no longer exists (`GoneException`, 410): forget it.
    #[error("connection gone")]
    Gone,
    /// Anything else (throttled, unreachable, refused); the connection is kept.
    #[error("push failed: {0}")]
    Failed(#[source] Cause),
}

/// Sends frames to connections.
pub trait PushPort: Send + Sync {
    /// Sends `frame` (a JSON text frame) to `connection`.
    fn post<'a>(
        &'a self,
        connection: &'a str,
        frame: &'a str,
    ) -> BoxFuture<'a, Result<(), PushError>>;
}
