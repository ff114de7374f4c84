//! The demo site (web/, built into web/dist) served on a port of its own, so that the page
//! and the API are different origins and a browser really exercises CORS. `config.json` is
//! answered from memory with this server's API address and the demo publishable key: the
//! site reads its configuration at run time, not at build time.

use std::convert::Infallible;
use std::future::Future;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::server::accept_until;

/// The built site and what `config.json` says.
#[derive(Clone, Debug)]
pub struct Site {
    root: PathBuf,
    config: Bytes,
}

impl Site {
    /// The site built in `root` (it must hold an `index.html`), pointed at the API at
    /// `api_base` with the publishable key `key`.
    pub fn new(root: &Path, api_base: &str, key: &str) -> std::io::Result<Self> {
        let root = root.canonicalize()?;
        if !root.join("index.html").is_file() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!(
                    "{} has no index.html (build it: cd web && npm ci && npm run build)",
                    root.display()
                ),
            ));
        }
        let config = serde_json::json!({ "apiBase": api_base, "publishableKey": key });
        Ok(Self {
            root,
            config: Bytes::from(config.to_string()),
        })
    }

    /// Answers one request: `config.json`, a file of the build, or `index.html` for a path
    /// with no file (the page routes itself); only GET and HEAD.
    pub async fn answer(&self, method: &Method, path: &str) -> Response<Full<Bytes>> {
        if method != Method::GET && method != Method::HEAD {
            return status(StatusCode::METHOD_NOT_ALLOWED);
        }
        if path == "/config.json" {
            return file_response(self.config.clone(), "application/json", "no-store");
        }
        let Some(relative) = safe_relative(path) else {
            return status(StatusCode::NOT_FOUND);
        };
        let mut file = self.root.join(&relative);
        if relative.as_os_str().is_empty() || file.is_dir() {
            file = file.join("index.html");
        }
        if !file.is_file() && relative.extension().is_none() {
            file = self.root.join("index.html");
        }
        match tokio::fs::read(&file).await {
            Ok(bytes) => {
                // Hashed asset names never change content; the page itself always may.
                let cache = if relative.starts_with("assets") {
                    "public, max-age=31536000, immutable"
                } else {
                    "no-cache"
                };
                file_response(Bytes::from(bytes), content_type(&file), cache)
            }
            Err(_) => status(StatusCode::NOT_FOUND),
        }
    }
}

/// `path` as a path below the site's root, when it names no parent and no absolute place.
pub(crate) fn safe_relative(path: &str) -> Option<PathBuf> {
    let decoded = path.split('?').next().unwrap_or("");
    let mut relative = PathBuf::new();
    for component in Path::new(decoded.trim_start_matches('/')).components() {
        match component {
            Component::Normal(part) => relative.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(relative)
}

pub(crate) fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        "xml" => "application/xml",
        _ => "application/octet-stream",
    }
}

pub(crate) fn file_response(
    bytes: Bytes,
    kind: &'static str,
    cache: &'static str,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(bytes));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(kind));
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

pub(crate) fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = code;
    response
}

/// Serves `site` on `listener` until `shutdown` resolves.
pub async fn serve_site(
    listener: TcpListener,
    site: Arc<Site>,
    shutdown: impl Future<Output = ()>,
) {
    accept_until(listener, shutdown, move |stream, _| {
        let site = site.clone();
        async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let site = site.clone();
                async move { Ok::<_, Infallible>(site.answer(req.method(), req.uri().path()).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    fn site() -> (tempdir::Dir, Site) {
        let dir = tempdir::Dir::new();
        std::fs::create_dir_all(dir.path().join("assets")).unwrap();
        std::fs::write(dir.path().join("index.html"), "<html>shop</html>").unwrap();
        std::fs::write(dir.path().join("assets/app-1a2b.js"), "console.log(1)").unwrap();
        let site = Site::new(dir.path(), "http://127.0.0.1:3000", "pk_demo").unwrap();
        (dir, site)
    }

    async fn body(response: Response<Full<Bytes>>) -> String {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn the_page_its_assets_and_its_configuration_are_served() {
        let (_dir, site) = site();
        let page = site.answer(&Method::GET, "/").await;
        assert_eq!(page.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(body(page).await, "<html>shop</html>");
        let script = site.answer(&Method::GET, "/assets/app-1a2b.js").await;
        assert_eq!(
            script.headers()[CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        let config = site.answer(&Method::GET, "/config.json").await;
        let config: serde_json::Value = serde_json::from_str(&body(config).await).unwrap();
        assert_eq!(config["apiBase"], "http://127.0.0.1:3000");
        assert_eq!(config["publishableKey"], "pk_demo");
        // The page routes itself: a path with no file is the page.
        assert_eq!(
            body(site.answer(&Method::GET, "/conversations/1").await).await,
            "<html>shop</html>"
        );
    }

    #[tokio::test]
    async fn nothing_outside_the_build_is_served() {
        let (_dir, site) = site();
        for path in ["/../Cargo.toml", "/assets/../../secret.txt", "/missing.js"] {
            assert_eq!(
                site.answer(&Method::GET, path).await.status(),
                404,
                "{path}"
            );
        }
        assert_eq!(site.answer(&Method::POST, "/").await.status(), 405);
    }

    /// A directory removed when dropped.
    mod tempdir {
        pub struct Dir(std::path::PathBuf);

        impl Dir {
            pub fn new() -> Self {
                let path = std::env::temp_dir().join(format!("site-{}", uuid::Uuid::new_v4()));
                std::fs::create_dir_all(&path).unwrap();
                Self(path)
            }

            pub fn path(&self) -> &std::path::Path {
                &self.0
            }
        }

        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }
}
