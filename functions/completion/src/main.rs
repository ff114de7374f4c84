//! Lambda entry point: the process's clients are built once, then every event is served
//! with response streaming.

use chat_completion::Completions;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    chat_edge::wiring::run_streaming(
        |base, env| async move { Completions::build(&base, &env).await },
    )
    .await
}
