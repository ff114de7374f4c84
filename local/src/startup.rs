//! Brings the local stack up: the engine (unless an endpoint is configured), the
//! client, the table, the demo seed, and the shared [`App`].

use std::path::PathBuf;
use std::sync::Arc;

use chat_shared::config::{Config, CredentialSource};
use chat_shared::provider::registry::Providers;
use chat_shared::services::Services;
use chat_shared::storage::table::create_table;

use crate::engine::EmbeddedDynamo;
use crate::seed::seed_demo;
use crate::server::App;

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
    _engine: Option<EmbeddedDynamo>,
}

/// Starts the stack for `config`.
pub async fn start(
    mut config: Config,
    options: &StartOptions,
) -> Result<Stack, Box<dyn std::error::Error + Send + Sync>> {
    let engine = match &config.dynamo.endpoint {
        Some(_) => None,
        None => {
            let addr = options
                .engine_addr
                .unwrap_or_else(|| ([127, 0, 0, 1], 0).into());
            let engine = EmbeddedDynamo::start_on(options.db_file.as_deref(), addr).await?;
            config.dynamo.endpoint = Some(engine.endpoint().to_owned());
            config.dynamo.credentials = CredentialSource::LocalDummy;
            Some(engine)
        }
    };
    let services = Services::build(config).await?;
    let (client, table) = (services.store.client(), services.store.table());
    create_table(client, table).await?;
    if !options.no_seed {
        seed_demo(client, table).await?;
    }
    let providers = Providers::build(&services.config.completion, &services.sdk).await?;
    Ok(Stack {
        app: Arc::new(App::new(services, providers)),
        _engine: engine,
    })
}
