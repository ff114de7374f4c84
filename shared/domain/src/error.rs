//! The API's error type: one variant per error code of the contract, each knowing its
//! status, message and details. Internal causes are kept for the log, never for the client.

use http::StatusCode;
use serde_json::{Value, json};

/// A boxed cause kept for logging.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Every way a request can fail, as the client sees it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body or a path parameter is not of the expected shape.
    #[error("{message}")]
    InvalidRequestBody {
        /// The offending field, dotted and indexed (`messages[2].role`), or `body`.
        field: String,
        /// What was wrong, for the client.
        message: String,
    },
    /// 401: no valid session token. The reason goes to the log only.
    #[error("unauthorized: {reason}")]
    Unauthorized {
        /// Why the token was refused, for the log.
        reason: String,
        /// Whether a token was presented at all (RFC 6750 `error="invalid_token"`).
        token_presented: bool,
    },
    /// 401: an API key (in a query or body) that is unknown, malformed or revoked: one
    /// answer for all three, so nothing tells them apart.
    #[error("invalid API key: {reason}")]
    InvalidApiKey {
        /// Why, for the log.
        reason: &'static str,
        /// The parameter or field that carried it (`apiKey`).
        field: &'static str,
    },
    /// 402: the project's plan does not include the feature.
    #[error("the {current_plan} plan does not include {feature}")]
    PaymentRequired {
        /// The project's plan.
        current_plan: String,
        /// The plan that includes the feature.
        required_plan: String,
        /// The feature asked for.
        feature: String,
    },
    /// 403: the conversation belongs to another visitor of the same project.
    #[error("Access denied to this conversation")]
    Forbidden,
    /// 403: a browser page whose origin the publishable key does not allow.
    #[error("Origin not allowed for this API key")]
    OriginNotAllowed,
    /// 403: a credential of the wrong kind for the route (a secret key on a route for
    /// visitors, a session token on one for agents).
    #[error("{0}")]
    WrongCredential(&'static str),
    /// 404: no such conversation in the caller's project.
    #[error("Conversation not found!")]
    ConversationNotFound {
        /// The id that was asked for.
        conversation_id: String,
    },
    /// 404: no such message in the caller's project.
    #[error("Message not found!")]
    MessageNotFound {
        /// The id that was asked for.
        message_id: String,
    },
    /// 404: no such knowledge source or Q&A pair in the caller's project, or a project id
    /// that is not the caller's (API.md Part 3).
    #[error("Resource not found!")]
    NotFound {
        /// `source`, `qna` or `project`.
        resource: &'static str,
        /// The id that was asked for.
        id: String,
    },
    /// 404: no route has this path.
    #[error("No such route")]
    RouteNotFound,
    /// 405: the path is a route's, for other methods.
    #[error("Method not allowed on this route")]
    MethodNotAllowed {
        /// The methods it takes, for `Allow` (`GET,OPTIONS`).
        allow: &'static str,
    },
    /// 409: the request collides with the resource's state.
    #[error("{message}")]
    Conflict {
        /// Human text.
        message: String,
        /// The resource in conflict.
        resource: &'static str,
        /// The field whose value conflicts.
        conflicting_field: &'static str,
    },
    /// 422: a well-formed value breaks a limit.
    #[error("{reason}")]
    Validation {
        /// The offending field.
        field: String,
        /// Human text saying which limit.
        reason: String,
    },
    /// 429: a rate limit or quota is exhausted.
    #[error("{message}")]
    RateLimited {
        /// Human text naming the limit.
        message: String,
        /// Seconds until the limit resets.
        retry_after: u64,
    },
    /// 500: a bug or an unexpected failure.
    #[error("internal error: {0}")]
    Internal(#[source] Cause),
    /// 502: the model provider failed or answered nonsense.
    #[error("model provider failed: {0}")]
    BadGateway(#[source] Cause),
    /// 503: the database or the provider is throttling or down, after retries.
    #[error("dependency unavailable: {cause}")]
    ServiceUnavailable {
        /// Seconds the client should wait.
        retry_after: u64,
        /// What failed, for the log.
        #[source]
        cause: Cause,
    },
}

impl ApiError {
    /// A 400 for `field` with a client-facing message.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidRequestBody {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A 422 for `field` with the broken limit.
    pub fn validation(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Validation {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// A 500 from any error, kept for the log.
    pub fn internal(cause: impl Into<Cause>) -> Self {
        Self::Internal(cause.into())
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidRequestBody { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized { .. } | Self::InvalidApiKey { .. } => StatusCode::UNAUTHORIZED,
            Self::PaymentRequired { .. } => StatusCode::PAYMENT_REQUIRED,
            Self::Forbidden | Self::OriginNotAllowed | Self::WrongCredential(_) => {
                StatusCode::FORBIDDEN
            }
            Self::ConversationNotFound { .. }
            | Self::MessageNotFound { .. }
            | Self::NotFound { .. }
            | Self::RouteNotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::BadGateway(_) => StatusCode::BAD_GATEWAY,
            Self::ServiceUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The contract's `code` string.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequestBody { .. } => "INVALID_REQUEST_BODY",
            Self::Unauthorized { .. } | Self::InvalidApiKey { .. } => "UNAUTHORIZED",
            Self::PaymentRequired { .. } => "PAYMENT_REQUIRED",
            Self::Forbidden | Self::OriginNotAllowed | Self::WrongCredential(_) => "FORBIDDEN",
            Self::ConversationNotFound { .. } => "CONVERSATION_NOT_FOUND",
            Self::MessageNotFound { .. } => "MESSAGE_NOT_FOUND",
            Self::RouteNotFound | Self::NotFound { .. } => "NOT_FOUND",
            Self::MethodNotAllowed { .. } => "METHOD_NOT_ALLOWED",
            Self::Conflict { .. } => "CONFLICT",
            Self::Validation { .. } => "VALIDATION_ERROR",
            Self::RateLimited { .. } => "RATE_LIMIT_EXCEEDED",
            Self::Internal(_) => "INTERNAL_SERVER_ERROR",
            Self::BadGateway(_) => "BAD_GATEWAY",
            Self::ServiceUnavailable { .. } => "SERVICE_UNAVAILABLE",
        }
    }

    /// The message the client sees: never an internal cause.
    pub fn client_message(&self) -> String {
        match self {
            Self::Unauthorized { .. } => "Invalid or missing session token".to_owned(),
            Self::InvalidApiKey { .. } => "Invalid API key".to_owned(),
            Self::PaymentRequired { .. } => {
                "This assistant requires a higher plan than the project has".to_owned()
            }
            Self::Internal(_) => "An internal server error occurred".to_owned(),
            Self::BadGateway(_) => "The AI model service failed to respond".to_owned(),
            Self::ServiceUnavailable { .. } => {
                "The service is temporarily unavailable, please retry later".to_owned()
            }
            other => other.to_string(),
        }
    }

    /// The `details` object, when the contract gives this code one.
    pub fn details(&self) -> Option<Value> {
        match self {
            Self::InvalidRequestBody { field, .. } => Some(json!({ "field": field })),
            Self::PaymentRequired {
                current_plan,
                required_plan,
                feature,
            } => Some(json!({
                "currentPlan": current_plan,
                "requiredPlan": required_plan,
                "feature": feature,
            })),
            Self::ConversationNotFound { conversation_id } => {
                Some(json!({ "conversationId": conversation_id }))
            }
            Self::MessageNotFound { message_id } => Some(json!({ "messageId": message_id })),
            Self::NotFound { resource, id } => Some(json!({ "resource": resource, "id": id })),
            Self::Conflict {
                resource,
                conflicting_field,
                ..
            } => Some(json!({ "resource": resource, "conflictingField": conflicting_field })),
            Self::Validation { field, reason } => Some(json!({ "field": field, "reason": reason })),
            Self::RateLimited { retry_after, .. }
            | Self::ServiceUnavailable { retry_after, .. } => {
                Some(json!({ "retryAfter": retry_after }))
            }
            Self::BadGateway(_) => Some(json!({ "service": "ai_model_service" })),
            Self::Unauthorized { .. }
            | Self::InvalidApiKey { .. }
            | Self::OriginNotAllowed
            | Self::WrongCredential(_)
            | Self::Forbidden
            | Self::RouteNotFound
            | Self::MethodNotAllowed { .. }
            | Self::Internal(_) => None,
        }
    }

    /// Seconds for a `Retry-After` header, for the codes that carry one.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after, .. }
            | Self::ServiceUnavailable { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// The methods for `Allow`, on a 405.
    pub fn allow(&self) -> Option<&'static str> {
        match self {
            Self::MethodNotAllowed { allow } => Some(allow),
            _ => None,
        }
    }

    /// The `WWW-Authenticate` challenge of a 401 (RFC 6750).
    pub fn www_authenticate(&self) -> Option<&'static str> {
        match self {
            Self::Unauthorized {
                token_presented: false,
                ..
            } => Some("Bearer"),
            Self::Unauthorized {
                token_presented: true,
                ..
            } => Some("Bearer error=\"invalid_token\""),
            _ => None,
        }
    }

    /// The JSON envelope `{"error": {...}}` of the contract.
    pub fn envelope(&self) -> Value {
        let mut error = json!({ "message": self.client_message(), "code": self.code() });
        if let Some(details) = self.details() {
            error["details"] = details;
        }
        json!({ "error": error })
    }

    /// Writes the error to the log at a level fitting its class: causes of 5xx in full.
    pub fn log(&self) {
        match self {
            Self::Internal(_) | Self::BadGateway(_) | Self::ServiceUnavailable { .. } => {
                tracing::error!(status = self.status().as_u16(), code = self.code(), error = %DisplayChain(self), "request failed");
            }
            Self::Unauthorized { reason, .. } => {
                tracing::info!(status = 401, code = self.code(), reason = %reason, "request refused");
            }
            Self::InvalidApiKey { reason, field } => {
                tracing::info!(status = 401, code = self.code(), reason = %reason, field = %field, "request refused");
            }
            _ => {
                tracing::info!(status = self.status().as_u16(), code = self.code(), error = %self, "request refused");
            }
        }
    }
}

/// Displays an error with its chain of sources, for the log.
pub struct DisplayChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for DisplayChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_contract_status() {
        let cases: Vec<(ApiError, u16, &str)> = vec![
            (ApiError::invalid("body", "x"), 400, "INVALID_REQUEST_BODY"),
            (
                ApiError::Unauthorized {
                    reason: "x".into(),
                    token_presented: false,
                },
                401,
                "UNAUTHORIZED",
            ),
            (
                ApiError::PaymentRequired {
                    current_plan: "free".into(),
                    required_plan: "pro".into(),
                    feature: "advanced_ai_models".into(),
                },
                402,
                "PAYMENT_REQUIRED",
            ),
            (ApiError::Forbidden, 403, "FORBIDDEN"),
            (ApiError::OriginNotAllowed, 403, "FORBIDDEN"),
            (ApiError::WrongCredential("x"), 403, "FORBIDDEN"),
            (
                ApiError::InvalidApiKey {
                    reason: "unknown",
                    field: "apiKey",
                },
                401,
                "UNAUTHORIZED",
            ),
            (ApiError::RouteNotFound, 404, "NOT_FOUND"),
            (
                ApiError::MethodNotAllowed {
                    allow: "GET,OPTIONS",
                },
                405,
                "METHOD_NOT_ALLOWED",
            ),
            (
                ApiError::ConversationNotFound {
                    conversation_id: "x".into(),
                },
                404,
                "CONVERSATION_NOT_FOUND",
            ),
            (
                ApiError::Conflict {
                    message: "x".into(),
                    resource: "conversation",
                    conflicting_field: "status",
                },
                409,
                "CONFLICT",
            ),
            (
                ApiError::MessageNotFound {
                    message_id: "x".into(),
                },
                404,
                "MESSAGE_NOT_FOUND",
            ),
            (ApiError::validation("f", "r"), 422, "VALIDATION_ERROR"),
            (
                ApiError::RateLimited {
                    message: "x".into(),
                    retry_after: 3,
                },
                429,
                "RATE_LIMIT_EXCEEDED",
            ),
            (ApiError::internal("boom"), 500, "INTERNAL_SERVER_ERROR"),
            (ApiError::BadGateway("boom".into()), 502, "BAD_GATEWAY"),
            (
                ApiError::ServiceUnavailable {
                    retry_after: 2,
                    cause: "boom".into(),
                },
                503,
                "SERVICE_UNAVAILABLE",
            ),
        ];
        for (error, status, code) in cases {
            assert_eq!(error.status().as_u16(), status, "{code}");
            assert_eq!(error.code(), code);
            assert_eq!(error.envelope()["error"]["code"], code);
        }
    }

    #[test]
    fn internal_causes_never_reach_the_envelope() {
        let error = ApiError::internal("dynamodb said: secret table name");
        let text = error.envelope().to_string();
        assert!(!text.contains("secret"), "{text}");
        assert_eq!(
            error.envelope(),
            json!({"error": {"message": "An internal server error occurred", "code": "INTERNAL_SERVER_ERROR"}})
        );
    }

    #[test]
    fn not_found_and_forbidden_say_the_contract_messages() {
        let not_found = ApiError::ConversationNotFound {
            conversation_id: "123e4567-e89b-12d3-a456-426614174000".into(),
        };
        assert_eq!(
            not_found.envelope(),
            json!({"error": {"message": "Conversation not found!", "code": "CONVERSATION_NOT_FOUND",
                "details": {"conversationId": "123e4567-e89b-12d3-a456-426614174000"}}})
        );
        assert_eq!(
            ApiError::Forbidden.envelope(),
            json!({"error": {"message": "Access denied to this conversation", "code": "FORBIDDEN"}})
        );
    }

    #[test]
    fn retry_after_is_in_details_for_429_and_503() {
        let limited = ApiError::RateLimited {
            message: "slow down".into(),
            retry_after: 17,
        };
        assert_eq!(limited.retry_after(), Some(17));
        assert_eq!(limited.envelope()["error"]["details"]["retryAfter"], 17);
    }
}
