//! `…/v2/knowledge/sources`: a project's websites and documents (API.md §13). Creating one
//! queues its first sync; a website's start URL is normalized and claimed, so a project
//! never has two sources for one site; a document's text goes to the blob store before
//! its item, so the worker always finds it.

use bytes::Bytes;
use chat_domain::ApiError;
use chat_domain::assistant::Plan;
use chat_domain::ids::Caller;
use chat_domain::input::knowledge::{ListWindow, PageListQuery, SourceFields};
use chat_domain::knowledge::{
    DocumentType, MAX_SOURCES_PER_PROJECT, Schedule, Source, SourceKind, SourceStatus,
};
use chat_domain::timestamp::Timestamp;
use chat_edge::request::query_param;
use chat_edge::respond::{json_response, respond};
use chat_edge::store_errors::api_error;
use chat_knowledge::blobs::{BlobStore, document_key};
use chat_knowledge::crawl::urls::normalize;
use chat_knowledge::jobs::{JobQueue, SyncJob};
use chat_storage::StoreError;
use chat_storage::ports::{
    IndexVersionStore, KeyStore, LimitStore, PageStore, QnaStore, SourceStore,
};
use http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;
use url::Url;
use uuid::Uuid;

use crate::Knowledge;

/// Attempts of a PATCH while the worker keeps moving the source's sync on.
const PATCH_ATTEMPTS: u32 = 3;

/// The contract's error for a storage failure concerning source `id`.
fn for_source(error: StoreError, id: Uuid) -> ApiError {
    match error {
        StoreError::NotFound => not_found(id),
        StoreError::Exists => url_conflict(),
        StoreError::Busy | StoreError::Changed => ApiError::Conflict {
            message: "A sync of this source is queued or running".to_owned(),
            resource: "source",
            conflicting_field: "status",
        },
        other => api_error(other),
    }
}

fn not_found(id: Uuid) -> ApiError {
    ApiError::NotFound {
        resource: "source",
        id: id.to_string(),
    }
}

fn url_conflict() -> ApiError {
    ApiError::Conflict {
        message: "The project has a website source with this URL already".to_owned(),
        resource: "source",
        conflicting_field: "url",
    }
}

/// The `{sourceId}` path parameter: a UUID (400), of a source of the project (else 404).
fn source_id(req: &Request) -> Result<Uuid, ApiError> {
    let raw = req
        .path_parameters_ref()
        .and_then(|p| p.first("sourceId"))
        .unwrap_or_default();
    chat_domain::input::parse_uuid(raw, "sourceId")
}

/// An http(s) URL with a host, normalized (422 naming `field` otherwise).
pub fn web_url(raw: &str, field: &str) -> Result<String, ApiError> {
    let url = Url::parse(raw.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .ok_or_else(|| {
            ApiError::validation(field, format!("{field} must be an http or https URL"))
        })?;
    Ok(normalize(&url).to_string())
}

/// The website start URL a source claims (none for a document).
fn claim(source: &Source) -> Option<&str> {
    match source.kind {
        SourceKind::Website => source.url.as_deref(),
        SourceKind::Document => None,
    }
}

/// Applies `fields` to `source`, within `cap` pages; the document text it carries.
fn apply(source: &mut Source, fields: SourceFields, cap: u32) -> Result<Option<String>, ApiError> {
    if let Some(name) = fields.name {
        source.name = name;
    }
    if let Some(schedule) = fields.schedule {
        source.schedule = schedule;
    }
    match source.kind {
        SourceKind::Website => {
            let website = fields.website;
            if let Some(url) = website.url {
                source.url = Some(web_url(&url, "url")?);
            }
            if let Some(sitemaps) = website.sitemap_urls {
                source.sitemap_urls = sitemaps
                    .iter()
                    .map(|u| web_url(u, "sitemapUrls"))
                    .collect::<Result<_, _>>()?;
            }
            if let Some(include) = website.include {
                source.include = include;
            }
            if let Some(exclude) = website.exclude {
                source.exclude = exclude;
            }
            if let Some(max) = website.max_pages {
                source.max_pages = Some(max);
            }
            let max = source.max_pages.unwrap_or(cap);
            if max > cap {
                return Err(ApiError::validation(
                    "maxPages",
                    format!("maxPages is at most {cap} on the project's plan"),
                ));
            }
            source.max_pages = Some(max);
            Ok(None)
        }
        SourceKind::Document => {
            let document = fields.document;
            if let Some(title) = document.title {
                source.title = Some(title);
            }
            if let Some(kind) = document.content_type {
                source.content_type = Some(kind);
            }
            if let Some(url) = document.url {
                source.url = url.map(|u| web_url(&u, "url")).transpose()?;
            }
            Ok(document.content)
        }
    }
}

impl<S, B, Q> Knowledge<S, B, Q>
where
    S: SourceStore + QnaStore + PageStore + IndexVersionStore + KeyStore + LimitStore,
    B: BlobStore,
    Q: JobQueue,
{
    /// The plan's page cap of the caller's project.
    fn cap(&self, plan: Option<Plan>) -> u32 {
        self.caps.of(plan.unwrap_or(Plan::Free))
    }

    /// Stores a document's text where the worker reads it.
    async fn put_document(&self, caller: Caller, id: Uuid, text: String) -> Result<(), ApiError> {
        self.blobs
            .put(&document_key(caller.project, id), Bytes::from(text))
            .await
            .map_err(|error| ApiError::ServiceUnavailable {
                retry_after: chat_edge::store_errors::STORE_RETRY_AFTER_SECS,
                cause: Box::new(error),
            })
    }

    /// `GET /v2/knowledge/sources`: the project's sources, newest first.
    pub async fn list_sources(&self, req: Request) -> Response<Body> {
        respond(req, &self.edge.cors, async |req, headers| {
            let caller = self.project_caller(req.headers(), headers).await?;
            let window = ListWindow::parse(|name| query_param(&req, name))?;
            let state = self
                .store
                .knowledge(caller.project)
                .await
                .map_err(api_error)?;
            let mut sources = state.sources;
            sources.reverse();
            let total = sources.len();
            Ok(json_response(
                StatusCode::OK,
                &json!({ "object": "list", "total": total, "limit": window.limit,
                         "offset": window.offset, "data": window.of(sources) }),
            ))
        })
        .await
    }

    /// `POST /v2/knowledge/sources`: 201 with the source, queued for its first sync.
    pub async fn create_source(&self, req: Request) -> Response<Body> {
        respond(req, &self.edge.cors, async |req, headers| {
            let caller = self.project_caller(req.headers(), headers).await?;
            let fields = SourceFields::parse_new(req.body().as_ref())?;
            let source = self.add_source(caller, fields).await?;
            Ok(json_response(StatusCode::CREATED, &source))
        })
        .await
    }

    /// Adds a source to the caller's project and queues its first sync: what the route
    /// and the operator's `admin add-source` do.
    pub async fn add_source(
        &self,
        caller: Caller,
        fields: SourceFields,
    ) -> Result<Source, ApiError> {
        let state = self
            .store
            .knowledge(caller.project)
            .await
            .map_err(api_error)?;
        if state.sources.len() >= MAX_SOURCES_PER_PROJECT {
            return Err(ApiError::validation(
                "body",
                format!("a project has at most {MAX_SOURCES_PER_PROJECT} sources"),
            ));
        }
        let now = Timestamp::now();
        let kind = fields.kind.unwrap_or(SourceKind::Website);
        let mut source = Source {
            id: Uuid::now_v7(),
            kind,
            name: None,
            url: None,
            sitemap_urls: Vec::new(),
            include: Vec::new(),
            exclude: Vec::new(),
            max_pages: None,
            schedule: match kind {
                SourceKind::Website => Schedule::Daily,
                SourceKind::Document => Schedule::Manual,
            },
            status: SourceStatus::Queued,
            last_sync: None,
            title: None,
            content_type: (kind == SourceKind::Document).then_some(DocumentType::Markdown),
            created_at: now,
            updated_at: now,
        };
        let text = apply(&mut source, fields, self.cap(state.plan))?;
        if let Some(text) = text {
            self.put_document(caller, source.id, text).await?;
        }
        self.store
            .create_source(caller.project, &source, claim(&source))
            .await
            .map_err(|e| for_source(e, source.id))?;
        self.enqueue(&SyncJob::Sync {
            project: caller.project.0,
            source: source.id,
        })
        .await?;
        Ok(source)
    }

    /// Queues a sync of source `id` (409 while one is queued or running): what the route
    /// and the operator's `admin sync` do.
    pub async fn request_sync(&self, caller: Caller, id: Uuid) -> Result<Source, ApiError> {
        let source = self
            .store
            .queue_sync(caller.project, id, Timestamp::now())
            .await
            .map_err(|e| for_source(e, id))?;
        self.enqueue(&SyncJob::Sync {
            project: caller.project.0,
            source: id,
        })
        .await?;
        Ok(source)
    }

    /// `GET /v2/knowledge/sources/{sourceId}`.
    pub async fn get_source(&self, req: Request) -> Response<Body> {
        respond(req, &self.edge.cors, async |req, headers| {
            let caller = self.project_caller(req.headers(), headers).await?;
            let id = source_id(&req)?;
            let source = self
                .store
                .source(caller.project, id)
                .await
                .map_err(|e| for_source(e, id))?;
            Ok(json_response(StatusCode::OK, &source))
        })
        .await
    }

    /// `PATCH /v2/knowledge/sources/{sourceId}`: a website's settings apply from its next
    /// sync; a document's new text queues its re-indexing.
    pub async fn update_source(&self, req: Request) -> Response<Body> {
        respond(req, &self.edge.cors, async |req, headers| {
            let caller = self.project_caller(req.headers(), headers).await?;
            let id = source_id(&req)?;
            // Read, change, write on the condition that the worker did not move the sync
            // on meanwhile; when it did, again from a fresh read.
            let mut attempts = 0;
            let source = loop {
                attempts += 1;
                match self.patch_source(caller, id, req.body().as_ref()).await {
                    Err(ApiError::Conflict {
                        resource: "source",
                        conflicting_field: "status",
                        ..
                    }) if attempts < PATCH_ATTEMPTS => {
                        continue;
                    }
                    other => break other?,
                }
            };
            Ok(json_response(StatusCode::OK, &source))
        })
        .await
    }

    /// One attempt of a PATCH: the source read, changed and written back if its sync did
    /// not move on meanwhile (then 409 `status`, which [`Knowledge::update_source`] retries).
    async fn patch_source(
        &self,
        caller: Caller,
        id: Uuid,
        body: &[u8],
    ) -> Result<Source, ApiError> {
        let (current, state) = tokio::join!(
            self.store.source(caller.project, id),
            self.store.knowledge(caller.project)
        );
        let current = current.map_err(|e| for_source(e, id))?;
        let state = state.map_err(api_error)?;
        let fields = SourceFields::parse_patch(body, current.kind)?;
        let mut source = current.clone();
        let text = apply(&mut source, fields, self.cap(state.plan))?;
        // A document is indexed from its text, title, type and URL: a change to any is
        // indexed again now (its schedule is manual).
        let requeue = source.kind == SourceKind::Document
            && (text.is_some()
                || source.url != current.url
                || source.title != current.title
                || source.content_type != current.content_type);
        if let Some(text) = text {
            self.put_document(caller, id, text).await?;
        }
        if requeue && !source.status.is_busy() {
            source.status = SourceStatus::Queued;
        }
        source.updated_at = Timestamp::now();
        self.store
            .replace_source(
                caller.project,
                &current,
                &source,
                claim(&current),
                claim(&source),
            )
            .await
            .map_err(|e| for_source(e, id))?;
        if requeue {
            self.enqueue(&SyncJob::Sync {
                project: caller.project.0,
                source: id,
            })
            .await?;
        }
        Ok(source)
    }

    /// `DELETE /v2/knowledge/sources/{sourceId}`: its pages leave the index with the next
    /// build, which the removal queues.
    pub async fn delete_source(&self, req: Request) -> Response<Body> {
        respond(req, &self.edge.cors, async |req, headers| {
            let caller = self.project_caller(req.headers(), headers).await?;
            let id = source_id(&req)?;
            let source = self
                .store
                .source(caller.project, id)
                .await
                .map_err(|e| for_source(e, id))?;
            self.store
                .delete_source(caller.project, id, claim(&source))
                .await
                .map_err(|e| for_source(e, id))?;
            self.enqueue(&SyncJob::Forget {
                project: caller.project.0,
                source: id,
            })
            .await?;
            Ok(json_response(StatusCode::OK, &json!({ "success": true })))
        })
        .await
    }

    /// `POST /v2/knowledge/sources/{sourceId}/sync`: 202 with the source, queued; 409
    /// while a sync is queued or running.
    pub async fn sync_source(&self, req: Request) -> Response<Body> {
        respond(req, &self.edge.cors, async |req, headers| {
            let caller = self.project_caller(req.headers(), headers).await?;
            let id = source_id(&req)?;
            let source = self.request_sync(caller, id).await?;
            Ok(json_response(StatusCode::ACCEPTED, &source))
        })
        .await
    }

    /// `GET /v2/knowledge/sources/{sourceId}/pages`: every page the last syncs met, with
    /// why each is in or out, by URL.
    pub async fn list_pages(&self, req: Request) -> Response<Body> {
        respond(req, &self.edge.cors, async |req, headers| {
            let caller = self.project_caller(req.headers(), headers).await?;
            let id = source_id(&req)?;
            let query = PageListQuery::parse(|name| query_param(&req, name))?;
            let (source, pages) = tokio::join!(
                self.store.source(caller.project, id),
                self.store.pages(caller.project, id)
            );
            source.map_err(|e| for_source(e, id))?;
            let pages: Vec<_> = pages
                .map_err(api_error)?
                .into_iter()
                .filter(|p| query.status.is_none_or(|s| p.status == s))
                .collect();
            let total = pages.len();
            Ok(json_response(
                StatusCode::OK,
                &json!({ "object": "list", "total": total, "limit": query.window.limit,
                         "offset": query.window.offset, "data": query.window.of(pages) }),
            ))
        })
        .await
    }
}
