//! One fetch of a crawl, with every rule of API.md §13 that a single URL obeys: the
//! public-address rule before every request and every redirect (names through
//! [`GuardedResolver`], literal addresses through [`check_url`]), at most
//! [`MAX_REDIRECTS`] hops and none off the site, a time cap on the whole exchange, a size
//! cap counted after decompression (a gzip bomb stops at the cap), the content types that
//! are indexed, `X-Robots-Tag`, and conditional GETs.

use std::io::Read;
use std::time::Duration;

use bytes::Bytes;
use http::header::{
    ACCEPT, ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE,
    IF_NONE_MATCH, LAST_MODIFIED, LOCATION,
};
use url::Url;

use crate::crawl::address::{AddressPolicy, GuardedResolver, check_url};
use crate::crawl::robots::USER_AGENT_TOKEN;

/// The most redirects followed from one URL.
pub const MAX_REDIRECTS: usize = 5;
/// The largest page taken, counted after decompression.
pub const MAX_PAGE_BYTES: usize = 5 * 1024 * 1024;
/// The longest one request may take, its body included.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(15);

/// The content types that are indexed.
pub const INDEXED_TYPES: [&str; 4] = [
    "text/html",
    "application/xhtml+xml",
    "text/plain",
    "text/markdown",
];

/// How the crawler fetches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FetchSettings {
    /// Which addresses may be fetched.
    pub policy: AddressPolicy,
    /// The size cap of a page, after decompression.
    pub max_page_bytes: usize,
    /// The size cap of a sitemap or robots.txt, after decompression.
    pub max_file_bytes: usize,
    /// The time cap of one exchange.
    pub timeout: Duration,
}

impl Default for FetchSettings {
    fn default() -> Self {
        Self {
            policy: AddressPolicy::default(),
            max_page_bytes: MAX_PAGE_BYTES,
            max_file_bytes: crate::crawl::sitemap::MAX_BYTES as usize,
            timeout: FETCH_TIMEOUT,
        }
    }
}

/// The validators of a page's last good answer, for a conditional GET.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Validators {
    /// `ETag`.
    pub etag: Option<String>,
    /// `Last-Modified`.
    pub last_modified: Option<String>,
}

/// What a fetch found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fetched {
    /// A body of an indexed type (or any type, for a file).
    Body {
        /// Where it was found, after redirects.
        url: Url,
        /// Its media type, lower case, without parameters.
        content_type: String,
        /// Its bytes, decompressed.
        body: Bytes,
        /// Its validators.
        validators: Validators,
        /// `X-Robots-Tag: noindex`.
        noindex: bool,
    },
    /// 304: the page is as it was.
    NotModified,
    /// 404 or 410: the page is gone.
    Gone(u16),
    /// Kept out, with the reason.
    Skipped(String),
    /// Not fetched, with the reason; `temporary` for a timeout, a connection failure or a
    /// 5xx (its last good content is kept until the third in a row).
    Failed {
        /// Why.
        reason: String,
        /// Whether another try may do better.
        temporary: bool,
    },
}

/// What is fetched: a page (only indexed types) or a file (robots.txt, a sitemap).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    /// A page to index.
    Page,
    /// robots.txt or a sitemap: any type, a larger cap.
    File,
}

/// The crawler's HTTP client.
#[derive(Clone, Debug)]
pub struct Fetcher {
    client: reqwest::Client,
    settings: FetchSettings,
}

/// The crawler's `User-Agent`: its own name, with a URL that says what it is.
pub fn user_agent() -> String {
    format!(
        "Mozilla/5.0 (compatible; {USER_AGENT_TOKEN}/1.0; +https://github.com/chat-assistant/knowledge-crawler)"
    )
}

impl Fetcher {
    /// A client that resolves names through the address rule, follows no redirect by
    /// itself, uses no proxy and sends the crawler's user agent.
    pub fn new(settings: FetchSettings) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .dns_resolver(GuardedResolver::new(settings.policy))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(user_agent())
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(5)))
            .build()?;
        Ok(Self { client, settings })
    }

    /// The settings it fetches with.
    pub fn settings(&self) -> FetchSettings {
        self.settings
    }

    /// Fetches `url`, following redirects that stay on the site (`same_site`), each hop
    /// checked again; with `validators`, conditionally.
    pub async fn fetch(
        &self,
        url: &Url,
        want: Want,
        same_site: impl Fn(&Url) -> bool,
        validators: Option<&Validators>,
    ) -> Fetched {
        let cap = match want {
            Want::Page => self.settings.max_page_bytes,
            Want::File => self.settings.max_file_bytes,
        };
        let exchange = self.follow(url, want, cap, same_site, validators);
        // The client's timeout covers each request; this covers the whole chain.
        match tokio::time::timeout(self.settings.timeout * 2, exchange).await {
            Ok(fetched) => fetched,
            Err(_) => Fetched::Failed {
                reason: "timed out".into(),
                temporary: true,
            },
        }
    }

    async fn follow(
        &self,
        url: &Url,
        want: Want,
        cap: usize,
        same_site: impl Fn(&Url) -> bool,
        validators: Option<&Validators>,
    ) -> Fetched {
        let mut current = url.clone();
        for hop in 0..=MAX_REDIRECTS {
            if let Err(refusal) = check_url(&current, self.settings.policy) {
                return Fetched::Skipped(format!("address refused: {refusal}"));
            }
            let mut request = self
                .client
                .get(current.clone())
                .header(ACCEPT_ENCODING, "gzip")
                .header(
                    ACCEPT,
                    "text/html, application/xhtml+xml, text/plain, text/markdown, */*;q=0.1",
                );
            if let (Want::Page, Some(validators)) = (want, validators) {
                if let Some(etag) = &validators.etag {
                    request = request.header(IF_NONE_MATCH, etag);
                }
                if let Some(modified) = &validators.last_modified {
                    request = request.header(IF_MODIFIED_SINCE, modified);
                }
            }
            let response = match request.send().await {
                Ok(response) => response,
                Err(error) => return failure(&error),
            };
            let status = response.status();
            if status.is_redirection() && status != reqwest::StatusCode::NOT_MODIFIED {
                let Some(location) = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .and_then(|l| current.join(l).ok())
                else {
                    return Fetched::Failed {
                        reason: format!("HTTP {} without a usable Location", status.as_u16()),
                        temporary: false,
                    };
                };
                if !matches!(location.scheme(), "http" | "https") {
                    return Fetched::Skipped(format!(
                        "redirect to a non-web URL ({})",
                        location.scheme()
                    ));
                }
                if let Err(refusal) = check_url(&location, self.settings.policy) {
                    return Fetched::Skipped(format!(
                        "redirect to a refused address ({location}): address refused: {refusal}"
                    ));
                }
                if !same_site(&location) {
                    return Fetched::Skipped(format!("redirect to another site ({location})"));
                }
                if hop == MAX_REDIRECTS {
                    break;
                }
                current = location;
                continue;
            }
            return self.read(response, current, want, cap).await;
        }
        Fetched::Skipped(format!("more than {MAX_REDIRECTS} redirects"))
    }

    async fn read(
        &self,
        mut response: reqwest::Response,
        url: Url,
        want: Want,
        cap: usize,
    ) -> Fetched {
        let status = response.status();
        match status.as_u16() {
            304 => return Fetched::NotModified,
            404 | 410 => return Fetched::Gone(status.as_u16()),
            200..=299 => {}
            500..=599 | 429 | 408 => {
                return Fetched::Failed {
                    reason: format!("HTTP {}", status.as_u16()),
                    temporary: true,
                };
            }
            other => {
                return Fetched::Failed {
                    reason: format!("HTTP {other}"),
                    temporary: false,
                };
            }
        }
        let headers = response.headers().clone();
        let header = |name| {
            headers
                .get(name)
                .and_then(|v: &http::HeaderValue| v.to_str().ok())
        };
        let content_type = header(CONTENT_TYPE)
            .and_then(|t| t.split(';').next())
            .map(|t| t.trim().to_ascii_lowercase())
            .unwrap_or_else(|| "text/html".into());
        if want == Want::Page && !INDEXED_TYPES.contains(&content_type.as_str()) {
            return Fetched::Skipped(format!("not a text page ({content_type})"));
        }
        let noindex = headers
            .get_all("x-robots-tag")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(robots_tag_noindex);
        let gzipped = header(CONTENT_ENCODING).is_some_and(|e| e.eq_ignore_ascii_case("gzip"));
        let validators = Validators {
            etag: header(ETAG).map(str::to_owned),
            last_modified: header(LAST_MODIFIED).map(str::to_owned),
        };
        let mut raw = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if raw.len() + chunk.len() > cap {
                        return too_large(cap);
                    }
                    raw.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(error) => return failure(&error),
            }
        }
        let body = if gzipped {
            let mut inflated = Vec::new();
            let decoder = flate2::read::GzDecoder::new(raw.as_slice());
            match decoder.take(cap as u64 + 1).read_to_end(&mut inflated) {
                Ok(_) if inflated.len() > cap => return too_large(cap),
                Ok(_) => Bytes::from(inflated),
                Err(error) => {
                    return Fetched::Failed {
                        reason: format!("bad gzip body: {error}"),
                        temporary: false,
                    };
                }
            }
        } else {
            Bytes::from(raw)
        };
        Fetched::Body {
            url,
            content_type,
            body,
            validators,
            noindex,
        }
    }
}

/// Whether an `X-Robots-Tag` value keeps the page out: `noindex` or `none`, for every
/// crawler or for ours.
fn robots_tag_noindex(value: &str) -> bool {
    let value = value.to_ascii_lowercase();
    let rules = match value.split_once(':') {
        Some((agent, rules)) if !agent.contains(',') && !agent.trim().contains(' ') => {
            if agent.trim() != USER_AGENT_TOKEN.to_ascii_lowercase() {
                return false;
            }
            rules
        }
        _ => value.as_str(),
    };
    rules
        .split(',')
        .map(str::trim)
        .any(|rule| rule == "noindex" || rule == "none")
}

fn too_large(cap: usize) -> Fetched {
    Fetched::Skipped(format!("larger than {} MB", cap / (1024 * 1024)))
}

fn failure(error: &reqwest::Error) -> Fetched {
    // The resolver's refusal travels as the error's source: say so, and never retry it.
    let mut source: Option<&dyn std::error::Error> = Some(error);
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<crate::crawl::address::RefusedName>() {
            return Fetched::Skipped(format!("address refused: {refused}"));
        }
        source = cause.source();
    }
    let reason = if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "could not connect".to_owned()
    } else {
        format!("fetch failed: {error}")
    };
    Fetched::Failed {
        reason,
        temporary: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x_robots_tag_is_read_for_every_crawler_and_for_ours() {
        assert!(robots_tag_noindex("noindex"));
        assert!(robots_tag_noindex("noarchive, NoIndex"));
        assert!(robots_tag_noindex("none"));
        assert!(robots_tag_noindex("ChatAssistantCrawler: noindex"));
        assert!(!robots_tag_noindex("otherbot: noindex"));
        assert!(!robots_tag_noindex("nofollow"));
        assert!(!robots_tag_noindex(
            "unavailable_after: 25 Jun 2010 15:00:00 PST"
        ));
    }
}
