//! Brings the local stack up: the engine (unless an endpoint is configured), the
//! client, the table, the demo seed, and the shared [`App`].

use std::path::PathBuf;
use std::sync::Arc;

use chat_shared::auth::Authenticator;
use chat_shared::config::Config;
use chat_shared::storage::client::sdk_config;
use chat_shared::storage::dynamo::DynamoStore;
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
    /// The DynamoDB endpoint in use, when not AWS's own.
    pub endpoint: Option<String>,
    /// The configuration everything was built from.
    pub config: Config,
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
            config.dynamo.static_credentials = true;
            Some(engine)
        }
    };
    let client = aws_sdk_dynamodb::Client::new(&sdk_config(&config.dynamo).await);
    create_table(&client, &config.table_name).await?;
    if !options.no_seed {
        seed_demo(&client, &config.table_name).await?;
    }
    let app = App {
        store: DynamoStore::new(client, config.table_name.clone()),
        auth: Authenticator::new(&config.signing_keys, config.token_issuer.as_deref()),
    };
    Ok(Stack {
        app: Arc::new(app),
        endpoint: config.dynamo.endpoint.clone(),
        config,
        _engine: engine,
    })
}
