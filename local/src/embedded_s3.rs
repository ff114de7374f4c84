//! The embedded S3-compatible engine (`s3s` over `s3s-fs`) served on a loopback port inside
//! this process, as dynoxide is for DynamoDB: the real `aws-sdk-s3` adapter of the
//! knowledge's blobs talks to it. Objects are files under a folder: a temporary one that
//! goes with the engine, or one that stays.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The engine's access key: the one the local SDK configuration signs with.
pub const ACCESS_KEY: &str = "local";
/// Its secret key.
pub const SECRET_KEY: &str = "local";

/// A running embedded engine; it stops when dropped (and its temporary folder goes).
pub struct EmbeddedS3 {
    endpoint: String,
    root: PathBuf,
    task: JoinHandle<()>,
    _temporary: Option<tempfile::TempDir>,
}

impl EmbeddedS3 {
    /// Starts an engine on `addr` (`127.0.0.1` at a free port when `None`), keeping objects
    /// under `dir` (a temporary folder when `None`), with `bucket` created.
    pub async fn start(
        dir: Option<&Path>,
        addr: Option<SocketAddr>,
        bucket: &str,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let (root, temporary) = match dir {
            Some(dir) => (dir.to_path_buf(), None),
            None => {
                let temporary = tempfile::tempdir()?;
                (temporary.path().to_path_buf(), Some(temporary))
            }
        };
        // A bucket of s3s-fs is a folder under its root.
        std::fs::create_dir_all(root.join(bucket))?;
        let fs = s3s_fs::FileSystem::new(&root).map_err(|e| format!("{e:?}"))?;
        let mut builder = s3s::service::S3ServiceBuilder::new(fs);
        builder.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let service = builder.build();
        let addr = addr.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        let listener = TcpListener::bind(addr).await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let task = tokio::spawn(async move {
            // The connections live in the accept loop's set: when the engine is dropped,
            // every open connection goes with it, as a stopped server's would.
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let accepted = tokio::select! {
                    accepted = listener.accept() => accepted,
                    Some(_) = connections.join_next() => continue,
                };
                let Ok((stream, _)) = accepted else {
                    continue;
                };
                let service = service.clone();
                connections.spawn(async move {
                    let connection = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service);
                    if let Err(error) = connection.await {
                        tracing::debug!(%error, "embedded S3 connection ended with an error");
                    }
                });
            }
        });
        Ok(Self {
            endpoint,
            root,
            task,
            _temporary: temporary,
        })
    }

    /// The URL to point an S3 client at (path-style).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The folder its objects are under.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl Drop for EmbeddedS3 {
    fn drop(&mut self) {
        self.task.abort();
    }
}
