//! What a handler reads from the request as Lambda hands it over: path parameters and the
//! body, each refused with the contract's error before anything else is done.

use chat_domain::ApiError;
use chat_domain::input::{ConversationId, within_body_limit};
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

/// The `{conversationId}` path parameter, which must be a UUID (400 otherwise).
pub fn conversation_id(req: &Request) -> Result<ConversationId, ApiError> {
    let raw = req
        .path_parameters_ref()
        .and_then(|p| p.first("conversationId"))
        .ok_or_else(|| ApiError::invalid("conversationId", "conversationId is missing"))?;
    ConversationId::parse(raw, "conversationId")
}

/// The `{messageId}` path parameter, which must be a UUID (400 otherwise).
pub fn message_id(req: &Request) -> Result<uuid::Uuid, ApiError> {
    let raw = req
        .path_parameters_ref()
        .and_then(|p| p.first("messageId"))
        .ok_or_else(|| ApiError::invalid("messageId", "messageId is missing"))?;
    chat_domain::input::parse_uuid(raw, "messageId")
}

/// The first value of the query parameter `name`, when there is one.
pub fn query_param<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.query_string_parameters_ref()
        .and_then(|parameters| parameters.first(name))
}

/// The raw body, refused with 422 when over the API's limit.
pub fn body(req: &Request) -> Result<&[u8], ApiError> {
    within_body_limit(req.body().as_ref())
}

/// The request's `Origin` header, when it is text.
pub fn origin(req: &Request) -> Option<&str> {
    req.headers()
        .get(http::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
}

/// The address the request came from, as API Gateway saw it (`requestContext.identity
/// .sourceIp`); `unknown` when the event has none.
pub fn source_ip(req: &Request) -> String {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => context
            .identity
            .source_ip
            .clone()
            .unwrap_or_else(|| "unknown".to_owned()),
        _ => "unknown".to_owned(),
    }
}
