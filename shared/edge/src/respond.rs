//! The frame every handler runs in: request id, a tracing span, error mapping, and the
//! headers every response carries (`x-request-id`, and CORS's).

use std::time::Instant;

use chat_domain::ApiError;
use http::header::{ALLOW, CONTENT_TYPE, HeaderValue, ORIGIN, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, Response, StatusCode};
use lambda_http::Request;
use serde::Serialize;
use tracing::Instrument;

use crate::cors::Cors;
use crate::request_id::{REQUEST_ID_HEADER, request_id};

/// Runs `handler` for `req` inside a span tagged with the request id, turns its error
/// into the contract's envelope, and stamps `x-request-id`, the CORS headers `cors`
/// calls for, and the headers the handler put in its second argument (rate-limit
/// headers) on whatever comes out: JSON, errors and streams alike.
pub async fn respond<B, F>(req: Request, cors: &Cors, handler: F) -> Response<B>
where
    B: From<String>,
    F: AsyncFnOnce(Request, &mut HeaderMap) -> Result<Response<B>, ApiError>,
{
    let request_id = request_id(&req);
    let origin = req.headers().get(ORIGIN).cloned();
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %req.method(),
        path = %req.uri().path(),
    );
    async move {
        let started = Instant::now();
        let mut extra = HeaderMap::new();
        let mut response = match handler(req, &mut extra).await {
            Ok(response) => response,
            Err(error) => {
                error.log();
                error_response(&error)
            }
        };
        response.headers_mut().extend(extra);
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert(REQUEST_ID_HEADER, value);
        }
        cors.apply(origin.as_ref(), response.headers_mut());
        tracing::info!(
            status = response.status().as_u16(),
            elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
            "request done"
        );
        response
    }
    .instrument(span)
    .await
}

/// A JSON response with `status` and `value` as its body.
pub fn json_response<B: From<String>>(status: StatusCode, value: &impl Serialize) -> Response<B> {
    // Room for a conversation of a few dozen messages up front, instead of growing from
    // empty through a dozen reallocations.
    let mut body = Vec::with_capacity(8 * 1024);
    match serde_json::to_writer(&mut body, value) {
        Ok(()) => {
            let text = String::from_utf8(body).expect("serde_json writes UTF-8");
            let mut response = Response::new(B::from(text));
            *response.status_mut() = status;
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        }
        Err(error) => error_response(&ApiError::internal(error)),
    }
}

/// The contract's JSON envelope for `error`, with `Retry-After` and `WWW-Authenticate`
/// where the code calls for them.
pub fn error_response<B: From<String>>(error: &ApiError) -> Response<B> {
    let mut response = Response::new(B::from(error.envelope().to_string()));
    *response.status_mut() = error.status();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(seconds) = error.retry_after() {
        headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    if let Some(challenge) = error.www_authenticate() {
        headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    }
    if let Some(methods) = error.allow() {
        headers.insert(ALLOW, HeaderValue::from_static(methods));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_their_headers() {
        let response: Response<String> = error_response(&ApiError::RateLimited {
            message: "slow".into(),
            retry_after: 9,
        });
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()[RETRY_AFTER], "9");
        let response: Response<String> = error_response(&ApiError::Unauthorized {
            reason: "none".into(),
            token_presented: false,
        });
        assert_eq!(response.headers()[WWW_AUTHENTICATE], "Bearer");
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
    }
}
