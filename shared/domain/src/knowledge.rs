//! A project's knowledge as the API shows it (API.md Part 3): sources (websites and
//! documents), the pages a sync found with why each is in or out, question-and-answer
//! pairs, and search results. Every key of an object is always present, `null` or `[]`
//! where it does not apply.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use strum::{EnumString, IntoStaticStr, VariantNames};
use uuid::Uuid;

use crate::Spelling;
use crate::assistant::Plan;
use crate::timestamp::Timestamp;

/// What a source is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoStaticStr, EnumString, VariantNames)]
#[strum(serialize_all = "lowercase")]
pub enum SourceKind {
    /// A website, crawled from its start URL.
    Website,
    /// One document given in the request.
    Document,
}

/// How often a website source is synced by the schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoStaticStr, EnumString, VariantNames)]
pub enum Schedule {
    /// Every six hours.
    #[strum(serialize = "6h")]
    SixHours,
    /// Every twelve hours.
    #[strum(serialize = "12h")]
    TwelveHours,
    /// Once a day (the default).
    #[strum(serialize = "daily")]
    Daily,
    /// Once a week.
    #[strum(serialize = "weekly")]
    Weekly,
    /// Only when asked.
    #[strum(serialize = "manual")]
    Manual,
}

impl Schedule {
    /// The time between two scheduled syncs, in seconds; `None` for `manual`.
    pub fn interval_seconds(self) -> Option<i64> {
        match self {
            Self::SixHours => Some(6 * 3600),
            Self::TwelveHours => Some(12 * 3600),
            Self::Daily => Some(24 * 3600),
            Self::Weekly => Some(7 * 24 * 3600),
            Self::Manual => None,
        }
    }
}

/// Where a source's syncing is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoStaticStr, EnumString, VariantNames)]
#[strum(serialize_all = "lowercase")]
pub enum SourceStatus {
    /// Nothing queued or running.
    Idle,
    /// A sync is queued.
    Queued,
    /// A sync is running.
    Syncing,
    /// The last sync could not run at all (`lastSync.error` says why).
    Failed,
}

impl SourceStatus {
    /// Whether a sync is queued or running (a new one is refused with 409).
    pub fn is_busy(self) -> bool {
        matches!(self, Self::Queued | Self::Syncing)
    }
}

/// The format of a document source's content.
#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoStaticStr, EnumString, VariantNames)]
pub enum DocumentType {
    /// Markdown (the default).
    #[strum(serialize = "text/markdown")]
    Markdown,
    /// Plain text.
    #[strum(serialize = "text/plain")]
    PlainText,
    /// HTML.
    #[strum(serialize = "text/html")]
    Html,
}

/// What the last sync of a source did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncReport {
    /// When it started.
    pub started_at: Option<Timestamp>,
    /// When it ended (`null` while it runs).
    pub finished_at: Option<Timestamp>,
    /// Pages whose text was new or changed, indexed again.
    pub pages_indexed: u64,
    /// Pages fetched with the same text as before.
    pub pages_unchanged: u64,
    /// Pages no longer found, removed from the index.
    pub pages_removed: u64,
    /// Pages kept out (robots.txt, noindex, content type, size, no readable text…).
    pub pages_skipped: u64,
    /// Pages that could not be fetched.
    pub pages_failed: u64,
    /// Why the sync could not run at all, when it could not.
    pub error: Option<String>,
}

/// A source of a project's knowledge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// Its id.
    pub id: Uuid,
    /// Website or document.
    pub kind: SourceKind,
    /// The operator's name for it.
    pub name: Option<String>,
    /// A website's start URL (normalized); a document's URL to cite, if any.
    pub url: Option<String>,
    /// More sitemaps of a website.
    pub sitemap_urls: Vec<String>,
    /// Path globs crawled besides those under the start URL's path.
    pub include: Vec<String>,
    /// Path globs never crawled.
    pub exclude: Vec<String>,
    /// A website's page cap (within the plan's).
    pub max_pages: Option<u32>,
    /// How often it is synced.
    pub schedule: Schedule,
    /// Where its syncing is.
    pub status: SourceStatus,
    /// What the last sync did.
    pub last_sync: Option<SyncReport>,
    /// A document's title.
    pub title: Option<String>,
    /// A document's format.
    pub content_type: Option<DocumentType>,
    /// When it was added.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

impl Serialize for Source {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(16))?;
        map.serialize_entry("object", "source")?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("type", self.kind.as_str())?;
        map.serialize_entry("name", &self.name)?;
        map.serialize_entry("url", &self.url)?;
        map.serialize_entry("sitemapUrls", &self.sitemap_urls)?;
        map.serialize_entry("include", &self.include)?;
        map.serialize_entry("exclude", &self.exclude)?;
        map.serialize_entry("maxPages", &self.max_pages)?;
        map.serialize_entry("schedule", self.schedule.as_str())?;
        map.serialize_entry("status", self.status.as_str())?;
        map.serialize_entry("lastSync", &self.last_sync)?;
        map.serialize_entry("title", &self.title)?;
        map.serialize_entry("contentType", &self.content_type.map(DocumentType::as_str))?;
        map.serialize_entry("createdAt", &self.created_at)?;
        map.serialize_entry("updatedAt", &self.updated_at)?;
        map.end()
    }
}

/// Whether a page is in the index, and if not, why.
#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoStaticStr, EnumString, VariantNames)]
#[strum(serialize_all = "lowercase")]
pub enum PageStatus {
    /// Its passages are in the index.
    Indexed,
    /// Kept out on purpose (`reason` says why).
    Skipped,
    /// Could not be fetched (`reason` says why).
    Failed,
}

/// A page a sync met, with why it is in or out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageRecord {
    /// Its normalized URL (the page's key).
    pub url: String,
    /// Its title, once read.
    pub title: Option<String>,
    /// In or out.
    pub status: PageStatus,
    /// Why it is out, or why its content is older than the last sync.
    pub reason: Option<String>,
    /// Its passages in the index.
    pub passages: u32,
    /// When it was last fetched with an answer.
    pub fetched_at: Option<Timestamp>,
    /// The SHA-256 of its text, hex: the same text is not cut or indexed again.
    pub content_hash: Option<String>,
    /// Temporary failures in a row (its last good content stays until the third).
    pub failures: u32,
    /// The validators of its last good answer, for a conditional GET.
    pub etag: Option<String>,
    /// `Last-Modified` of its last good answer.
    pub last_modified: Option<String>,
}

impl Serialize for PageRecord {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(7))?;
        map.serialize_entry("object", "page")?;
        map.serialize_entry("url", &self.url)?;
        map.serialize_entry("title", &self.title)?;
        map.serialize_entry("status", self.status.as_str())?;
        map.serialize_entry("reason", &self.reason)?;
        map.serialize_entry("passages", &self.passages)?;
        map.serialize_entry("fetchedAt", &self.fetched_at)?;
        map.end()
    }
}

/// A question-and-answer pair the project's team wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Qna {
    /// Its id.
    pub id: Uuid,
    /// The question, 1–500 characters.
    pub question: String,
    /// The answer, as written, 1–10,000 characters.
    pub answer: String,
    /// When it was written.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

impl Serialize for Qna {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(6))?;
        map.serialize_entry("object", "qna")?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("question", &self.question)?;
        map.serialize_entry("answer", &self.answer)?;
        map.serialize_entry("createdAt", &self.created_at)?;
        map.serialize_entry("updatedAt", &self.updated_at)?;
        map.end()
    }
}

/// One search result (API.md §15).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SearchResult {
    /// Relevance in (0, 1].
    pub score: f32,
    /// The page's title, or a pair's question.
    pub title: String,
    /// The passage's text, or a pair's answer.
    pub content: String,
    /// The page's URL (`null` for a pair or a document without one).
    pub url: Option<String>,
    /// The URL's path (`null` where the URL is).
    pub path: Option<String>,
}

/// The page caps of the plans (API.md §13: free 100, pro 5,000; a deployment may change
/// both).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageCaps {
    /// The free plan's.
    pub free: u32,
    /// The pro plan's.
    pub pro: u32,
}

impl Default for PageCaps {
    fn default() -> Self {
        Self {
            free: 100,
            pro: 5_000,
        }
    }
}

impl PageCaps {
    /// The cap of `plan`.
    pub fn of(self, plan: Plan) -> u32 {
        match plan {
            Plan::Free => self.free,
            Plan::Pro => self.pro,
        }
    }
}

/// The most sources a project may have: every list is bounded.
pub const MAX_SOURCES_PER_PROJECT: usize = 100;
/// The most question-and-answer pairs a project may have.
pub const MAX_QNAS_PER_PROJECT: usize = 2_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_shows_every_key_in_the_contracts_order() {
        let at = Timestamp::parse("2026-01-02T03:04:05.000Z").unwrap();
        let source = Source {
            id: Uuid::nil(),
            kind: SourceKind::Website,
            name: None,
            url: Some("https://help.example.com/".into()),
            sitemap_urls: vec![],
            include: vec![],
            exclude: vec!["/blog/**".into()],
            max_pages: Some(500),
            schedule: Schedule::Daily,
            status: SourceStatus::Idle,
            last_sync: None,
            title: None,
            content_type: None,
            created_at: at,
            updated_at: at,
        };
        let json = serde_json::to_value(&source).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(
            keys,
            [
                "object",
                "id",
                "type",
                "name",
                "url",
                "sitemapUrls",
                "include",
                "exclude",
                "maxPages",
                "schedule",
                "status",
                "lastSync",
                "title",
                "contentType",
                "createdAt",
                "updatedAt"
            ]
        );
        assert_eq!(json["schedule"], "daily");
        assert_eq!(json["exclude"][0], "/blog/**");
    }

    #[test]
    fn schedules_are_spelled_as_the_contract_does() {
        for (text, schedule) in [
            ("6h", Schedule::SixHours),
            ("12h", Schedule::TwelveHours),
            ("daily", Schedule::Daily),
            ("weekly", Schedule::Weekly),
            ("manual", Schedule::Manual),
        ] {
            assert_eq!(Schedule::parse(text), Some(schedule));
            assert_eq!(schedule.as_str(), text);
        }
        assert_eq!(Schedule::Manual.interval_seconds(), None);
        assert_eq!(DocumentType::parse("text/html"), Some(DocumentType::Html));
    }
}
