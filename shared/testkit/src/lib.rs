//! The test kit every test binary uses: [`app::TestApp::builder`] (the whole stack on
//! loopback, every answer checked against `openapi.yaml`), the DynamoDB call log that counts
//! round trips, and a loopback Lambda Runtime API for running the real function binaries.

pub mod app;
pub mod call_log;
pub mod runtime_api;
pub mod scripted_model;

pub use app::{
    Builder, TestApp, bearer, declared_statuses, demo_engine, json, new_caller,
    same_project_other_visitor, serve_http, spawn_app, stream_events, user,
};

/// The development signing key the local server and the sample events use.
pub use chat_local::settings::DEV_SIGNING_KEYS;
