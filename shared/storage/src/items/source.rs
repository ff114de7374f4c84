//! The knowledge source item (`P#<projectId>` / `S#<sourceId>`), its URL claim
//! (`P#<projectId>` / `SU#<hash of the normalized URL>`, so two website sources of a project
//! never share a start URL), and their one writer and reader.

use aws_sdk_dynamodb::types::AttributeValue;
use chat_domain::Spelling;
use chat_domain::ids::ProjectId;
use chat_domain::knowledge::{Source, SyncReport};
use chat_domain::timestamp::Timestamp;

use crate::error::StoreError;
use crate::items::{Item, Reader, put_opt, string as s};
use crate::keys::{PARTITION_KEY, SORT_KEY, VISITOR_INDEX_PK, VISITOR_INDEX_SK, project_pk};

/// The sort-key prefix of source items.
pub const SOURCE_SK_PREFIX: &str = "S#";
/// The sort-key prefix of URL claims.
pub const URL_CLAIM_SK_PREFIX: &str = "SU#";
/// The status attribute (conditions read it).
pub const STATUS: &str = "status";
/// The last sync's report, as JSON text.
pub const LAST_SYNC: &str = "lastSync";
/// The update time.
pub const UPDATED_AT: &str = "updatedAt";
/// When the status last changed: a sync `queued` or `syncing` for longer than
/// [`STALE_SYNC_SECONDS`] was lost (its job dead-lettered, its process gone) and no longer
/// refuses a new one.
pub const STATUS_AT: &str = "statusAt";
/// How long a sync may stay queued or running before it counts as lost: past a worker's
/// 15-minute limit, with the queue's retries.
pub const STALE_SYNC_SECONDS: i64 = 3_600;
/// When the schedule next syncs it (in the schedule index's sort key).
pub const NEXT_SYNC_AT: &str = "nextSyncAt";
/// The schedule index's one partition: the sources a schedule tick reads, sparse (a
/// `manual` source is not in it). It reuses the visitor index (`gsi1`) with a key no
/// visitor's partition can have.
pub const SCHEDULE_PARTITION: &str = "KS#schedule";

/// The sort key of a source.
pub fn source_sk(id: uuid::Uuid) -> String {
    format!("{SOURCE_SK_PREFIX}{id}")
}

/// The sort key of the claim on a normalized start URL.
pub fn url_claim_sk(normalized_url: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, normalized_url.as_bytes());
    let hex: String = digest.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{URL_CLAIM_SK_PREFIX}{hex}")
}

fn string_list(values: &[String]) -> AttributeValue {
    AttributeValue::L(values.iter().map(|v| s(v.clone())).collect())
}

fn read_list(item: &Item, name: &str) -> Result<Vec<String>, StoreError> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(Vec::new()),
        Some(AttributeValue::L(values)) => values
            .iter()
            .map(|v| match v {
                AttributeValue::S(text) => Ok(text.clone()),
                _ => Err(StoreError::Corrupt(format!("{name} holds a non-string"))),
            })
            .collect(),
        Some(_) => Err(StoreError::Corrupt(format!("{name} is not a list"))),
    }
}

/// The schedule index's key of a source due at `next` (none for a manual one).
pub fn schedule_attributes(
    item: &mut Item,
    project: ProjectId,
    source: &Source,
    next: Option<Timestamp>,
) {
    if let Some(next) = next {
        item.insert(VISITOR_INDEX_PK.into(), s(SCHEDULE_PARTITION));
        item.insert(
            VISITOR_INDEX_SK.into(),
            s(format!("{next}#{}#{}", project.0, source.id)),
        );
        item.insert(NEXT_SYNC_AT.into(), s(next.to_string()));
    }
}

/// The item of `source` of `project`, due at `next` on its schedule.
pub fn source_item(project: ProjectId, source: &Source, next: Option<Timestamp>) -> Item {
    let mut item = Item::new();
    item.insert(PARTITION_KEY.into(), s(project_pk(project)));
    item.insert(SORT_KEY.into(), s(source_sk(source.id)));
    item.insert("id".into(), s(source.id.to_string()));
    item.insert("type".into(), s(source.kind.as_str()));
    put_opt(&mut item, "name", source.name.clone());
    put_opt(&mut item, "url", source.url.clone());
    item.insert("sitemapUrls".into(), string_list(&source.sitemap_urls));
    item.insert("include".into(), string_list(&source.include));
    item.insert("exclude".into(), string_list(&source.exclude));
    if let Some(max) = source.max_pages {
        item.insert("maxPages".into(), AttributeValue::N(max.to_string()));
    }
    item.insert("schedule".into(), s(source.schedule.as_str()));
    item.insert(STATUS.into(), s(source.status.as_str()));
    item.insert(STATUS_AT.into(), s(source.updated_at.to_string()));
    if let Some(report) = &source.last_sync {
        item.insert(LAST_SYNC.into(), report_attribute(report));
    }
    put_opt(&mut item, "title", source.title.clone());
    put_opt(
        &mut item,
        "contentType",
        source.content_type.map(|t| t.as_str().to_owned()),
    );
    item.insert("createdAt".into(), s(source.created_at.to_string()));
    item.insert(UPDATED_AT.into(), s(source.updated_at.to_string()));
    schedule_attributes(&mut item, project, source, next);
    item
}

/// A sync report as the item holds it (JSON text: it is only ever shown whole).
pub fn report_attribute(report: &SyncReport) -> AttributeValue {
    s(serde_json::to_string(report).unwrap_or_default())
}

fn report_from(text: &str) -> Option<SyncReport> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    let count = |name: &str| value[name].as_u64().unwrap_or(0);
    let time = |name: &str| value[name].as_str().and_then(Timestamp::parse);
    Some(SyncReport {
        started_at: time("startedAt"),
        finished_at: time("finishedAt"),
        pages_indexed: count("pagesIndexed"),
        pages_unchanged: count("pagesUnchanged"),
        pages_removed: count("pagesRemoved"),
        pages_skipped: count("pagesSkipped"),
        pages_failed: count("pagesFailed"),
        error: value["error"].as_str().map(str::to_owned),
    })
}

/// The source a source item holds.
pub fn source_from_item(item: &Item) -> Result<Source, StoreError> {
    let r = Reader(item);
    Ok(Source {
        id: r.uuid("id")?,
        kind: r.spelled("type")?,
        name: r.opt_str("name")?.map(str::to_owned),
        url: r.opt_str("url")?.map(str::to_owned),
        sitemap_urls: read_list(item, "sitemapUrls")?,
        include: read_list(item, "include")?,
        exclude: read_list(item, "exclude")?,
        max_pages: r
            .opt_number("maxPages")?
            .map(|n| {
                n.parse()
                    .map_err(|_| StoreError::Corrupt("maxPages".into()))
            })
            .transpose()?,
        schedule: r.spelled("schedule")?,
        status: r.spelled(STATUS)?,
        last_sync: r.opt_parsed(LAST_SYNC, report_from)?,
        title: r.opt_str("title")?.map(str::to_owned),
        content_type: r.opt_spelled("contentType")?,
        created_at: r.time("createdAt")?,
        updated_at: r.time(UPDATED_AT)?,
    })
}

#[cfg(test)]
mod tests {
    use chat_domain::knowledge::{Schedule, SourceKind, SourceStatus};
    use uuid::Uuid;

    use super::*;

    #[test]
    fn a_source_round_trips_and_a_manual_one_is_not_scheduled() {
        let at = Timestamp::now();
        let mut source = Source {
            id: Uuid::now_v7(),
            kind: SourceKind::Website,
            name: Some("Help".into()),
            url: Some("https://help.example.com/".into()),
            sitemap_urls: vec!["https://help.example.com/s.xml".into()],
            include: vec![],
            exclude: vec!["/blog/**".into()],
            max_pages: Some(10),
            schedule: Schedule::Daily,
            status: SourceStatus::Queued,
            last_sync: Some(SyncReport {
                started_at: Some(at),
                pages_indexed: 3,
                error: Some("x".into()),
                ..SyncReport::default()
            }),
            title: None,
            content_type: None,
            created_at: at,
            updated_at: at,
        };
        let project = ProjectId(Uuid::now_v7());
        let item = source_item(project, &source, Some(at));
        assert_eq!(source_from_item(&item).unwrap(), source);
        assert!(item.contains_key(VISITOR_INDEX_PK));
        source.schedule = Schedule::Manual;
        assert!(!source_item(project, &source, None).contains_key(VISITOR_INDEX_PK));
        assert_eq!(url_claim_sk("https://a/").len(), 3 + 32);
    }
}
