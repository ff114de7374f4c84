//! Lambda entry point: builds the process-wide clients once, then serves events with
//! response streaming.

use std::sync::Arc;

use chat_completion::runtime_socket::RuntimeApiSockets;
use chat_completion::{Completion, handle};
use chat_shared::provider::registry::Providers;
use chat_shared::services::Services;
use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let services = Services::from_env().await?;
    let providers = Providers::build(&services.config.completion, &services.sdk).await?;
    let deps = Completion {
        store: services.store.clone(),
        auth: Arc::new(services.auth),
        providers: Arc::new(providers),
        settings: Arc::new(services.config.completion.clone()),
        limiter: Arc::new(services.limiter),
        cors: services.config.cors.clone(),
    };
    let deps = &deps;
    let runtime_api = RuntimeApiSockets::from_env();
    lambda_http::run_with_streaming_response(service_fn(move |req| async move {
        // Before the response goes out on the connection that fetched this event.
        if let Some(sockets) = runtime_api {
            sockets.set_nodelay();
        }
        Ok::<_, std::convert::Infallible>(handle(deps, req).await)
    }))
    .await
}
