//! The body every answer of the local server's listener has: the API's routes, the
//! socket's refusals and its 101.

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};

/// The body type the local server answers with.
pub type LocalBody = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// A body of `bytes`, all at once.
pub fn full(bytes: impl Into<Bytes>) -> LocalBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}
