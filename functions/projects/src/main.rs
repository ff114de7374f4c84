//! Lambda entry point: the process's clients are built once, then every event is served.

use chat_projects::CurrentProject;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    chat_edge::wiring::run(|base, _env| async move { Ok(CurrentProject::new(&base)) }).await
}
