//! What the chat API's three Lambda functions share, one concern per module.
//!
//! A request flows: [`respond`] frames it (request id, span, error envelope) →
//! [`auth`] names the caller → [`input`] parses the path and body → a handler calls a
//! [`storage`] trait → [`domain`] objects are written back as JSON.

pub mod assistant;
pub mod auth;
pub mod aws_https;
pub mod config;
pub mod cors;
pub mod domain;
pub mod error;
pub mod input;
pub mod provider;
pub mod rate_limit;
pub mod respond;
pub mod services;
pub mod storage;
pub mod telemetry;
pub mod timestamp;
pub mod ui_stream;

pub use error::ApiError;
