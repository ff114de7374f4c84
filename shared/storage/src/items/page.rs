//! The page item (`P#<projectId>#S#<sourceId>` / `G#<hash of the normalized URL>`): what a
//! sync found at a URL, with why it is in or out. Its text and passages are S3's (the
//! source's passage bundle); the item holds only what the page list shows and what the
//! next sync compares (content hash, validators, failures in a row).

use aws_sdk_dynamodb::types::AttributeValue;
use chat_domain::Spelling;
use chat_domain::ids::ProjectId;
use chat_domain::knowledge::PageRecord;
use uuid::Uuid;

use crate::error::StoreError;
use crate::items::{Item, Reader, put_opt, string as s};
use crate::keys::{PARTITION_KEY, SORT_KEY};

/// The sort-key prefix of page items.
pub const PAGE_SK_PREFIX: &str = "G#";

/// The partition of a source's pages.
pub fn pages_pk(project: ProjectId, source: Uuid) -> String {
    format!("P#{}#S#{}", project.0, source)
}

/// The sort key of the page at `url` (normalized): a hash, since a URL may pass a sort
/// key's 1,024 bytes.
pub fn page_sk(url: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, url.as_bytes());
    let hex: String = digest.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{PAGE_SK_PREFIX}{hex}")
}

fn number(item: &mut Item, name: &str, value: u32) {
    item.insert(name.into(), AttributeValue::N(value.to_string()));
}

/// The longest title and reason a page item keeps, in characters (a page's own text can
/// make them any length; an item may not pass 400 KB).
pub const MAX_PAGE_TEXT_CHARS: usize = 500;
/// The longest validator kept (an `ETag` or `Last-Modified` longer is not one).
pub const MAX_VALIDATOR_CHARS: usize = 256;

fn capped(text: &Option<String>, max: usize) -> Option<String> {
    text.as_ref().map(|t| t.chars().take(max).collect())
}

/// The item of `page` of `project`'s source `source`.
pub fn page_item(project: ProjectId, source: Uuid, page: &PageRecord) -> Item {
    let mut item = Item::new();
    item.insert(PARTITION_KEY.into(), s(pages_pk(project, source)));
    item.insert(SORT_KEY.into(), s(page_sk(&page.url)));
    item.insert("url".into(), s(page.url.clone()));
    put_opt(&mut item, "title", capped(&page.title, MAX_PAGE_TEXT_CHARS));
    item.insert("status".into(), s(page.status.as_str()));
    put_opt(
        &mut item,
        "reason",
        capped(&page.reason, MAX_PAGE_TEXT_CHARS),
    );
    number(&mut item, "passages", page.passages);
    put_opt(
        &mut item,
        "fetchedAt",
        page.fetched_at.map(|t| t.to_string()),
    );
    put_opt(&mut item, "contentHash", page.content_hash.clone());
    number(&mut item, "failures", page.failures);
    let validator = |v: &Option<String>| {
        v.clone()
            .filter(|v| v.chars().count() <= MAX_VALIDATOR_CHARS)
    };
    put_opt(&mut item, "etag", validator(&page.etag));
    put_opt(&mut item, "lastModified", validator(&page.last_modified));
    item
}

fn count(r: &Reader<'_>, name: &str) -> Result<u32, StoreError> {
    r.opt_number(name)?.map_or(Ok(0), |n| {
        n.parse().map_err(|_| StoreError::Corrupt(name.into()))
    })
}

/// The page a page item holds.
pub fn page_from_item(item: &Item) -> Result<PageRecord, StoreError> {
    let r = Reader(item);
    Ok(PageRecord {
        url: r.str("url")?.to_owned(),
        title: r.opt_str("title")?.map(str::to_owned),
        status: r.spelled("status")?,
        reason: r.opt_str("reason")?.map(str::to_owned),
        passages: count(&r, "passages")?,
        fetched_at: r.opt_time("fetchedAt")?,
        content_hash: r.opt_str("contentHash")?.map(str::to_owned),
        failures: count(&r, "failures")?,
        etag: r.opt_str("etag")?.map(str::to_owned),
        last_modified: r.opt_str("lastModified")?.map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use chat_domain::knowledge::PageStatus;
    use chat_domain::timestamp::Timestamp;

    use super::*;

    #[test]
    fn a_page_round_trips() {
        let page = PageRecord {
            url: "https://a.example/help".into(),
            title: Some("Help".into()),
            status: PageStatus::Indexed,
            reason: None,
            passages: 3,
            fetched_at: Some(Timestamp::now()),
            content_hash: Some("ab".into()),
            failures: 1,
            etag: Some("\"v1\"".into()),
            last_modified: None,
        };
        let item = page_item(ProjectId(Uuid::now_v7()), Uuid::now_v7(), &page);
        assert_eq!(page_from_item(&item).unwrap(), page);
    }
}
