//! The local server: the whole API in one process on 127.0.0.1, over the embedded
//! DynamoDB engine by default, calling the same handlers the Lambda functions run; and
//! the admin commands that write projects and assistants.
//!
//! `app` holds every function's state, `server` routes requests to them, `live` serves
//! the widget's WebSocket on the API's listener (`body`: what both answer with), `startup` brings the stack up
//! (`embedded_dynamo`, `seed`), `settings` adds the development defaults, `admin` is the
//! operator's commands.

pub mod admin;
pub mod admin_knowledge;
pub mod app;
pub mod body;
pub mod changes;
pub mod demo_shop;
pub mod embedded_dynamo;
pub mod embedded_s3;
pub mod folder;
pub mod jobs;
pub mod live;
pub mod seed;
pub mod server;
pub mod settings;
pub mod site;
pub mod startup;
