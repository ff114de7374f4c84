//! Lambda entry point: the process's clients are built once, then every batch of the
//! table's stream is pushed to the sockets it concerns.

use aws_lambda_events::event::dynamodb::Event;
use chat_push::Push;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (base, env) = chat_edge::wiring::start().await?;
    let push = Push::build(&base, &env)?;
    let push = &push;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        Ok::<_, std::convert::Infallible>(push.handle(event.payload).await)
    }))
    .await
}
