//! What every handler shares at the edge: the frame a request runs in (`respond`: request
//! id, span, error envelope, CORS), reading the request (`request`), storage errors as the
//! contract's (`store_errors`), rate-limit counting (`limits`), the settings and secrets,
//! logging, and the wiring every function's `main` calls (`wiring`).

pub mod api_keys;
pub mod auth;
pub mod cors;
pub mod interrupted;
pub mod limits;
pub mod request;
pub mod request_id;
pub mod respond;
pub mod secrets;
pub mod settings;
pub mod startup_error;
pub mod store_errors;
pub mod telemetry;
pub mod wiring;

pub use startup_error::StartupError;
pub use wiring::{Base, Edge, Handler};
