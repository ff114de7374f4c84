//! Brings the local stack up: the embedded engine (unless an endpoint is configured), the
//! table, the demo seed, the shared [`App`], and the follower of the table's stream that
//! pushes to the sockets.

use std::path::PathBuf;
use std::sync::Arc;

use chat_edge::StartupError;
use chat_storage::settings::CredentialSource;
use chat_storage::table::create_table;

use crate::app::{App, LocalSettings};
use crate::changes::ChangeFollower;
use crate::embedded_dynamo::EmbeddedDynamo;
use crate::seed::seed_demo;

/// How to bring the stack up.
#[derive(Clone, Debug, Default)]
pub struct StartOptions {
    /// Keep the embedded engine's data in this file instead of memory.
    pub db_file: Option<PathBuf>,
    /// Skip the demo data.
    pub no_seed: bool,
    /// Where the embedded engine listens (default: a free loopback port).
    pub engine_addr: Option<std::net::SocketAddr>,
}

/// A running stack. The embedded engine, when there is one, lives as long as this.
pub struct Stack {
    /// What requests are served with.
    pub app: Arc<App>,
    /// Pushes the table's changes to the sockets.
    pub changes: ChangeFollower,
    _engine: Option<EmbeddedDynamo>,
}

/// Starts the stack for `settings`.
pub async fn start(
    mut settings: LocalSettings,
    options: &StartOptions,
) -> Result<Stack, StartupError> {
    let dynamo = &mut settings.base.store.dynamo;
    let engine = match &dynamo.endpoint {
        Some(_) => None,
        None => {
            let addr = options
                .engine_addr
                .unwrap_or_else(|| ([127, 0, 0, 1], 0).into());
            let engine = EmbeddedDynamo::start_on(options.db_file.as_deref(), addr)
                .await
                .map_err(|e| StartupError::Other(format!("starting the embedded engine: {e}")))?;
            dynamo.endpoint = Some(engine.endpoint().to_owned());
            dynamo.credentials = CredentialSource::LocalDummy;
            Some(engine)
        }
    };
    let app = App::build(settings).await?;
    create_table(app.store.client(), app.store.table())
        .await
        .map_err(|e| StartupError::Other(e.to_string()))?;
    if !options.no_seed {
        seed_demo(&app.store).await.map_err(StartupError::Other)?;
    }
    let changes = app
        .follow_changes()
        .await
        .map_err(|e| StartupError::Other(e.to_string()))?;
    Ok(Stack {
        app: Arc::new(app),
        changes,
        _engine: engine,
    })
}
