//! The widget's live sockets (API.md §12, DESIGN.md "Live updates"): the handshake
//! decision every socket server makes (`handshake`: `$connect` on AWS, the local server's
//! upgrade), the push port and its two adapters (`management`: the API Gateway Management
//! API; `in_process`: the local server's own sockets), and the [`Publisher`] that sends a
//! frame to every socket of a conversation. The Management API adapter is behind the
//! `management` feature, which only the functions that push turn on.

pub mod handshake;
pub mod in_process;
#[cfg(feature = "management")]
pub mod management;
pub mod port;
pub mod publisher;
pub mod settings;

pub use port::{PushError, PushPort};
pub use publisher::{Delivery, Publisher};
