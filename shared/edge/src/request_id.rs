//! The request id every response carries (`x-request-id`): the caller's when it sent a sane
//! one, else the Lambda request id.

use http::HeaderName;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

/// The header carrying the request id, on every response.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The longest caller-sent request id that is echoed back.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// The request id: the caller's `x-request-id` when it is a sane token, otherwise the
/// Lambda request id (or API Gateway's, or a fresh one when run outside Lambda).
pub fn request_id(req: &Request) -> String {
    if let Some(sent) = req
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_valid_request_id(v))
    {
        return sent.to_owned();
    }
    if let Some(context) = req.lambda_context_ref()
        && !context.request_id.is_empty()
    {
        return context.request_id.clone();
    }
    if let Some(RequestContext::ApiGatewayV1(context)) = req.request_context_ref()
        && let Some(id) = context.request_id.as_deref().filter(|id| !id.is_empty())
    {
        return id.to_owned();
    }
    uuid::Uuid::now_v7().to_string()
}

/// Whether a caller-sent request id may be echoed: short, printable, no separators
/// that could split a header or a log line.
pub fn is_valid_request_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sane_request_ids_are_echoed() {
        assert!(is_valid_request_id("abc-123_x.y:z"));
        assert!(!is_valid_request_id(""));
        assert!(!is_valid_request_id("has space"));
        assert!(!is_valid_request_id("line\nbreak"));
        assert!(!is_valid_request_id(&"a".repeat(129)));
    }

    #[test]
    fn a_caller_request_id_wins_over_a_generated_one() {
        let req = http::Request::builder()
            .header("x-request-id", "client-id-1")
            .body(lambda_http::Body::Empty)
            .unwrap();
        assert_eq!(request_id(&req), "client-id-1");
        let req = http::Request::builder()
            .header("x-request-id", "bad id")
            .body(lambda_http::Body::Empty)
            .unwrap();
        assert_ne!(request_id(&req), "bad id");
    }
}
