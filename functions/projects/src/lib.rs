//! `GET /v2/projects/current?apiKey=<pk>`: the project's public settings, for a widget that
//! knows nothing but its publishable key. Read on every page view, so the key and the
//! project are read together, once per key per process per minute, and the answer may be
//! cached by browsers and CDNs for a minute.

use std::sync::Arc;

use chat_edge::api_keys::{allow_key_origin, publishable_key};
use chat_edge::request::{origin, query_param};
use chat_edge::respond::{json_response, respond};
use chat_edge::{Base, Edge, Handler};
use chat_storage::ports::KeyStore;
use http::HeaderValue;
use http::header::CACHE_CONTROL;
use lambda_http::{Body, Request, Response};

/// How long browsers and CDNs may keep the answer.
pub const CACHE_CONTROL_VALUE: &str = "public, max-age=60";

/// The projects function's state.
pub struct CurrentProject<S> {
    /// Where keys and projects are read.
    pub store: S,
    /// Auth, limits, CORS, the key cache.
    pub edge: Arc<Edge>,
}

impl CurrentProject<chat_storage::DynamoStore> {
    /// The state of a process built from `base`.
    pub fn new(base: &Base) -> Self {
        Self {
            store: base.store.clone(),
            edge: base.edge.clone(),
        }
    }
}

impl<S: KeyStore> Handler for CurrentProject<S> {
    type Body = Body;

    async fn handle(&self, req: Request) -> Response<Body> {
        let (store, edge) = (&self.store, &self.edge);
        respond(req, &edge.cors, async |req, headers| {
            let origin = origin(&req);
            let (_, context) = publishable_key(
                &edge.keys,
                store,
                query_param(&req, "apiKey"),
                "apiKey",
                origin,
            )
            .await?;
            allow_key_origin(origin, headers);
            let mut response = json_response(http::StatusCode::OK, &context.project);
            response
                .headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static(CACHE_CONTROL_VALUE));
            Ok(response)
        })
        .await
    }
}
