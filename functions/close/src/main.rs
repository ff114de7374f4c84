//! Lambda entry point: builds the process-wide clients once, then serves events.

use chat_shared::auth::Authenticator;
use chat_shared::config::Config;
use chat_shared::storage::client::dynamo_client;
use chat_shared::storage::dynamo::DynamoStore;
use chat_shared::telemetry;
use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = Config::from_env()?;
    telemetry::init(config.log_format);
    let store = DynamoStore::new(dynamo_client(&config.dynamo).await, &config.table_name);
    let auth = Authenticator::new(&config.signing_keys, config.token_issuer.as_deref());
    let (store, auth) = (&store, &auth);
    lambda_http::run(service_fn(move |req| async move {
        Ok::<_, std::convert::Infallible>(close_conversation::handle(store, auth, req).await)
    }))
    .await
}
