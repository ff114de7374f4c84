//! The body of `POST /v2/conversations/{id}/messages`: the visitor's next message and the
//! page it was sent from. Shape errors are 400 naming the field (dotted inside
//! `pageContext`); limits are 422.

use serde_json::Value;

use crate::error::ApiError;
use crate::input::completion::message_content;
use crate::input::conversations::optional_text;
use crate::input::json_object_body;

pub use crate::input::conversations::MAX_PAGE_URL_CHARS;
/// The longest page title.
pub const MAX_PAGE_TITLE_CHARS: usize = 512;
/// The longest page text.
pub const MAX_PAGE_CONTENT_CHARS: usize = 50_000;
/// The longest selected text.
pub const MAX_TEXT_SELECTION_CHARS: usize = 10_000;

/// What the widget says about the page the visitor is on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageContext {
    /// The page's URL.
    pub url: Option<String>,
    /// Its title.
    pub title: Option<String>,
    /// Its text (never stored).
    pub content: Option<String>,
    /// What the visitor had selected.
    pub text_selection: Option<String>,
}

/// A valid send request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendRequest {
    /// The visitor's message, 1 to 10,000 characters.
    pub content: String,
    /// Stream the answer as a UI message stream.
    pub stream: bool,
    /// The page it was sent from.
    pub page: PageContext,
}

impl SendRequest {
    /// Parses and validates a body.
    pub fn parse(bytes: &[u8]) -> Result<Self, ApiError> {
        let body = json_object_body(bytes)?
            .ok_or_else(|| ApiError::invalid("body", "the request body must be a JSON object"))?;
        let content = message_content(body.get("content"), "content")?;
        let stream = match body.get("stream") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(stream)) => *stream,
            Some(_) => return Err(ApiError::invalid("stream", "stream must be a boolean")),
        };
        let page = match body.get("pageContext") {
            None | Some(Value::Null) => PageContext::default(),
            Some(Value::Object(page)) => PageContext {
                url: optional_text(page.get("url"), "pageContext.url", MAX_PAGE_URL_CHARS)?,
                title: optional_text(page.get("title"), "pageContext.title", MAX_PAGE_TITLE_CHARS)?,
                content: optional_text(
                    page.get("content"),
                    "pageContext.content",
                    MAX_PAGE_CONTENT_CHARS,
                )?,
                text_selection: optional_text(
                    page.get("textSelection"),
                    "pageContext.textSelection",
                    MAX_TEXT_SELECTION_CHARS,
                )?,
            },
            Some(_) => {
                return Err(ApiError::invalid(
                    "pageContext",
                    "pageContext must be an object or null",
                ));
            }
        };
        Ok(Self {
            content,
            stream,
            page,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn refusal(value: Value) -> (u16, String) {
        let error = SendRequest::parse(value.to_string().as_bytes()).unwrap_err();
        let field = error.details().unwrap()["field"]
            .as_str()
            .unwrap()
            .to_owned();
        (error.status().as_u16(), field)
    }

    #[test]
    fn the_widgets_body_parses() {
        let body = json!({"pageContext": {"url": "https://shop.example/", "title": "Shop",
            "content": "Mugs", "textSelection": null}, "content": "Hi", "stream": true});
        let request = SendRequest::parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(request.content, "Hi");
        assert!(request.stream);
        assert_eq!(request.page.title.as_deref(), Some("Shop"));
        assert_eq!(request.page.text_selection, None);
        let minimal = SendRequest::parse(br#"{"content":"x"}"#).unwrap();
        assert_eq!(minimal.page, PageContext::default());
        assert!(!minimal.stream);
    }

    #[test]
    fn refusals_name_the_field_dotted() {
        assert_eq!(refusal(json!({})), (400, "content".into()));
        assert_eq!(refusal(json!({"content": 1})), (400, "content".into()));
        assert_eq!(refusal(json!({"content": ""})), (422, "content".into()));
        assert_eq!(
            refusal(json!({"content": "é".repeat(10_001)})),
            (422, "content".into())
        );
        assert_eq!(
            refusal(json!({"content": "x", "stream": 1})),
            (400, "stream".into())
        );
        assert_eq!(
            refusal(json!({"content": "x", "pageContext": 3})),
            (400, "pageContext".into())
        );
        for (field, max) in [
            ("url", 2_048),
            ("title", 512),
            ("content", 50_000),
            ("textSelection", 10_000),
        ] {
            assert_eq!(
                refusal(json!({"content": "x", "pageContext": {field: "a".repeat(max + 1)}})),
                (422, format!("pageContext.{field}"))
            );
            assert_eq!(
                refusal(json!({"content": "x", "pageContext": {field: 5}})),
                (400, format!("pageContext.{field}"))
            );
            assert!(
                SendRequest::parse(
                    json!({"content": "x", "pageContext": {field: "a".repeat(max)}})
                        .to_string()
                        .as_bytes()
                )
                .is_ok()
            );
        }
    }
}
