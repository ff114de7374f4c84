//! The widget's live sockets (API.md §12, DESIGN.md "Live updates"): the handshake
//! decision every socket server makes (`handshake`: `$connect` on AWS, the local server's
//! upgrade), the push port and its two adapters (`management`: the API Gateway Management
//! API; `in_process`: the local server's own sockets), and the [`Publisher`] that sends a
//! frame to every socket of a conversation. Only the functions that push link this crate
//! (and so the Management API client).

pub mod handshake;
pub mod in_process;
pub mod management;
pub mod port;
pub mod publisher;
pub mod settings;

pub use port::{PushError, PushPort};
pub use publisher::{Delivery, Publisher, Pushing};
