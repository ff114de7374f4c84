//! The API over real HTTP against the local server, the embedded DynamoDB engine and the
//! real AWS SDK client: one test binary, one stack per test.

mod auth;
mod bedrock;
mod close;
mod completion;
mod events;
mod get;
mod helpers;
mod openai;
mod openapi;
mod security;
