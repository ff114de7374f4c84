//! A website's crawl (API.md §13), breadth first from its start URL: robots.txt first (its
//! rules, `Crawl-delay` and `Sitemap:` lines), then the sitemaps (nested indexes, gzipped
//! ones), then the links found in pages; only URLs in the source's scope, each normalized
//! and fetched once, at most `max_pages` of them and `max_depth` links deep, a few at once
//! (one at a time under a `Crawl-delay`). Each URL ends as one [`CrawledPage`]; what to
//! index is decided by the sync, which knows what the last one found.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Instant;

use url::Url;

use crate::crawl::fetch::{Fetched, Fetcher, Validators, Want};
use crate::crawl::robots::Robots;
use crate::crawl::sitemap::{SitemapKind, read_sitemap};
use crate::crawl::urls::{Scope, normalize, resolve_link};
use crate::extract::read_html;
use crate::page::Page;

/// Requests at once to one host.
pub const PER_HOST_CONCURRENCY: usize = 4;
/// The most links between the start URL and a page.
pub const MAX_DEPTH: u32 = 12;
/// The most sitemap files read in one crawl (indexes included).
pub const MAX_SITEMAP_FILES: usize = 50;

/// What a crawl is asked to do.
#[derive(Clone, Debug)]
pub struct CrawlPlan {
    /// The source's scope (its start URL, include and exclude globs).
    pub scope: Scope,
    /// More sitemaps than robots.txt names.
    pub sitemap_urls: Vec<Url>,
    /// The most pages fetched.
    pub max_pages: usize,
    /// The most links deep.
    pub max_depth: u32,
    /// The validators of pages the last sync fetched, by normalized URL.
    pub validators: HashMap<String, Validators>,
    /// When to stop fetching (what is not reached is not reported).
    pub deadline: Option<Instant>,
}

/// What became of one URL.
#[derive(Clone, Debug, PartialEq)]
pub enum PageOutcome {
    /// Readable content.
    Content {
        /// What the page says.
        page: Page,
        /// Its validators, for the next sync.
        validators: Validators,
    },
    /// As it was (304).
    NotModified,
    /// 404 or 410.
    Gone(u16),
    /// Kept out, with why (and its title, when it was read).
    Skipped {
        /// Why.
        reason: String,
        /// The title, when read.
        title: Option<String>,
    },
    /// Not fetched, with why.
    Failed {
        /// Why.
        reason: String,
        /// Whether another try may do better.
        temporary: bool,
    },
}

/// One URL the crawl met.
#[derive(Clone, Debug, PartialEq)]
pub struct CrawledPage {
    /// Its normalized URL.
    pub url: String,
    /// What became of it.
    pub outcome: PageOutcome,
}

/// What a crawl found, or why it could not run at all.
#[derive(Clone, Debug, PartialEq)]
pub struct CrawlReport {
    /// Every URL it met, in the order met.
    pub pages: Vec<CrawledPage>,
    /// Why it could not run (the start URL unreachable, robots.txt forbidding all).
    pub fatal: Option<String>,
    /// Whether it stopped at `max_pages` or the deadline with URLs left.
    pub truncated: bool,
    /// Whether it stopped at the deadline: the pages it did not reach may still exist.
    pub out_of_time: bool,
}

/// The reason a page with no readable text is skipped.
pub const NO_TEXT: &str =
    "no readable text in the HTML (the page is probably rendered by JavaScript in the browser)";

/// Crawls the site `plan` describes with `fetcher`.
pub async fn crawl(fetcher: &Fetcher, plan: &CrawlPlan) -> CrawlReport {
    let scope = &plan.scope;
    let same_site = |url: &Url| scope.same_site(url);
    let start = scope.start().clone();
    let mut report = CrawlReport {
        pages: Vec::new(),
        fatal: None,
        truncated: false,
        out_of_time: false,
    };

    let robots = read_robots(fetcher, &start, &same_site).await;
    let robots = match robots {
        Ok(robots) => robots,
        Err(fatal) => {
            report.fatal = Some(fatal);
            return report;
        }
    };
    if !robots.allows(&start) {
        report.fatal = Some(format!("robots.txt disallows the start URL {start}"));
        return report;
    }
    let delay = robots.crawl_delay;
    let concurrency = if delay.is_some() {
        1
    } else {
        PER_HOST_CONCURRENCY
    };

    let mut seen: HashSet<String> = HashSet::new();
    let mut frontier: VecDeque<(Url, u32)> = VecDeque::new();
    seen.insert(start.to_string());
    frontier.push_back((start.clone(), 0));
    for url in sitemap_pages(fetcher, plan, &robots, &start, &same_site).await {
        if seen.len() >= plan.max_pages.saturating_mul(4).max(plan.max_pages + 100) {
            break;
        }
        if scope.admits(&url) && seen.insert(url.to_string()) {
            frontier.push_back((url, 1));
        }
    }

    let mut fetched = 0usize;
    while !frontier.is_empty() {
        let out_of_time = plan.deadline.is_some_and(|d| Instant::now() >= d);
        if fetched >= plan.max_pages || out_of_time {
            report.truncated = true;
            report.out_of_time = out_of_time;
            break;
        }
        let room = (plan.max_pages - fetched).min(concurrency);
        let mut wave = Vec::new();
        while wave.len() < room {
            let Some((url, depth)) = frontier.pop_front() else {
                break;
            };
            if !robots.allows(&url) {
                report.pages.push(CrawledPage {
                    url: url.to_string(),
                    outcome: PageOutcome::Skipped {
                        reason: "disallowed by robots.txt".into(),
                        title: None,
                    },
                });
                continue;
            }
            wave.push((url, depth));
        }
        if wave.is_empty() {
            continue;
        }
        fetched += wave.len();
        let results = futures_util::future::join_all(wave.iter().map(|(url, _)| {
            fetcher.fetch(
                url,
                Want::Page,
                same_site,
                plan.validators.get(url.as_str()),
            )
        }))
        .await;
        for ((url, depth), result) in wave.into_iter().zip(results) {
            let (outcome, links) = read_page(url.clone(), result, scope, &mut seen);
            if let Some(canonical) = links.canonical {
                report.pages.push(CrawledPage {
                    url: url.to_string(),
                    outcome: PageOutcome::Skipped {
                        reason: format!("duplicate of its canonical URL {canonical}"),
                        title: None,
                    },
                });
                // The canonical URL is the page's key: fetched (once) in its own right. The
                // links found here are that page's too: they are not met again there.
                frontier.push_front((canonical, depth));
                if depth < plan.max_depth {
                    let room = plan
                        .max_pages
                        .saturating_mul(4)
                        .saturating_sub(frontier.len());
                    frontier.extend(
                        links
                            .found
                            .into_iter()
                            .take(room)
                            .map(|link| (link, depth + 1)),
                    );
                }
                continue;
            }
            report.pages.push(CrawledPage {
                url: url.to_string(),
                outcome,
            });
            // The frontier holds at most a few times the pages still to fetch: an endless
            // calendar of URLs costs no more memory than a small site.
            let room = plan
                .max_pages
                .saturating_mul(4)
                .saturating_sub(frontier.len());
            if links.found.len() > room {
                report.truncated = true;
            }
            if depth < plan.max_depth {
                frontier.extend(
                    links
                        .found
                        .into_iter()
                        .take(room)
                        .map(|link| (link, depth + 1)),
                );
            } else if !links.found.is_empty() {
                report.truncated = true;
            }
        }
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
    }
    report
}

/// The links a page hands the crawl: new ones in scope, and its canonical URL when that
/// is another page of the site not yet seen.
struct Links {
    found: Vec<Url>,
    canonical: Option<Url>,
}

fn read_page(
    url: Url,
    fetched: Fetched,
    scope: &Scope,
    seen: &mut HashSet<String>,
) -> (PageOutcome, Links) {
    let mut links = Links {
        found: Vec::new(),
        canonical: None,
    };
    let (final_url, content_type, body, validators, header_noindex) = match fetched {
        Fetched::Body {
            url,
            content_type,
            body,
            validators,
            noindex,
        } => (url, content_type, body, validators, noindex),
        Fetched::NotModified => return (PageOutcome::NotModified, links),
        Fetched::Gone(status) => return (PageOutcome::Gone(status), links),
        Fetched::Skipped(reason) => {
            return (
                PageOutcome::Skipped {
                    reason,
                    title: None,
                },
                links,
            );
        }
        Fetched::Failed { reason, temporary } => {
            return (PageOutcome::Failed { reason, temporary }, links);
        }
    };
    let text = String::from_utf8_lossy(&body);
    let key = url.to_string();
    let page = match content_type.as_str() {
        "text/html" | "application/xhtml+xml" => {
            let html = read_html(&text, final_url.as_str());
            for href in &html.links {
                if let Some(link) = resolve_link(&final_url, href)
                    && scope.admits(&link)
                    && seen.insert(link.to_string())
                {
                    links.found.push(link);
                }
            }
            let canonical = html
                .canonical
                .as_deref()
                .and_then(|c| resolve_link(&final_url, c));
            if let Some(canonical) = canonical
                && canonical.to_string() != key
                && scope.admits(&canonical)
            {
                // The page's key is its canonical URL: fetched in its own right, once.
                if seen.insert(canonical.to_string()) {
                    links.canonical = Some(canonical);
                    return (PageOutcome::NotModified, links);
                }
                return (
                    PageOutcome::Skipped {
                        reason: format!("duplicate of its canonical URL {canonical}"),
                        title: None,
                    },
                    links,
                );
            }
            if html.noindex || header_noindex {
                let source = if html.noindex {
                    "meta robots"
                } else {
                    "X-Robots-Tag"
                };
                return (
                    PageOutcome::Skipped {
                        reason: format!("noindex ({source})"),
                        title: Some(html.page.title).filter(|t| !t.is_empty()),
                    },
                    links,
                );
            }
            let mut page = html.page;
            page.url = Some(key.clone());
            page
        }
        "text/markdown" => Page::from_markdown(&file_title(&final_url), Some(&key), &text),
        _ => Page::from_plain_text(&file_title(&final_url), Some(&key), &text),
    };
    if header_noindex {
        return (
            PageOutcome::Skipped {
                reason: "noindex (X-Robots-Tag)".into(),
                title: Some(page.title),
            },
            links,
        );
    }
    if page.words() == 0 {
        return (
            PageOutcome::Skipped {
                reason: NO_TEXT.into(),
                title: Some(page.title).filter(|t| !t.is_empty()),
            },
            links,
        );
    }
    (PageOutcome::Content { page, validators }, links)
}

/// A text file's title: its file name.
fn file_title(url: &Url) -> String {
    url.path_segments()
        .and_then(|mut segments| segments.next_back().map(str::to_owned))
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| url.host_str().unwrap_or_default().to_owned())
}

/// The site's robots.txt: a missing file allows all, an unreadable one (5xx, timeout)
/// forbids all for now, and an unreachable site is fatal.
async fn read_robots(
    fetcher: &Fetcher,
    start: &Url,
    same_site: &impl Fn(&Url) -> bool,
) -> Result<Robots, String> {
    let Ok(url) = start.join("/robots.txt") else {
        return Ok(Robots::allow_all());
    };
    match fetcher.fetch(&url, Want::File, same_site, None).await {
        Fetched::Body { body, .. } => Ok(Robots::parse(&String::from_utf8_lossy(&body))),
        Fetched::Gone(_) => Ok(Robots::allow_all()),
        Fetched::Failed { reason, .. }
            if reason == "could not connect" || reason == "timed out" =>
        {
            Err(format!("the site is unreachable: {reason} ({url})"))
        }
        Fetched::Skipped(reason) if reason.starts_with("address refused") => {
            Err(format!("the start URL is not fetched: {reason}"))
        }
        Fetched::Failed { reason, .. } => Err(format!(
            "robots.txt could not be read ({reason}), so nothing is crawled for now"
        )),
        // A 4xx other than 404/410, or a redirect off the site: no rules apply.
        Fetched::Skipped(_) | Fetched::NotModified => Ok(Robots::allow_all()),
    }
}

/// The pages the site's sitemaps list: robots.txt's, `/sitemap.xml` and the source's own,
/// nested indexes followed, at most [`MAX_SITEMAP_FILES`] files.
async fn sitemap_pages(
    fetcher: &Fetcher,
    plan: &CrawlPlan,
    robots: &Robots,
    start: &Url,
    same_site: &impl Fn(&Url) -> bool,
) -> Vec<Url> {
    let mut files: VecDeque<Url> = VecDeque::new();
    let mut seen_files = HashSet::new();
    let named = robots
        .sitemaps
        .iter()
        .filter_map(|s| Url::parse(s).ok())
        .chain(start.join("/sitemap.xml").ok())
        .chain(plan.sitemap_urls.iter().cloned());
    for file in named {
        if seen_files.insert(file.to_string()) {
            files.push_back(file);
        }
    }
    let mut pages = Vec::new();
    let mut read = 0;
    while let Some(file) = files.pop_front() {
        if read >= MAX_SITEMAP_FILES || pages.len() >= plan.max_pages.saturating_mul(4) {
            break;
        }
        read += 1;
        let Fetched::Body { body, .. } = fetcher.fetch(&file, Want::File, same_site, None).await
        else {
            continue;
        };
        let Ok(sitemap) = read_sitemap(&body) else {
            tracing::debug!(%file, "an unreadable sitemap is passed over");
            continue;
        };
        for location in sitemap.locations {
            let Some(url) = Url::parse(location.trim())
                .ok()
                .map(|u| normalize(&u))
                .filter(|u| u.as_str().len() <= crate::crawl::urls::MAX_URL_BYTES)
            else {
                continue;
            };
            match sitemap.kind {
                SitemapKind::Index => {
                    if same_site(&url) && seen_files.insert(url.to_string()) {
                        files.push_back(url);
                    }
                }
                SitemapKind::Urlset => pages.push(url),
            }
        }
    }
    pages
}
