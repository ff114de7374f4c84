//! `GET /v2/search?q=&size=` (API.md §15): the project's knowledge, best first. A widget
//! calls it with its publishable key (the key's origin check applies), a visitor's session
//! token or the project's secret key will do too. The project's index version is read
//! beside the rate-limit counters; the index itself comes from the warm cache when current.

use chat_domain::ApiError;
use chat_domain::ids::Caller;
use chat_domain::input::knowledge::SearchQuery;
use chat_domain::knowledge::SearchResult;
use chat_domain::timestamp::Timestamp;
use chat_edge::api_keys::{allow_key_origin, publishable_key};
use chat_edge::limits::count_reads;
use chat_edge::request::{origin, query_param};
use chat_edge::respond::{json_response, respond};
use chat_edge::store_errors::api_error;
use chat_knowledge::blobs::BlobStore;
use chat_knowledge::jobs::JobQueue;
use chat_knowledge::retrieval::question_vector;
use chat_storage::ports::{
    IndexVersionStore, KeyStore, LimitStore, PageStore, QnaStore, SourceStore,
};
use http::StatusCode;
use http::header::AUTHORIZATION;
use lambda_http::{Body, Request, Response};
use serde_json::json;

use crate::Knowledge;

impl<S, B, Q> Knowledge<S, B, Q>
where
    S: SourceStore + QnaStore + PageStore + IndexVersionStore + KeyStore + LimitStore,
    B: BlobStore,
    Q: JobQueue,
{
    /// `GET /v2/search`.
    pub async fn search(&self, req: Request) -> Response<Body> {
        respond(req, &self.edge.cors, async |req, headers| {
            // A header is the credential when there is one; else the publishable key.
            let caller = if req.headers().contains_key(AUTHORIZATION) {
                chat_edge::auth::caller(&self.edge, &self.store, req.headers()).await?
            } else {
                let origin = origin(&req);
                let (_, context) = publishable_key(
                    &self.edge.keys,
                    &self.store,
                    query_param(&req, "apiKey"),
                    "apiKey",
                    origin,
                )
                .await?;
                allow_key_origin(origin, headers);
                let record = context.key.as_ref().ok_or(ApiError::InvalidApiKey {
                    reason: "unknown key",
                    field: "apiKey",
                })?;
                Caller::project_scope(record.project)
            };
            let query = SearchQuery::parse(|name| query_param(&req, name))?;
            let (version, limits) = tokio::join!(
                self.store.index_version(caller.project),
                count_reads(&self.edge.limiter, &self.store, caller, Timestamp::now()),
            );
            let limits = limits?;
            headers.extend(limits.headers());
            limits.check()?;
            let Some(version) = version.map_err(api_error)? else {
                return Ok(json_response(StatusCode::OK, &json!({ "results": [] })));
            };
            let index = self
                .cache
                .index(&self.blobs, caller.project, &version)
                .await
                .map_err(|error| ApiError::ServiceUnavailable {
                    retry_after: chat_edge::store_errors::STORE_RETRY_AFTER_SECS,
                    cause: Box::new(error),
                })?;
            let vector = question_vector(&self.embeddings, &index, &query.q).await;
            let hits = index
                .search_hybrid(&query.q, vector.as_deref(), query.size)
                .map_err(ApiError::internal)?;
            let results: Vec<SearchResult> = hits
                .into_iter()
                .map(|hit| SearchResult {
                    score: hit.score,
                    path: hit.path(),
                    title: hit.title,
                    content: hit.content,
                    url: hit.url,
                })
                .collect();
            Ok(json_response(
                StatusCode::OK,
                &json!({ "results": results }),
            ))
        })
        .await
    }
}
