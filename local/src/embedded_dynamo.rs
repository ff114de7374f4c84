//! The embedded DynamoDB engine (dynoxide) served on a loopback port inside this process,
//! so the real SDK client and the real adapter run against it.

use std::net::SocketAddr;
use std::path::Path;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A running embedded engine; it stops when dropped.
pub struct EmbeddedDynamo {
    endpoint: String,
    task: JoinHandle<()>,
}

impl EmbeddedDynamo {
    /// Starts an engine on `127.0.0.1` at a free port: in memory, or in `file` when given.
    pub async fn start(
        file: Option<&Path>,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Self::start_on(file, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts an engine listening on `addr`, so other processes (`cargo lambda watch`)
    /// can share it.
    pub async fn start_on(
        file: Option<&Path>,
        addr: SocketAddr,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let database = match file {
            Some(path) => dynoxide::Database::new(&path.to_string_lossy())?,
            None => dynoxide::Database::memory()?,
        };
        let listener = TcpListener::bind(addr).await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let task = tokio::spawn(dynoxide::server::serve_on(listener, database));
        Ok(Self { endpoint, task })
    }

    /// The URL to point a DynamoDB client at.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

impl Drop for EmbeddedDynamo {
    fn drop(&mut self) {
        self.task.abort();
    }
}
