//! Lambda entry point: the process's clients are built once, then every event is served.

use knowledge_api::Knowledge;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    chat_edge::wiring::run(|base, env| async move { Knowledge::new(&base, &env).await }).await
}
