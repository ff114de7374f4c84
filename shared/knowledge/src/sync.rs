//! The crawl worker's jobs (DESIGN.md "Knowledge"): a source's sync, a removed source's
//! forgetting, and the index's rebuild and publication. Every step is idempotent, so a job
//! that fails midway (S3 or DynamoDB down) is simply run again by the queue: pages are
//! keyed by their normalized URL, passages by their page and position, a snapshot is a new
//! immutable object, and its publication a conditional write. Until it succeeds, the
//! previous snapshot keeps serving.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chat_domain::ids::ProjectId;
use chat_domain::knowledge::{
    DocumentType, PageCaps, PageRecord, PageStatus, Source, SourceKind, SourceStatus, SyncReport,
};
use chat_domain::timestamp::Timestamp;
use chat_storage::StoreError;
use chat_storage::knowledge::next_sync;
use chat_storage::ports::{IndexVersionStore, PageStore, SourceStore};
use url::Url;
use uuid::Uuid;

use crate::blobs::{BlobError, BlobStore, bundle_key, document_key, qna_vectors_key, snapshot_key};
use crate::bundle::{Bundle, BundlePage, QnaVectors, embedding_text, page_hash};
use crate::crawl::crawler::{CrawlPlan, MAX_DEPTH, PageOutcome, crawl};
use crate::crawl::fetch::{Fetcher, Validators};
use crate::crawl::urls::Scope;
use crate::embeddings::{EmbedError, EmbeddingModel, Embeddings};
use crate::extract::read_html;
use crate::index::{Entry, IndexBuilder};
use crate::jobs::SyncJob;
use crate::page::Page;
use crate::passages::passages_of;

/// Temporary failures in a row after which a page's last good content leaves the index.
pub const MAX_TEMPORARY_FAILURES: u32 = 3;
/// Attempts at publishing an index while other builds publish theirs.
const PUBLISH_ATTEMPTS: u32 = 3;

/// Why a job failed (the queue runs it again).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// DynamoDB failed.
    #[error("DynamoDB: {0}")]
    Store(#[from] StoreError),
    /// S3 failed.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// The index could not be built.
    #[error(transparent)]
    Index(#[from] crate::IndexError),
    /// The embedding provider failed.
    #[error(transparent)]
    Embed(#[from] EmbedError),
    /// Other builds kept publishing first.
    #[error("the index of project {0} kept changing during the build")]
    Contended(Uuid),
}

impl SyncError {
    /// What failed, in words a source's `lastSync` may show.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Store(_) => "DynamoDB was unavailable",
            Self::Blob(_) => "S3 was unavailable",
            Self::Index(_) => "the index could not be built",
            Self::Embed(_) => "the embedding provider failed",
            Self::Contended(_) => "other index builds kept publishing first",
        }
    }
}

/// How the worker runs.
#[derive(Clone, Debug)]
pub struct SyncSettings {
    /// The plans' page caps.
    pub caps: PageCaps,
    /// Where indexes are built (`/tmp` on Lambda).
    pub work_dir: PathBuf,
    /// How long a crawl may fetch before it stops (what it has not reached is kept).
    pub crawl_budget: Duration,
}

impl Default for SyncSettings {
    fn default() -> Self {
        Self {
            caps: PageCaps::default(),
            work_dir: std::env::temp_dir(),
            crawl_budget: Duration::from_secs(600),
        }
    }
}

/// The worker: the store, the blobs and the crawler's client (cheap to clone: each part
/// is a handle).
#[derive(Clone)]
pub struct Worker<S, B> {
    /// Sources, pages, the index version.
    pub store: S,
    /// Bundles, documents, snapshots.
    pub blobs: B,
    /// The embedding clients, for projects that name a model.
    pub embeddings: std::sync::Arc<Embeddings>,
    /// The crawler's HTTP client.
    pub fetcher: Fetcher,
    /// Caps and places.
    pub settings: SyncSettings,
}

impl<S, B> Worker<S, B>
where
    S: SourceStore + PageStore + IndexVersionStore,
    B: BlobStore,
{
    /// Runs `job`.
    pub async fn run(&self, job: &SyncJob) -> Result<(), SyncError> {
        match *job {
            SyncJob::Sync { project, source } => self.sync(ProjectId(project), source).await,
            SyncJob::Forget { project, source } => self.forget(ProjectId(project), source).await,
            SyncJob::Rebuild { project } => self.publish(ProjectId(project)).await.map(drop),
        }
    }

    /// Syncs source `id` of `project`, then publishes the project's index. A sync that
    /// cannot run at all records why in the source's `lastSync` and fails nothing else;
    /// a store failure midway is recorded too, and returned for the queue to retry.
    pub async fn sync(&self, project: ProjectId, id: Uuid) -> Result<(), SyncError> {
        let source = match self.store.source(project, id).await {
            Ok(source) => source,
            // Removed meanwhile: nothing to do.
            Err(StoreError::NotFound) => return Ok(()),
            Err(error) => return Err(error.into()),
        };
        let mut report = SyncReport {
            started_at: Some(Timestamp::now()),
            ..SyncReport::default()
        };
        self.record(project, &source, SourceStatus::Syncing, &report, None)
            .await?;
        match self.sync_source(project, &source, &mut report).await {
            Ok(()) => {
                report.finished_at = Some(Timestamp::now());
                // `failed` is a sync that could not run at all; one that ran out of time
                // did its part and says so in `error`.
                let met = report.pages_indexed
                    + report.pages_unchanged
                    + report.pages_skipped
                    + report.pages_failed;
                let status = if report.error.is_some() && met == 0 {
                    SourceStatus::Failed
                } else {
                    SourceStatus::Idle
                };
                let next = next_sync(&source, Timestamp::now());
                self.record(project, &source, status, &report, next).await
            }
            Err(error) => {
                report.finished_at = Some(Timestamp::now());
                tracing::warn!(%error, source = %id, "a sync failed midway");
                // What failed, never its details (a bucket, a key, a provider's message).
                report.error = Some(format!(
                    "the sync failed midway ({}); the queue tries it again",
                    error.kind()
                ));
                // Best effort: the error is what the queue acts on. `failed`, not `queued`:
                // a job the queue gives up on must not leave the source refusing syncs.
                let _ = self
                    .record(project, &source, SourceStatus::Failed, &report, None)
                    .await;
                Err(error)
            }
        }
    }

    async fn record(
        &self,
        project: ProjectId,
        source: &Source,
        status: SourceStatus,
        report: &SyncReport,
        next: Option<Timestamp>,
    ) -> Result<(), SyncError> {
        match self
            .store
            .record_sync(project, source.id, status, report, next)
            .await
        {
            Ok(()) | Err(StoreError::NotFound) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    async fn sync_source(
        &self,
        project: ProjectId,
        source: &Source,
        report: &mut SyncReport,
    ) -> Result<(), SyncError> {
        let previous_bundle = self
            .blobs
            .get(&bundle_key(project, source.id))
            .await?
            .map(|bytes| Bundle::from_bytes(&bytes))
            .unwrap_or_default();
        let previous_pages = self.store.pages(project, source.id).await?;
        let (bundle, pages) = match source.kind {
            SourceKind::Document => match self.document(project, source).await? {
                Some(page) => {
                    let bundle_page = self.cut(page, &previous_bundle);
                    let record = indexed_record(&bundle_page, source.title.clone());
                    (
                        Bundle {
                            pages: vec![bundle_page],
                            model: previous_bundle.model.clone(),
                        },
                        vec![record],
                    )
                }
                None => (Bundle::default(), Vec::new()),
            },
            SourceKind::Website => {
                let plan = self.plan(source, &previous_pages);
                let Some(plan) = plan else {
                    report.error = Some("the start URL is not a web address".into());
                    return Ok(());
                };
                let crawled = crawl(&self.fetcher, &plan).await;
                if let Some(fatal) = crawled.fatal {
                    // Nothing is changed: the last good pages keep serving.
                    report.error = Some(fatal);
                    return Ok(());
                }
                let (mut bundle, mut pages) =
                    self.merge(crawled.pages, &previous_pages, &previous_bundle);
                if crawled.out_of_time {
                    // Not reached in time is not gone: the pages this crawl did not get to
                    // keep their last content until a crawl that finishes says otherwise.
                    keep_unreached(&mut bundle, &mut pages, &previous_pages, &previous_bundle);
                    report.error = Some(
                        "the crawl ran out of time; pages it did not reach keep their last content"
                            .into(),
                    );
                }
                (bundle, pages)
            }
        };
        tally(report, &pages, &previous_pages, &previous_bundle);
        // Blobs first, then records, then the index: a failure between leaves records
        // that the next run rewrites, never an index that cites what is not stored.
        self.blobs
            .put(
                &bundle_key(project, source.id),
                Bytes::from(bundle.to_bytes()),
            )
            .await?;
        self.store.put_pages(project, source.id, &pages).await?;
        let kept: std::collections::HashSet<&str> = pages.iter().map(|p| p.url.as_str()).collect();
        let gone: Vec<String> = previous_pages
            .iter()
            .filter(|p| !kept.contains(p.url.as_str()))
            .map(|p| p.url.clone())
            .collect();
        self.store.delete_pages(project, source.id, &gone).await?;
        self.publish(project).await?;
        Ok(())
    }

    /// A document source's text, read as its content type says.
    async fn document(
        &self,
        project: ProjectId,
        source: &Source,
    ) -> Result<Option<Page>, SyncError> {
        let Some(bytes) = self.blobs.get(&document_key(project, source.id)).await? else {
            return Ok(None);
        };
        let text = String::from_utf8_lossy(&bytes);
        let title = source.title.clone().unwrap_or_default();
        let url = source.url.as_deref();
        let mut page = match source.content_type.unwrap_or(DocumentType::Markdown) {
            DocumentType::Markdown => Page::from_markdown(&title, url, &text),
            DocumentType::PlainText => Page::from_plain_text(&title, url, &text),
            DocumentType::Html => read_html(&text, url.unwrap_or("https://document.invalid/")).page,
        };
        page.title = title;
        page.url = url.map(str::to_owned);
        Ok(Some(page))
    }

    /// The crawl of a website source, with the last sync's validators.
    fn plan(&self, source: &Source, previous: &[PageRecord]) -> Option<CrawlPlan> {
        let start = Url::parse(source.url.as_deref()?).ok()?;
        let max_pages = source.max_pages.unwrap_or(self.settings.caps.pro) as usize;
        Some(CrawlPlan {
            scope: Scope::new(&start, &source.include, &source.exclude),
            sitemap_urls: source
                .sitemap_urls
                .iter()
                .filter_map(|u| Url::parse(u).ok())
                .collect(),
            max_pages,
            max_depth: MAX_DEPTH,
            validators: previous
                .iter()
                .filter(|p| p.status == PageStatus::Indexed)
                .map(|p| {
                    let validators = Validators {
                        etag: p.etag.clone(),
                        last_modified: p.last_modified.clone(),
                    };
                    (p.url.clone(), validators)
                })
                .collect(),
            deadline: Some(Instant::now() + self.settings.crawl_budget),
        })
    }

    /// A page's bundle entry: the last one when its text is the same (not cut again),
    /// else its passages cut now.
    fn cut(&self, page: Page, previous: &Bundle) -> BundlePage {
        let hash = page_hash(&page);
        if let Some(same) = previous
            .pages
            .iter()
            .find(|p| p.hash == hash && p.url == page.url)
        {
            return same.clone();
        }
        let key = page.url.clone().unwrap_or_else(|| page.title.clone());
        BundlePage {
            url: page.url.clone(),
            lang: page.lang.clone(),
            hash,
            passages: passages_of(&key, &page),
            vectors: Vec::new(),
        }
    }

    /// The new bundle and page records from a crawl and what the last sync left.
    fn merge(
        &self,
        crawled: Vec<crate::crawl::crawler::CrawledPage>,
        previous_pages: &[PageRecord],
        previous_bundle: &Bundle,
    ) -> (Bundle, Vec<PageRecord>) {
        let before: HashMap<&str, &PageRecord> =
            previous_pages.iter().map(|p| (p.url.as_str(), p)).collect();
        let kept_page = |url: &str| {
            previous_bundle
                .pages
                .iter()
                .find(|p| p.url.as_deref() == Some(url))
                .cloned()
        };
        // Reused pages keep their vectors, which are the previous bundle's model's.
        let mut bundle = Bundle {
            pages: Vec::new(),
            model: previous_bundle.model.clone(),
        };
        let mut records = Vec::new();
        let mut contents: HashMap<String, String> = HashMap::new();
        let now = Timestamp::now();
        for crawled_page in crawled {
            let url = crawled_page.url;
            let last = before.get(url.as_str()).copied();
            let record = match crawled_page.outcome {
                PageOutcome::Content { page, validators } => {
                    let title = Some(page.title.clone()).filter(|t| !t.is_empty());
                    let hash = page_hash(&page);
                    // `/` and `/index.html`: one page under two URLs is indexed once.
                    if let Some(first) = contents.get(&hash) {
                        records.push(skipped(&url, format!("same content as {first}"), title));
                        continue;
                    }
                    contents.insert(hash, url.clone());
                    let bundle_page = self.cut(page, previous_bundle);
                    let mut record = indexed_record(&bundle_page, title);
                    record.url = url.clone();
                    record.fetched_at = Some(now);
                    record.etag = validators.etag;
                    record.last_modified = validators.last_modified;
                    bundle.pages.push(bundle_page);
                    record
                }
                PageOutcome::NotModified => match (last, kept_page(&url)) {
                    (Some(last), Some(page)) => {
                        bundle.pages.push(page);
                        PageRecord {
                            fetched_at: Some(now),
                            failures: 0,
                            reason: None,
                            ..last.clone()
                        }
                    }
                    // A 304 for a page whose content is not kept: fetched again next time.
                    _ => skipped(
                        &url,
                        "not modified, but its content was not kept".into(),
                        None,
                    ),
                },
                PageOutcome::Gone(_) => continue,
                PageOutcome::Skipped { reason, title } => skipped(&url, reason, title),
                PageOutcome::Failed { reason, temporary } => {
                    let kept = last
                        .filter(|l| l.status == PageStatus::Indexed)
                        .zip(kept_page(&url));
                    match kept {
                        Some((last, page))
                            if temporary && last.failures + 1 < MAX_TEMPORARY_FAILURES =>
                        {
                            bundle.pages.push(page);
                            PageRecord {
                                failures: last.failures + 1,
                                reason: Some(format!(
                                    "{reason}; its last good content is kept ({} of {MAX_TEMPORARY_FAILURES} failures in a row)",
                                    last.failures + 1
                                )),
                                ..last.clone()
                            }
                        }
                        _ => PageRecord {
                            url: url.clone(),
                            title: last.and_then(|l| l.title.clone()),
                            status: PageStatus::Failed,
                            reason: Some(reason),
                            passages: 0,
                            fetched_at: last.and_then(|l| l.fetched_at),
                            content_hash: None,
                            failures: last.map_or(1, |l| l.failures + 1),
                            etag: None,
                            last_modified: None,
                        },
                    }
                }
            };
            records.push(record);
        }
        (bundle, records)
    }

    /// Removes source `id`'s pages and blobs and publishes the index without it.
    pub async fn forget(&self, project: ProjectId, id: Uuid) -> Result<(), SyncError> {
        let pages = self.store.pages(project, id).await?;
        let urls: Vec<String> = pages.into_iter().map(|p| p.url).collect();
        self.store.delete_pages(project, id, &urls).await?;
        self.blobs.delete(&bundle_key(project, id)).await?;
        self.blobs.delete(&document_key(project, id)).await?;
        self.publish(project).await.map(drop)
    }

    /// Builds the project's index from its sources' bundles and its pairs, stores it as a
    /// new snapshot and makes it current; the version published.
    pub async fn publish(&self, project: ProjectId) -> Result<String, SyncError> {
        for _ in 0..PUBLISH_ATTEMPTS {
            let state = self.store.knowledge(project).await?;
            let model = state
                .embedding_model
                .as_deref()
                .and_then(EmbeddingModel::parse);
            let mut entries: Vec<Entry> = Vec::new();
            for source in &state.sources {
                let key = bundle_key(project, source.id);
                let Some(bytes) = self.blobs.get(&key).await? else {
                    continue;
                };
                let mut bundle = Bundle::from_bytes(&bytes);
                if let Some(model) = &model
                    && self.embed_bundle(&mut bundle, model).await?
                {
                    // Embedded once: the next build reuses these vectors.
                    self.blobs.put(&key, Bytes::from(bundle.to_bytes())).await?;
                }
                entries.extend(bundle.entries());
            }
            let mut pairs: Vec<Entry> = state
                .qnas
                .iter()
                .map(|q| Entry::qna(&q.id.to_string(), &q.question, &q.answer))
                .collect();
            if let Some(model) = &model {
                self.embed_qnas(project, &mut pairs, model).await?;
            }
            entries.extend(pairs);
            let model_id = model.as_ref().map(EmbeddingModel::id);
            let dir = self.settings.work_dir.clone();
            let snapshot = tokio::task::spawn_blocking(move || {
                std::fs::create_dir_all(&dir)?;
                let build = tempfile::tempdir_in(&dir)?;
                let mut builder = IndexBuilder::create(build.path())?;
                if let Some(model) = &model_id {
                    builder = builder.with_embedding_model(model);
                }
                for entry in &entries {
                    builder.add(entry)?;
                }
                builder.finish().map(|(snapshot, _)| snapshot)
            })
            .await
            .map_err(|e| crate::IndexError::Io(std::io::Error::other(e)))??;
            let version = Uuid::now_v7().to_string();
            self.blobs
                .put(&snapshot_key(project, &version), Bytes::from(snapshot.0))
                .await?;
            match self
                .store
                .publish_index_version(project, &version, state.index_version.as_deref())
                .await
            {
                Ok(()) => {
                    // The one replaced stays for a publish more (a function may have read
                    // its version a moment ago); the one before it goes now.
                    if let Some(old) = &state.previous_index_version
                        && let Err(error) = self.blobs.delete(&snapshot_key(project, old)).await
                    {
                        tracing::warn!(%error, old, "an old index snapshot was left behind");
                    }
                    return Ok(version);
                }
                Err(StoreError::Changed) => {
                    let _ = self.blobs.delete(&snapshot_key(project, &version)).await;
                }
                Err(error) => return Err(error.into()),
            }
        }
        Err(SyncError::Contended(project.0))
    }
}

impl<S, B> Worker<S, B>
where
    S: SourceStore + PageStore + IndexVersionStore,
    B: BlobStore,
{
    /// Gives every passage of `bundle` a vector by `model` (all again when its vectors are
    /// another model's); whether it changed.
    async fn embed_bundle(
        &self,
        bundle: &mut Bundle,
        model: &EmbeddingModel,
    ) -> Result<bool, SyncError> {
        let id = model.id();
        if bundle.model.as_deref() != Some(id.as_str()) {
            bundle.clear_vectors();
            bundle.model = Some(id);
        }
        let missing = bundle.unembedded();
        if missing.is_empty() {
            return Ok(false);
        }
        let texts: Vec<String> = missing.iter().map(|(_, text)| text.clone()).collect();
        let vectors = self.embeddings.embed(model, &texts).await?;
        bundle.set_vectors(&missing, vectors);
        Ok(true)
    }

    /// Gives each pair of `pairs` its vector by `model`, from the project's pair vectors
    /// where its text is unchanged, else embedded now (and kept for the next build).
    async fn embed_qnas(
        &self,
        project: ProjectId,
        pairs: &mut [Entry],
        model: &EmbeddingModel,
    ) -> Result<(), SyncError> {
        if pairs.is_empty() {
            return Ok(());
        }
        let key = qna_vectors_key(project);
        let mut kept = match self.blobs.get(&key).await? {
            Some(bytes) => QnaVectors::from_bytes(&bytes),
            None => QnaVectors::default(),
        };
        let id = model.id();
        if kept.model.as_deref() != Some(id.as_str()) {
            kept = QnaVectors {
                model: Some(id),
                vectors: Default::default(),
            };
        }
        let texts: Vec<String> = pairs
            .iter()
            .map(|pair| embedding_text(&pair.title, &[], &pair.text))
            .collect();
        let missing: Vec<usize> = (0..pairs.len())
            .filter(|&i| kept.get(&pairs[i].id, &texts[i]).is_none())
            .collect();
        if !missing.is_empty() {
            let asked: Vec<String> = missing.iter().map(|&i| texts[i].clone()).collect();
            let vectors = self.embeddings.embed(model, &asked).await?;
            for (&i, vector) in missing.iter().zip(vectors) {
                kept.insert(&pairs[i].id, &texts[i], vector);
            }
            kept.retain(pairs.iter().map(|p| p.id.as_str()));
            self.blobs.put(&key, Bytes::from(kept.to_bytes())).await?;
        }
        for (pair, text) in pairs.iter_mut().zip(&texts) {
            pair.vector = kept.get(&pair.id, text).cloned();
        }
        Ok(())
    }
}

/// Adds to `bundle` and `pages` what the last sync had of the pages this one did not meet.
fn keep_unreached(
    bundle: &mut Bundle,
    pages: &mut Vec<PageRecord>,
    previous_pages: &[PageRecord],
    previous_bundle: &Bundle,
) {
    let met: std::collections::HashSet<String> = pages.iter().map(|p| p.url.clone()).collect();
    for page in previous_pages.iter().filter(|p| !met.contains(&p.url)) {
        pages.push(page.clone());
        if let Some(kept) = previous_bundle
            .pages
            .iter()
            .find(|b| b.url.as_deref() == Some(page.url.as_str()))
        {
            bundle.pages.push(kept.clone());
        }
    }
}

/// The record of an indexed page.
fn indexed_record(page: &BundlePage, title: Option<String>) -> PageRecord {
    PageRecord {
        url: page.url.clone().unwrap_or_default(),
        title,
        status: PageStatus::Indexed,
        reason: None,
        passages: u32::try_from(page.passages.len()).unwrap_or(u32::MAX),
        fetched_at: Some(Timestamp::now()),
        content_hash: Some(page.hash.clone()),
        failures: 0,
        etag: None,
        last_modified: None,
    }
}

fn skipped(url: &str, reason: String, title: Option<String>) -> PageRecord {
    PageRecord {
        url: url.to_owned(),
        title,
        status: PageStatus::Skipped,
        reason: Some(reason),
        passages: 0,
        fetched_at: Some(Timestamp::now()),
        content_hash: None,
        failures: 0,
        etag: None,
        last_modified: None,
    }
}

/// Counts what the sync did into `report`.
fn tally(
    report: &mut SyncReport,
    pages: &[PageRecord],
    previous: &[PageRecord],
    previous_bundle: &Bundle,
) {
    let before: HashMap<&str, &PageRecord> = previous.iter().map(|p| (p.url.as_str(), p)).collect();
    let old_hashes: std::collections::HashSet<(&str, Option<&str>)> = previous_bundle
        .pages
        .iter()
        .map(|p| (p.hash.as_str(), p.url.as_deref()))
        .collect();
    for page in pages {
        match page.status {
            PageStatus::Indexed => {
                let unchanged = page.content_hash.as_deref().is_some_and(|hash| {
                    old_hashes.contains(&(hash, Some(page.url.as_str())))
                        && before
                            .get(page.url.as_str())
                            .is_some_and(|b| b.status == PageStatus::Indexed)
                });
                if unchanged {
                    report.pages_unchanged += 1;
                } else {
                    report.pages_indexed += 1;
                }
            }
            PageStatus::Skipped => report.pages_skipped += 1,
            PageStatus::Failed => report.pages_failed += 1,
        }
    }
    let now: std::collections::HashSet<&str> = pages.iter().map(|p| p.url.as_str()).collect();
    report.pages_removed += previous
        .iter()
        .filter(|p| p.status == PageStatus::Indexed && !now.contains(p.url.as_str()))
        .count() as u64;
}
