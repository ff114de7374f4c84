//! The body of `POST /v2/messages/{messageId}/feedback`: `{"feedback": "like" | "dislike" |
//! null}`, the key required (`null` removes the feedback).

use serde_json::Value;

use crate::Spelling;
use crate::error::ApiError;
use crate::input::json_object_body;
use crate::message::Feedback;

/// A valid feedback request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeedbackRequest {
    /// The feedback to store; `None` removes it.
    pub feedback: Option<Feedback>,
}

impl FeedbackRequest {
    /// Parses a feedback body; every refusal is 400 naming `feedback` (or `body`).
    pub fn parse(bytes: &[u8]) -> Result<Self, ApiError> {
        let body = json_object_body(bytes)?
            .ok_or_else(|| ApiError::invalid("body", "the request body must be a JSON object"))?;
        let wrong = || ApiError::invalid("feedback", "feedback must be like, dislike or null");
        let feedback = match body.get("feedback") {
            None => return Err(ApiError::invalid("feedback", "feedback is required")),
            Some(Value::Null) => None,
            Some(Value::String(text)) => Some(Feedback::parse(text).ok_or_else(wrong)?),
            Some(_) => return Err(wrong()),
        };
        Ok(Self { feedback })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_values_and_the_refusals() {
        assert_eq!(
            FeedbackRequest::parse(br#"{"feedback":"like"}"#)
                .unwrap()
                .feedback,
            Some(Feedback::Like)
        );
        assert_eq!(
            FeedbackRequest::parse(br#"{"feedback":"dislike","x":1}"#)
                .unwrap()
                .feedback,
            Some(Feedback::Dislike)
        );
        assert_eq!(
            FeedbackRequest::parse(br#"{"feedback":null}"#)
                .unwrap()
                .feedback,
            None
        );
        for body in [
            &br#"{}"#[..],
            br#"{"feedback":"love"}"#,
            br#"{"feedback":1}"#,
        ] {
            let error = FeedbackRequest::parse(body).unwrap_err();
            assert_eq!(error.status(), 400);
            assert_eq!(error.details().unwrap()["field"], "feedback");
        }
        for body in [&b""[..], b"[]", b"{"] {
            let error = FeedbackRequest::parse(body).unwrap_err();
            assert_eq!(error.details().unwrap()["field"], "body");
        }
    }
}
