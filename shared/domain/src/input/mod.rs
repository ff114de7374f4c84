//! Request input parsed once into types that are valid by construction
//! ("parse, don't validate"): path ids, bodies, and the close request.

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::ApiError;

pub mod agents;
pub mod completion;
pub mod conversations;
pub mod feedback;
pub mod knowledge;
pub mod send;

/// The largest request body accepted, checked before parsing.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The longest close reason, in Unicode characters.
pub const MAX_CLOSE_REASON_CHARS: usize = 256;

/// A conversation id taken from the path: a UUID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConversationId(pub Uuid);

impl ConversationId {
    /// Parses a UUID for `field`, in any of its accepted spellings.
    pub fn parse(raw: &str, field: &str) -> Result<Self, ApiError> {
        parse_uuid(raw, field).map(Self)
    }
}

/// Parses a UUID value for `field` (400 when it is not one).
pub fn parse_uuid(raw: &str, field: &str) -> Result<Uuid, ApiError> {
    // Only the hyphenated form is accepted: it is the one the API writes.
    if raw.len() != 36 {
        return Err(ApiError::invalid(field, format!("{field} must be a UUID")));
    }
    Uuid::parse_str(raw).map_err(|_| ApiError::invalid(field, format!("{field} must be a UUID")))
}

/// `bytes`, refused with 422 when over [`MAX_BODY_BYTES`]: checked before any parsing.
pub fn within_body_limit(bytes: &[u8]) -> Result<&[u8], ApiError> {
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::validation(
            "body",
            format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
        ));
    }
    Ok(bytes)
}

/// Parses a body that must be a JSON object; `None` when the body is empty or blank.
pub fn json_object_body(bytes: &[u8]) -> Result<Option<Map<String, Value>>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(Some(map)),
        Ok(_) => Err(ApiError::invalid(
            "body",
            "the request body must be a JSON object",
        )),
        Err(_) => Err(ApiError::invalid(
            "body",
            "the request body is not valid JSON",
        )),
    }
}

/// Parses a body that must be a JSON object (400 when empty or anything else).
pub fn required_object(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    json_object_body(bytes)?
        .ok_or_else(|| ApiError::invalid("body", "the request body must be a JSON object"))
}

/// A close reason: trimmed, at most [`MAX_CLOSE_REASON_CHARS`] characters, never empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseReason(String);

impl CloseReason {
    /// Parses a reason; an empty or blank one is no reason at all.
    pub fn parse(raw: &str) -> Result<Option<Self>, ApiError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Ok(None);
        }
        let chars = trimmed.chars().count();
        if chars > MAX_CLOSE_REASON_CHARS {
            return Err(ApiError::validation(
                "closeReason",
                format!(
                    "closeReason must be at most {MAX_CLOSE_REASON_CHARS} characters (got {chars})"
                ),
            ));
        }
        Ok(Some(Self(trimmed.to_owned())))
    }

    /// The reason's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The body of a close request: optional, with an optional `closeReason`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CloseRequest {
    /// Why the visitor closed it.
    pub reason: Option<CloseReason>,
}

impl CloseRequest {
    /// Parses a close body: none, empty, `{}` or `{"closeReason": string|null}`.
    pub fn parse(bytes: &[u8]) -> Result<Self, ApiError> {
        let Some(body) = json_object_body(bytes)? else {
            return Ok(Self::default());
        };
        let reason = match body.get("closeReason") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => CloseReason::parse(text)?,
            Some(_) => {
                return Err(ApiError::invalid(
                    "closeReason",
                    "closeReason must be a string or null",
                ));
            }
        };
        Ok(Self { reason })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(error: ApiError) -> (u16, String) {
        let status = error.status().as_u16();
        let field = error.details().unwrap()["field"]
            .as_str()
            .unwrap()
            .to_owned();
        (status, field)
    }

    #[test]
    fn close_bodies_that_mean_no_reason() {
        for body in [
            "",
            "  ",
            "{}",
            r#"{"closeReason": null}"#,
            r#"{"closeReason": "   "}"#,
        ] {
            assert_eq!(
                CloseRequest::parse(body.as_bytes()).unwrap(),
                CloseRequest::default(),
                "{body:?}"
            );
        }
    }

    #[test]
    fn close_reason_is_trimmed_and_counted_in_characters() {
        let parsed =
            CloseRequest::parse(r#"{"closeReason": "  done  ", "other": 1}"#.as_bytes()).unwrap();
        assert_eq!(parsed.reason.unwrap().as_str(), "done");
        let exactly = "é".repeat(256);
        let body = serde_json::json!({ "closeReason": exactly }).to_string();
        assert_eq!(
            CloseRequest::parse(body.as_bytes())
                .unwrap()
                .reason
                .unwrap()
                .as_str(),
            exactly
        );
        let over = serde_json::json!({ "closeReason": "é".repeat(257) }).to_string();
        assert_eq!(
            field_of(CloseRequest::parse(over.as_bytes()).unwrap_err()),
            (422, "closeReason".into())
        );
    }

    #[test]
    fn malformed_close_bodies_are_400_with_their_field() {
        assert_eq!(
            field_of(CloseRequest::parse(b"{not json").unwrap_err()),
            (400, "body".into())
        );
        assert_eq!(
            field_of(CloseRequest::parse(b"[1,2]").unwrap_err()),
            (400, "body".into())
        );
        assert_eq!(
            field_of(CloseRequest::parse(b"\"text\"").unwrap_err()),
            (400, "body".into())
        );
        assert_eq!(
            field_of(CloseRequest::parse(br#"{"closeReason": 5}"#).unwrap_err()),
            (400, "closeReason".into())
        );
    }

    #[test]
    fn uuids_must_be_hyphenated() {
        assert!(parse_uuid("123e4567-e89b-12d3-a456-426614174000", "id").is_ok());
        for bad in [
            "123",
            "123e4567e89b12d3a456426614174000",
            "urn:uuid:123e4567-e89b-12d3-a456-426614174000",
            "zzze4567-e89b-12d3-a456-426614174000",
        ] {
            assert_eq!(
                field_of(parse_uuid(bad, "conversationId").unwrap_err()),
                (400, "conversationId".into())
            );
        }
    }
}
