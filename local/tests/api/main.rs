//! The API over real HTTP against the local server, the embedded DynamoDB engine and the
//! real AWS SDK client: one test binary, one stack per test.

mod admin;
mod agent_store;
mod agents;
mod auth;
mod bedrock;
mod close;
mod completion;
mod conversations;
mod cors;
mod crawl;
mod embeddings;
mod events;
mod faults;
mod feedback;
mod get;
mod grounded;
mod identity;
mod knowledge;
mod knowledge_faults;
mod limits;
mod live;
mod messages;
mod openai;
mod openapi;
mod security;
mod send;
