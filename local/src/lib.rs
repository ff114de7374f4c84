//! The local server: the whole API in one process on 127.0.0.1, over the embedded
//! DynamoDB engine by default, calling the same handlers the Lambda functions run; and
//! the admin commands that write projects and assistants.

pub mod admin;
pub mod call_log;
pub mod engine;
pub mod runtime_api;
pub mod seed;
pub mod server;
pub mod settings;
pub mod startup;
