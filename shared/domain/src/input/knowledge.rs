//! The inputs of the knowledge routes (API.md Part 3): a source's body and its changes, a
//! Q&A pair's, the list windows and the search query. Shape errors are 400 naming the
//! field (an unknown enum value too, as §1 says); a well-formed value that breaks a limit is
//! 422.

use serde_json::{Map, Value};

use crate::Spelling;
use crate::error::ApiError;
use crate::input::conversations::integer;
use crate::input::required_object;
use crate::knowledge::{DocumentType, PageStatus, Schedule, SourceKind};

/// The largest body of the source routes: a document's content rides in it.
pub const MAX_SOURCE_BODY_BYTES: usize = 4 * 1024 * 1024;
/// The longest document content, in characters.
pub const MAX_DOCUMENT_CHARS: usize = 1_000_000;
/// The longest document title, in characters.
pub const MAX_DOCUMENT_TITLE_CHARS: usize = 300;
/// The longest source name, in characters.
pub const MAX_SOURCE_NAME_CHARS: usize = 200;
/// The longest URL taken, in characters.
pub const MAX_URL_CHARS: usize = 2_048;
/// The most globs in `include`, in `exclude`, and sitemaps in `sitemapUrls`.
pub const MAX_LIST_ENTRIES: usize = 50;
/// The longest glob, in characters.
pub const MAX_GLOB_CHARS: usize = 500;
/// The longest question of a pair, in characters.
pub const MAX_QUESTION_CHARS: usize = 500;
/// The longest answer of a pair, in characters.
pub const MAX_ANSWER_CHARS: usize = 10_000;
/// The longest search query, in characters.
pub const MAX_QUERY_CHARS: usize = 500;
/// The most search results asked for.
pub const MAX_SEARCH_SIZE: u64 = 50;
/// The search size when none is named.
pub const DEFAULT_SEARCH_SIZE: u64 = 10;
/// The most items one page of a knowledge list holds.
pub const MAX_KNOWLEDGE_LIST_LIMIT: u64 = 100;
/// The page size when none is named.
pub const DEFAULT_KNOWLEDGE_LIST_LIMIT: u64 = 20;

/// `limit` and `offset` of a list (§9's paging).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListWindow {
    /// 1–100, default 20.
    pub limit: u64,
    /// Items skipped.
    pub offset: u64,
}

impl ListWindow {
    /// Reads `limit` and `offset` through `param`.
    pub fn parse<'a>(param: impl Fn(&str) -> Option<&'a str>) -> Result<Self, ApiError> {
        Ok(Self {
            limit: integer(param("limit"), "limit", 1, MAX_KNOWLEDGE_LIST_LIMIT)?
                .unwrap_or(DEFAULT_KNOWLEDGE_LIST_LIMIT),
            offset: integer(param("offset"), "offset", 0, u64::MAX)?.unwrap_or(0),
        })
    }

    /// The window's part of `items`.
    pub fn of<T>(self, items: Vec<T>) -> Vec<T> {
        let offset = usize::try_from(self.offset).unwrap_or(usize::MAX);
        let limit = usize::try_from(self.limit).unwrap_or(usize::MAX);
        items.into_iter().skip(offset).take(limit).collect()
    }
}

/// The query of a source's page list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageListQuery {
    /// Which part of the list.
    pub window: ListWindow,
    /// Only pages with this status.
    pub status: Option<PageStatus>,
}

impl PageListQuery {
    /// Reads `limit`, `offset` and `status` through `param`.
    pub fn parse<'a>(param: impl Fn(&str) -> Option<&'a str>) -> Result<Self, ApiError> {
        let status = match param("status") {
            None => None,
            Some(raw) => Some(PageStatus::parse(raw).ok_or_else(|| {
                ApiError::invalid("status", "status must be indexed, skipped or failed")
            })?),
        };
        Ok(Self {
            window: ListWindow::parse(param)?,
            status,
        })
    }
}

/// `GET /v2/search`'s query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchQuery {
    /// The question, 1–500 characters.
    pub q: String,
    /// Results wanted, 1–50.
    pub size: usize,
}

impl SearchQuery {
    /// Reads `q` and `size`: a missing or blank `q` is 400, a longer one 422.
    pub fn parse<'a>(param: impl Fn(&str) -> Option<&'a str>) -> Result<Self, ApiError> {
        let q = param("q").unwrap_or_default();
        if q.trim().is_empty() {
            return Err(ApiError::invalid("q", "q is required"));
        }
        let chars = q.chars().count();
        if chars > MAX_QUERY_CHARS {
            return Err(ApiError::validation(
                "q",
                format!("q must be at most {MAX_QUERY_CHARS} characters (got {chars})"),
            ));
        }
        let size =
            integer(param("size"), "size", 1, MAX_SEARCH_SIZE)?.unwrap_or(DEFAULT_SEARCH_SIZE);
        Ok(Self {
            q: q.to_owned(),
            size: usize::try_from(size).unwrap_or(10),
        })
    }
}

/// A website's settings, as a body gives them (the URL is normalized by the caller).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WebsiteFields {
    /// The start URL as given.
    pub url: Option<String>,
    /// More sitemaps.
    pub sitemap_urls: Option<Vec<String>>,
    /// Path globs crawled besides the start path.
    pub include: Option<Vec<String>>,
    /// Path globs never crawled.
    pub exclude: Option<Vec<String>>,
    /// The page cap (checked against the plan's by the caller).
    pub max_pages: Option<u32>,
}

/// A document, as a body gives it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DocumentFields {
    /// Its title.
    pub title: Option<String>,
    /// Its text.
    pub content: Option<String>,
    /// Its format.
    pub content_type: Option<DocumentType>,
    /// The URL to cite: `Some(None)` clears it.
    pub url: Option<Option<String>>,
}

/// The body of `POST /v2/knowledge/sources`, or of a PATCH (every field optional).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFields {
    /// Website or document (a PATCH names none).
    pub kind: Option<SourceKind>,
    /// The name: `Some(None)` clears it.
    pub name: Option<Option<String>>,
    /// The schedule.
    pub schedule: Option<Schedule>,
    /// A website's fields.
    pub website: WebsiteFields,
    /// A document's fields.
    pub document: DocumentFields,
}

impl SourceFields {
    /// Parses a new source: `type` is required, and so are a website's `url` and a
    /// document's `title` and `content`; fields of the other type are refused (422).
    pub fn parse_new(bytes: &[u8]) -> Result<Self, ApiError> {
        let body = within_source_limit(bytes).and_then(required_object)?;
        let kind = match body.get("type") {
            None | Some(Value::Null) => return Err(ApiError::invalid("type", "type is required")),
            Some(Value::String(kind)) => SourceKind::parse(kind)
                .ok_or_else(|| ApiError::invalid("type", "type must be website or document"))?,
            Some(_) => return Err(ApiError::invalid("type", "type must be a string")),
        };
        let fields = Self::read(&body, Some(kind))?;
        match kind {
            SourceKind::Website if fields.website.url.is_none() => {
                Err(ApiError::invalid("url", "a website source needs its url"))
            }
            SourceKind::Document if fields.document.title.is_none() => Err(ApiError::invalid(
                "title",
                "a document source needs its title",
            )),
            SourceKind::Document if fields.document.content.is_none() => Err(ApiError::invalid(
                "content",
                "a document source needs its content",
            )),
            _ => Ok(fields),
        }
    }

    /// Parses a change to a source of `kind`: fields of the other type are refused (422);
    /// `type` may not change.
    pub fn parse_patch(bytes: &[u8], kind: SourceKind) -> Result<Self, ApiError> {
        let body = within_source_limit(bytes).and_then(required_object)?;
        match body.get("type") {
            None | Some(Value::Null) => {}
            Some(Value::String(given)) if given == kind.as_str() => {}
            Some(_) => {
                return Err(ApiError::validation(
                    "type",
                    "a source's type cannot change",
                ));
            }
        }
        Self::read(&body, Some(kind))
    }

    fn read(body: &Map<String, Value>, kind: Option<SourceKind>) -> Result<Self, ApiError> {
        let only_for = |field: &str, wanted: SourceKind| -> Result<(), ApiError> {
            if body.get(field).is_some_and(|v| !v.is_null()) && kind != Some(wanted) {
                return Err(ApiError::validation(
                    field,
                    format!("{field} applies only to a {} source", wanted.as_str()),
                ));
            }
            Ok(())
        };
        for field in ["sitemapUrls", "include", "exclude", "maxPages"] {
            only_for(field, SourceKind::Website)?;
        }
        for field in ["title", "content", "contentType"] {
            only_for(field, SourceKind::Document)?;
        }
        let name = nullable_text(body, "name", MAX_SOURCE_NAME_CHARS)?;
        let schedule = match body.get("schedule") {
            None | Some(Value::Null) => None,
            Some(Value::String(raw)) => Some(Schedule::parse(raw).ok_or_else(|| {
                ApiError::invalid(
                    "schedule",
                    "schedule must be 6h, 12h, daily, weekly or manual",
                )
            })?),
            Some(_) => return Err(ApiError::invalid("schedule", "schedule must be a string")),
        };
        let url = nullable_text(body, "url", MAX_URL_CHARS)?;
        let mut fields = Self {
            kind,
            name,
            schedule,
            website: WebsiteFields::default(),
            document: DocumentFields::default(),
        };
        match kind {
            Some(SourceKind::Website) => {
                fields.website = WebsiteFields {
                    url: match url {
                        Some(None) => {
                            return Err(ApiError::invalid("url", "a website's url cannot be null"));
                        }
                        other => other.flatten(),
                    },
                    sitemap_urls: strings(body, "sitemapUrls", MAX_URL_CHARS)?,
                    include: globs(body, "include")?,
                    exclude: globs(body, "exclude")?,
                    max_pages: match body.get("maxPages") {
                        None | Some(Value::Null) => None,
                        Some(Value::Number(n)) => match n.as_u64() {
                            Some(n) if n >= 1 => Some(u32::try_from(n).unwrap_or(u32::MAX)),
                            _ if n.is_f64() && n.as_f64().is_some_and(|f| f.fract() != 0.0) => {
                                return Err(ApiError::invalid(
                                    "maxPages",
                                    "maxPages must be an integer",
                                ));
                            }
                            _ => {
                                return Err(ApiError::validation(
                                    "maxPages",
                                    "maxPages must be at least 1",
                                ));
                            }
                        },
                        Some(_) => {
                            return Err(ApiError::invalid(
                                "maxPages",
                                "maxPages must be an integer",
                            ));
                        }
                    },
                };
            }
            Some(SourceKind::Document) => {
                fields.document = DocumentFields {
                    title: required_text(body, "title", MAX_DOCUMENT_TITLE_CHARS)?,
                    content: required_text(body, "content", MAX_DOCUMENT_CHARS)?,
                    content_type: match body.get("contentType") {
                        None | Some(Value::Null) => None,
                        Some(Value::String(raw)) => {
                            Some(DocumentType::parse(raw).ok_or_else(|| {
                                ApiError::invalid(
                                    "contentType",
                                    "contentType must be text/markdown, text/plain or text/html",
                                )
                            })?)
                        }
                        Some(_) => {
                            return Err(ApiError::invalid(
                                "contentType",
                                "contentType must be a string",
                            ));
                        }
                    },
                    url,
                };
            }
            None => {}
        }
        Ok(fields)
    }
}

/// A Q&A pair's body: both fields for a new pair, either for a change.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QnaFields {
    /// The question, 1–500 characters.
    pub question: Option<String>,
    /// The answer, 1–10,000 characters.
    pub answer: Option<String>,
}

impl QnaFields {
    /// Parses a new pair: both fields required.
    pub fn parse_new(bytes: &[u8]) -> Result<Self, ApiError> {
        let fields = Self::parse_patch(bytes)?;
        if fields.question.is_none() {
            return Err(ApiError::invalid("question", "question is required"));
        }
        if fields.answer.is_none() {
            return Err(ApiError::invalid("answer", "answer is required"));
        }
        Ok(fields)
    }

    /// Parses a change: either field, or both.
    pub fn parse_patch(bytes: &[u8]) -> Result<Self, ApiError> {
        let body = crate::input::within_body_limit(bytes).and_then(required_object)?;
        Ok(Self {
            question: required_text(&body, "question", MAX_QUESTION_CHARS)?,
            answer: required_text(&body, "answer", MAX_ANSWER_CHARS)?,
        })
    }
}

fn within_source_limit(bytes: &[u8]) -> Result<&[u8], ApiError> {
    if bytes.len() > MAX_SOURCE_BODY_BYTES {
        return Err(ApiError::validation(
            "content",
            format!("the request body is larger than {MAX_SOURCE_BODY_BYTES} bytes"),
        ));
    }
    Ok(bytes)
}

/// A string field that, when present, holds 1 to `max` characters (blank is 422 as too
/// short); `null` is as absent.
fn required_text(
    body: &Map<String, Value>,
    field: &str,
    max: usize,
) -> Result<Option<String>, ApiError> {
    match nullable_text(body, field, max)? {
        Some(Some(text)) => Ok(Some(text)),
        _ => Ok(None),
    }
}

/// A string-or-null field: `None` absent, `Some(None)` null, else 1 to `max` characters
/// with something besides blanks.
fn nullable_text(
    body: &Map<String, Value>,
    field: &str,
    max: usize,
) -> Result<Option<Option<String>>, ApiError> {
    match body.get(field) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(text)) => {
            let chars = text.chars().count();
            if text.trim().is_empty() || chars > max {
                return Err(ApiError::validation(
                    field,
                    format!("{field} must be 1 to {max} characters, not only blanks (got {chars})"),
                ));
            }
            Ok(Some(Some(text.clone())))
        }
        Some(_) => Err(ApiError::invalid(
            field,
            format!("{field} must be a string"),
        )),
    }
}

/// An array of at most [`MAX_LIST_ENTRIES`] non-blank strings of at most `max` characters.
fn strings(
    body: &Map<String, Value>,
    field: &str,
    max: usize,
) -> Result<Option<Vec<String>>, ApiError> {
    let items = match body.get(field) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(ApiError::invalid(
                field,
                format!("{field} must be an array of strings"),
            ));
        }
    };
    if items.len() > MAX_LIST_ENTRIES {
        return Err(ApiError::validation(
            field,
            format!("{field} holds at most {MAX_LIST_ENTRIES} entries"),
        ));
    }
    items
        .iter()
        .map(|item| match item {
            Value::String(text) if !text.trim().is_empty() && text.chars().count() <= max => {
                Ok(text.trim().to_owned())
            }
            Value::String(_) => Err(ApiError::validation(
                field,
                format!("each entry of {field} must be 1 to {max} characters"),
            )),
            _ => Err(ApiError::invalid(
                field,
                format!("{field} must be an array of strings"),
            )),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Path globs: strings that start with `/`.
fn globs(body: &Map<String, Value>, field: &str) -> Result<Option<Vec<String>>, ApiError> {
    let globs = strings(body, field, MAX_GLOB_CHARS)?;
    if let Some(bad) = globs.iter().flatten().find(|g| !g.starts_with('/')) {
        return Err(ApiError::validation(
            field,
            format!("{field} holds path globs, which start with '/' (got {bad:?})"),
        ));
    }
    Ok(globs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    fn status(result: Result<impl std::fmt::Debug, ApiError>) -> (StatusCode, String) {
        let error = result.expect_err("refused");
        let field = error
            .details()
            .map(|d| d["field"].as_str().unwrap_or("").to_owned());
        (error.status(), field.unwrap_or_default())
    }

    #[test]
    fn a_website_needs_its_url_and_takes_only_website_fields() {
        let fields = SourceFields::parse_new(
            br#"{"type":"website","url":"https://a.example/","exclude":["/blog/**"],"maxPages":10,"schedule":"6h"}"#,
        )
        .unwrap();
        assert_eq!(fields.kind, Some(SourceKind::Website));
        assert_eq!(fields.website.url.as_deref(), Some("https://a.example/"));
        assert_eq!(fields.website.max_pages, Some(10));
        assert_eq!(fields.schedule, Some(Schedule::SixHours));
        assert_eq!(
            status(SourceFields::parse_new(br#"{"type":"website"}"#)),
            (StatusCode::BAD_REQUEST, "url".into())
        );
        assert_eq!(
            status(SourceFields::parse_new(
                br#"{"type":"website","url":"https://a.example/","content":"x"}"#
            )),
            (StatusCode::UNPROCESSABLE_ENTITY, "content".into())
        );
        assert_eq!(
            status(SourceFields::parse_new(
                br#"{"type":"website","url":"https://a.example/","include":["blog"]}"#
            )),
            (StatusCode::UNPROCESSABLE_ENTITY, "include".into())
        );
        assert_eq!(
            status(SourceFields::parse_new(
                br#"{"type":"website","url":"https://a.example/","maxPages":0}"#
            )),
            (StatusCode::UNPROCESSABLE_ENTITY, "maxPages".into())
        );
        assert_eq!(
            status(SourceFields::parse_new(br#"{"type":"pdf"}"#)),
            (StatusCode::BAD_REQUEST, "type".into())
        );
        assert_eq!(
            status(SourceFields::parse_new(b"[]")),
            (StatusCode::BAD_REQUEST, "body".into())
        );
    }

    #[test]
    fn a_document_is_bounded_by_its_content_and_the_body() {
        let fields = SourceFields::parse_new(
            br#"{"type":"document","title":"Terms","content":"Be nice.","contentType":"text/plain"}"#,
        )
        .unwrap();
        assert_eq!(fields.document.content_type, Some(DocumentType::PlainText));
        let long = format!(
            r#"{{"type":"document","title":"T","content":"{}"}}"#,
            "a".repeat(MAX_DOCUMENT_CHARS + 1)
        );
        assert_eq!(
            status(SourceFields::parse_new(long.as_bytes())),
            (StatusCode::UNPROCESSABLE_ENTITY, "content".into())
        );
        let huge = vec![b' '; MAX_SOURCE_BODY_BYTES + 1];
        assert_eq!(
            status(SourceFields::parse_new(&huge)),
            (StatusCode::UNPROCESSABLE_ENTITY, "content".into())
        );
        assert_eq!(
            status(SourceFields::parse_patch(
                br#"{"type":"website"}"#,
                SourceKind::Document
            )),
            (StatusCode::UNPROCESSABLE_ENTITY, "type".into())
        );
    }

    #[test]
    fn a_search_query_is_bounded() {
        let params = |q: Option<&'static str>, size: Option<&'static str>| {
            move |name: &str| match name {
                "q" => q,
                "size" => size,
                _ => None,
            }
        };
        let query = SearchQuery::parse(params(Some("shipping"), None)).unwrap();
        assert_eq!((query.q.as_str(), query.size), ("shipping", 10));
        assert_eq!(
            status(SearchQuery::parse(params(None, None))),
            (StatusCode::BAD_REQUEST, "q".into())
        );
        assert_eq!(
            status(SearchQuery::parse(params(Some("  "), None))),
            (StatusCode::BAD_REQUEST, "q".into())
        );
        let long: &'static str = Box::leak("x".repeat(501).into_boxed_str());
        assert_eq!(
            status(SearchQuery::parse(params(Some(long), None))),
            (StatusCode::UNPROCESSABLE_ENTITY, "q".into())
        );
        assert_eq!(
            status(SearchQuery::parse(params(Some("a"), Some("51")))),
            (StatusCode::UNPROCESSABLE_ENTITY, "size".into())
        );
    }

    #[test]
    fn a_pair_needs_both_texts_and_a_change_either() {
        assert!(QnaFields::parse_new(br#"{"question":"Q?","answer":"A."}"#).is_ok());
        assert_eq!(
            status(QnaFields::parse_new(br#"{"question":"Q?"}"#)),
            (StatusCode::BAD_REQUEST, "answer".into())
        );
        assert_eq!(
            status(QnaFields::parse_new(br#"{"question":"","answer":"A"}"#)),
            (StatusCode::UNPROCESSABLE_ENTITY, "question".into())
        );
        let patch = QnaFields::parse_patch(br#"{"answer":"B."}"#).unwrap();
        assert_eq!(
            (patch.question, patch.answer.as_deref()),
            (None, Some("B."))
        );
    }
}
