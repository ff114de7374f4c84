//! The inputs of the conversation routes: the start body, and the query parameters of the
//! conversation list and the message list. Shape errors are 400 naming the parameter;
//! integers out of range are 422.

use serde_json::Value;

use crate::Spelling;
use crate::conversation::ConversationStatus;
use crate::error::ApiError;
use crate::input::json_object_body;
use crate::listing::{ListOrder, OrderDir};
use crate::message::{MessageRole, MessageStatus};

/// The longest `context.pageUrl` of a start request, in characters.
pub const MAX_PAGE_URL_CHARS: usize = 2_048;

/// The most conversations one page of the list holds.
pub const MAX_LIST_LIMIT: u64 = 100;
/// The page size when the client names none.
pub const DEFAULT_LIST_LIMIT: u64 = 10;
/// The most messages one page of the message list holds (also its default).
pub const MAX_MESSAGE_LIST_LIMIT: u64 = 1_000;

/// The body of `POST /v2/conversations`: optional, with an optional page URL.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StartRequest {
    /// The page the visitor started from.
    pub page_url: Option<String>,
}

impl StartRequest {
    /// Parses a start body: none, empty, `{}` or `{"context": {"pageUrl": string|null}}`.
    pub fn parse(bytes: &[u8]) -> Result<Self, ApiError> {
        let Some(body) = json_object_body(bytes)? else {
            return Ok(Self::default());
        };
        let context = match body.get("context") {
            None | Some(Value::Null) => return Ok(Self::default()),
            Some(Value::Object(context)) => context,
            Some(_) => {
                return Err(ApiError::invalid(
                    "context",
                    "context must be an object or null",
                ));
            }
        };
        let page_url = optional_text(
            context.get("pageUrl"),
            "context.pageUrl",
            MAX_PAGE_URL_CHARS,
        )?;
        Ok(Self { page_url })
    }
}

/// A string-or-null field of at most `max` characters: 400 for another type, 422 when
/// longer.
pub fn optional_text(
    value: Option<&Value>,
    field: &str,
    max: usize,
) -> Result<Option<String>, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => {
            let chars = text.chars().count();
            if chars > max {
                return Err(ApiError::validation(
                    field,
                    format!("{field} must be at most {max} characters (got {chars})"),
                ));
            }
            Ok(Some(text.clone()))
        }
        Some(_) => Err(ApiError::invalid(
            field,
            format!("{field} must be a string or null"),
        )),
    }
}

/// Whose conversations a list holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ListScope {
    /// The caller's own: a visitor's, or (for a secret key) the project's own, which no
    /// visitor owns (API.md §9).
    #[default]
    Own,
    /// Every conversation of the project, every visitor's and its own (`scope=project`,
    /// API.md §12: a secret key only).
    Project,
}

impl ListScope {
    /// Parses `scope`: absent is the caller's own; `project` is the only value.
    fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        match raw {
            None => Ok(Self::Own),
            Some("project") => Ok(Self::Project),
            Some(_) => Err(ApiError::invalid("scope", "scope must be project")),
        }
    }
}

/// The query of `GET /v2/conversations`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListQuery {
    /// Whose conversations.
    pub scope: ListScope,
    /// Page size, 1 to [`MAX_LIST_LIMIT`].
    pub limit: u64,
    /// Conversations skipped before the page.
    pub offset: u64,
    /// Only conversations with this status.
    pub status: Option<ConversationStatus>,
    /// What the list is sorted by.
    pub order_by: ListOrder,
    /// Which way.
    pub order_dir: OrderDir,
}

impl ListQuery {
    /// Parses the query parameters `param` looks up (the first value of each).
    pub fn parse<'a>(param: impl Fn(&str) -> Option<&'a str>) -> Result<Self, ApiError> {
        Ok(Self {
            scope: ListScope::parse(param("scope"))?,
            limit: integer(param("limit"), "limit", 1, MAX_LIST_LIMIT)?
                .unwrap_or(DEFAULT_LIST_LIMIT),
            offset: integer(param("offset"), "offset", 0, u64::MAX)?.unwrap_or(0),
            status: spelled(param("status"), "status")?,
            order_by: spelled(param("orderBy"), "orderBy")?.unwrap_or(ListOrder::LastInteractionAt),
            order_dir: spelled(param("orderDir"), "orderDir")?.unwrap_or(OrderDir::Desc),
        })
    }
}

/// The query of `GET /v2/conversations/{id}/messages`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageQuery {
    /// Page size, 1 to [`MAX_MESSAGE_LIST_LIMIT`].
    pub limit: u64,
    /// Matching messages skipped, oldest first, before the page.
    pub offset: u64,
    /// Only messages of this role.
    pub role: Option<MessageRole>,
    /// Only messages with this status.
    pub status: Option<MessageStatus>,
}

impl MessageQuery {
    /// Parses the query parameters `param` looks up (the first value of each).
    pub fn parse<'a>(param: impl Fn(&str) -> Option<&'a str>) -> Result<Self, ApiError> {
        Ok(Self {
            limit: integer(param("limit"), "limit", 1, MAX_MESSAGE_LIST_LIMIT)?
                .unwrap_or(MAX_MESSAGE_LIST_LIMIT),
            offset: integer(param("offset"), "offset", 0, u64::MAX)?.unwrap_or(0),
            role: spelled(param("role"), "role")?,
            status: spelled(param("status"), "status")?,
        })
    }
}

/// An integer parameter: 400 when it is not one (a sign and digits), 422 outside
/// `min..=max` (an integer too large for any count is outside too).
pub(crate) fn integer(
    raw: Option<&str>,
    field: &str,
    min: u64,
    max: u64,
) -> Result<Option<u64>, ApiError> {
    let Some(raw) = raw else { return Ok(None) };
    let digits = raw.strip_prefix(['-', '+']).unwrap_or(raw);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::invalid(
            field,
            format!("{field} must be an integer"),
        ));
    }
    let out_of_range = || {
        let upper = if max == u64::MAX {
            String::new()
        } else {
            format!(" and at most {max}")
        };
        ApiError::validation(field, format!("{field} must be at least {min}{upper}"))
    };
    if raw.starts_with('-') && digits.bytes().any(|b| b != b'0') {
        return Err(out_of_range());
    }
    let value = match digits.parse::<u64>() {
        Ok(value) => value,
        // Past every count, but in an unbounded range (an offset): it skips everything.
        Err(_) if max == u64::MAX => u64::MAX,
        Err(_) => return Err(out_of_range()),
    };
    if value < min || value > max {
        return Err(out_of_range());
    }
    Ok(Some(value))
}

/// An enum parameter: 400 naming it when the value is not one of its spellings.
fn spelled<T: Spelling + strum::VariantNames>(
    raw: Option<&str>,
    field: &str,
) -> Result<Option<T>, ApiError> {
    raw.map(|text| {
        T::parse(text).ok_or_else(|| {
            ApiError::invalid(
                field,
                format!("{field} must be one of {}", T::VARIANTS.join(", ")),
            )
        })
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn status_and_field(error: ApiError) -> (u16, String) {
        let field = error.details().unwrap()["field"]
            .as_str()
            .unwrap()
            .to_owned();
        (error.status().as_u16(), field)
    }

    fn list(pairs: &[(&str, &str)]) -> Result<ListQuery, ApiError> {
        let map: HashMap<&str, &str> = pairs.iter().copied().collect();
        ListQuery::parse(|name| map.get(name).copied())
    }

    #[test]
    fn start_bodies() {
        for body in ["", "{}", r#"{"context": null}"#, r#"{"context": {}}"#] {
            assert_eq!(
                StartRequest::parse(body.as_bytes()).unwrap(),
                StartRequest::default()
            );
        }
        let url = "u".repeat(2_048);
        let body = serde_json::json!({"context": {"pageUrl": url}}).to_string();
        assert_eq!(
            StartRequest::parse(body.as_bytes()).unwrap().page_url,
            Some(url)
        );
        let over = serde_json::json!({"context": {"pageUrl": "é".repeat(2_049)}}).to_string();
        assert_eq!(
            status_and_field(StartRequest::parse(over.as_bytes()).unwrap_err()),
            (422, "context.pageUrl".into())
        );
        assert_eq!(
            status_and_field(StartRequest::parse(br#"{"context": {"pageUrl": 3}}"#).unwrap_err()),
            (400, "context.pageUrl".into())
        );
        assert_eq!(
            status_and_field(StartRequest::parse(br#"{"context": "x"}"#).unwrap_err()),
            (400, "context".into())
        );
        assert_eq!(
            status_and_field(StartRequest::parse(b"[]").unwrap_err()),
            (400, "body".into())
        );
    }

    #[test]
    fn list_defaults_and_every_parameter() {
        let query = list(&[]).unwrap();
        assert_eq!((query.limit, query.offset, query.status), (10, 0, None));
        assert_eq!(query.order_by, ListOrder::LastInteractionAt);
        assert_eq!(query.order_dir, OrderDir::Desc);
        assert_eq!(query.scope, ListScope::Own);
        let query = list(&[
            ("scope", "project"),
            ("limit", "100"),
            ("offset", "7"),
            ("status", "closed"),
            ("orderBy", "isHumanHandled"),
            ("orderDir", "asc"),
        ])
        .unwrap();
        assert_eq!((query.limit, query.offset), (100, 7));
        assert_eq!(query.status, Some(ConversationStatus::Closed));
        assert_eq!(query.order_by, ListOrder::IsHumanHandled);
        assert_eq!(query.order_dir, OrderDir::Asc);
        assert_eq!(query.scope, ListScope::Project);
        for scope in ["", "Project", "visitor", "own"] {
            assert_eq!(
                status_and_field(list(&[("scope", scope)]).unwrap_err()),
                (400, "scope".into()),
                "{scope:?}"
            );
        }
    }

    #[test]
    fn non_integers_are_400_and_out_of_range_integers_422() {
        for (name, value, expected) in [
            ("limit", "abc", 400),
            ("limit", "1.5", 400),
            ("limit", "", 400),
            ("limit", "0x10", 400),
            ("limit", "0", 422),
            ("limit", "101", 422),
            ("limit", "-3", 422),
            ("limit", "99999999999999999999999", 422),
            ("offset", "-1", 422),
            ("offset", "x", 400),
            ("status", "archived", 400),
            ("orderBy", "name", 400),
            ("orderDir", "up", 400),
        ] {
            assert_eq!(
                status_and_field(list(&[(name, value)]).unwrap_err()),
                (expected, name.to_owned()),
                "{name}={value}"
            );
        }
        assert_eq!(list(&[("offset", "-0")]).unwrap().offset, 0);
        assert_eq!(
            list(&[("offset", "557486674504255390351360")])
                .unwrap()
                .offset,
            u64::MAX
        );
    }

    #[test]
    fn message_query_defaults_to_a_thousand_and_filters() {
        let map: HashMap<&str, &str> = [("role", "human_agent"), ("status", "error")].into();
        let query = MessageQuery::parse(|n| map.get(n).copied()).unwrap();
        assert_eq!(query.limit, 1_000);
        assert_eq!(query.role, Some(MessageRole::HumanAgent));
        assert_eq!(query.status, Some(MessageStatus::Error));
        let map: HashMap<&str, &str> = [("limit", "1001")].into();
        assert_eq!(
            status_and_field(MessageQuery::parse(|n| map.get(n).copied()).unwrap_err()),
            (422, "limit".into())
        );
        let map: HashMap<&str, &str> = [("role", "system")].into();
        assert_eq!(
            status_and_field(MessageQuery::parse(|n| map.get(n).copied()).unwrap_err()),
            (400, "role".into())
        );
    }
}
