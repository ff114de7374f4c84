//! The API's pure core: its objects and their JSON, ids, timestamps, errors, the input
//! newtypes every request is parsed into, session tokens, the limit policy, the UI message
//! stream encoder, and the reading of settings. No I/O: every other crate builds on this one.

pub mod api_key;
pub mod assistant;
pub mod chat;
pub mod citations;
pub mod conversation;
pub mod env;
pub mod error;
pub mod grounding;
pub mod human_agent;
pub mod ids;
pub mod input;
pub mod interrupted;
pub mod knowledge;
pub mod limits;
pub mod listing;
pub mod live;
pub mod message;
pub mod question_words;
pub mod secret;
pub mod session;
pub mod spelling;
pub mod timestamp;
pub mod title;
pub mod ui_stream;
pub mod visitor;
pub mod widget;

pub use error::ApiError;
pub use spelling::Spelling;
