//! Lambda entry point: the process's clients are built once, then every event is served.

use chat_agents::Agents;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    chat_edge::wiring::run(|base, _env| async move { Ok(Agents::new(&base)) }).await
}
