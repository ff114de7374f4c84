//! Lambda entry point: builds the process-wide clients once, then serves events.

use chat_shared::services::Services;
use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let services = Services::from_env().await?;
    let (store, auth, limiter, cors) = (
        &services.store,
        &services.auth,
        &services.limiter,
        &services.config.cors,
    );
    lambda_http::run(service_fn(move |req| async move {
        Ok::<_, std::convert::Infallible>(
            close_conversation::handle(store, auth, limiter, cors, req).await,
        )
    }))
    .await
}
