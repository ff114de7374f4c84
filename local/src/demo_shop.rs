//! The demo shop (`local/demo-shop/`): a small website that the local server serves on a
//! port of its own, registers as the demo project's website source and crawls at start,
//! so a fresh run answers from a site's pages with no network. `{{origin}}` in its
//! robots.txt and sitemap is its own origin, known once it listens.

use std::convert::Infallible;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::server::accept_until;
use crate::site::{content_type, file_response, safe_relative, status};

/// The shop in this repository.
pub fn default_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/demo-shop"))
}

/// A folder of pages served as a website.
#[derive(Clone, Debug)]
pub struct DemoShop {
    root: PathBuf,
    origin: String,
}

impl DemoShop {
    /// The pages under `root`, served at `origin` (`http://127.0.0.1:3002`).
    pub fn new(root: &Path, origin: &str) -> std::io::Result<Self> {
        Ok(Self {
            root: root.canonicalize()?,
            origin: origin.trim_end_matches('/').to_owned(),
        })
    }

    /// Answers one request: a file, a folder's `index.html`, or 404; only GET and HEAD.
    pub async fn answer(&self, method: &Method, path: &str) -> Response<Full<Bytes>> {
        if method != Method::GET && method != Method::HEAD {
            return status(StatusCode::METHOD_NOT_ALLOWED);
        }
        let Some(relative) = safe_relative(path) else {
            return status(StatusCode::NOT_FOUND);
        };
        let mut file = self.root.join(&relative);
        if file.is_dir() {
            file = file.join("index.html");
        }
        let Ok(bytes) = tokio::fs::read(&file).await else {
            return status(StatusCode::NOT_FOUND);
        };
        let kind = content_type(&file);
        let bytes = if matches!(kind, "text/plain; charset=utf-8" | "application/xml") {
            let text = String::from_utf8_lossy(&bytes).replace("{{origin}}", &self.origin);
            Bytes::from(text)
        } else {
            Bytes::from(bytes)
        };
        file_response(bytes, kind, "no-cache")
    }
}

/// Serves `shop` on `listener` until `shutdown` resolves.
pub async fn serve_shop(
    listener: TcpListener,
    shop: Arc<DemoShop>,
    shutdown: impl Future<Output = ()>,
) {
    accept_until(listener, shutdown, move |stream, _| {
        let shop = shop.clone();
        async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let shop = shop.clone();
                async move { Ok::<_, Infallible>(shop.answer(req.method(), req.uri().path()).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        }
    })
    .await;
}

/// Makes the shop at `origin` the demo project's website source (the one it has, synced
/// again, when a file-backed engine kept it from an earlier run) and waits until its sync
/// and index are done, at most `wait`. The source as it stands then.
pub async fn register(
    app: &crate::app::App,
    origin: &str,
    wait: std::time::Duration,
) -> Result<chat_domain::knowledge::Source, chat_domain::ApiError> {
    use chat_domain::input::knowledge::{SourceFields, WebsiteFields};
    use chat_domain::knowledge::SourceKind;
    use chat_storage::ports::SourceStore;

    let caller = chat_domain::ids::Caller::project_scope(chat_domain::ids::ProjectId(
        crate::seed::DEMO_PROJECT,
    ));
    let start = format!("{}/", origin.trim_end_matches('/'));
    let state = app
        .store
        .knowledge(caller.project)
        .await
        .map_err(chat_edge::store_errors::api_error)?;
    let known = state
        .sources
        .iter()
        .find(|s| s.kind == SourceKind::Website && s.url.as_deref() == Some(start.as_str()));
    let source = match known {
        Some(source) => {
            // This process has just started: a sync an earlier one left queued or running
            // is not running any more.
            if source.status.is_busy() {
                let report = source.last_sync.clone().unwrap_or_default();
                app.store
                    .record_sync(
                        caller.project,
                        source.id,
                        chat_domain::knowledge::SourceStatus::Idle,
                        &report,
                        None,
                    )
                    .await
                    .map_err(chat_edge::store_errors::api_error)?;
            }
            app.knowledge.request_sync(caller, source.id).await?
        }
        None => {
            let fields = SourceFields {
                kind: Some(SourceKind::Website),
                name: Some(Some("Demo shop".to_owned())),
                schedule: None,
                website: WebsiteFields {
                    url: Some(start),
                    ..WebsiteFields::default()
                },
                document: Default::default(),
            };
            app.knowledge.add_source(caller, fields).await?
        }
    };
    let _ = tokio::time::timeout(wait, app.jobs.idle()).await;
    app.store
        .source(caller.project, source.id)
        .await
        .map_err(chat_edge::store_errors::api_error)
}
