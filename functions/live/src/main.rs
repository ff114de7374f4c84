//! Lambda entry point: the process's clients are built once, then every WebSocket API
//! event is served.

use chat_live::Live;
use lambda_http::aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (base, _env) = chat_edge::wiring::start().await?;
    let live = Live::new(&base);
    let live = &live;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
            Ok::<_, std::convert::Infallible>(live.handle(event.payload).await)
        },
    ))
    .await
}
