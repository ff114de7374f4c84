//! Which URLs are one page, and which are in a source's scope (API.md §13). A URL is
//! normalized before it is fetched or compared: its fragment and `utm_*` parameters
//! dropped, its host lower-cased, a default port and `.`/`..` segments removed (the URL
//! parser does these), so one page is fetched once.

use url::Url;

/// The most `include` or `exclude` globs a source has.
pub const MAX_GLOBS: usize = 50;

/// `url` as the crawler keeps it.
pub fn normalize(url: &Url) -> Url {
    let mut url = url.clone();
    url.set_fragment(None);
    if url.query().is_some() {
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(name, _)| !name.to_ascii_lowercase().starts_with("utm_"))
            .map(|(n, v)| (n.into_owned(), v.into_owned()))
            .collect();
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    url
}

/// `href` on the page at `base`, resolved and normalized; none for a link the crawler
/// never follows (`mailto:`, `javascript:`, another scheme, one that does not parse).
pub fn resolve_link(base: &Url, href: &str) -> Option<Url> {
    if href.len() > MAX_URL_BYTES {
        return None;
    }
    let url = base.join(href).ok()?;
    let url = matches!(url.scheme(), "http" | "https").then(|| normalize(&url))?;
    (url.as_str().len() <= MAX_URL_BYTES).then_some(url)
}

/// The longest URL the crawler follows (browsers and servers stop near here too; a page
/// key and its records stay small).
pub const MAX_URL_BYTES: usize = 2_048;

/// A path glob: `*` matches within one segment, `**` across any number of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glob(String);

impl Glob {
    /// A glob, written as a path (`/blog/**`, `/docs/*/intro`); one without a leading `/`
    /// is taken from the root.
    pub fn new(pattern: &str) -> Self {
        let pattern = pattern.trim();
        match pattern.starts_with('/') {
            true => Self(pattern.to_owned()),
            false => Self(format!("/{pattern}")),
        }
    }

    /// Whether `path` matches it.
    pub fn matches(&self, path: &str) -> bool {
        // A glob this small is a few lines; a glob crate would bring a regex engine.
        let pattern: Vec<&str> = self.0.split('/').collect();
        let path: Vec<&str> = path.split('/').collect();
        segments_match(&pattern, &path)
    }
}

fn segments_match(pattern: &[&str], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| segments_match(rest, &path[skip..])),
        Some((first, rest)) => match path.split_first() {
            Some((segment, path_rest)) => {
                segment_matches(first.as_bytes(), segment.as_bytes())
                    && segments_match(rest, path_rest)
            }
            None => false,
        },
    }
}

/// One segment against a pattern whose `*` matches any run of characters.
fn segment_matches(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| segment_matches(rest, &text[skip..])),
        Some((c, rest)) => text.first() == Some(c) && segment_matches(rest, &text[1..]),
    }
}

/// Which URLs a website source crawls: its start URL's scheme and host, paths under its
/// start path or matching an `include`, and none matching an `exclude`.
#[derive(Clone, Debug)]
pub struct Scope {
    start: Url,
    include: Vec<Glob>,
    exclude: Vec<Glob>,
}

impl Scope {
    /// The scope of a source starting at `start`.
    pub fn new(start: &Url, include: &[String], exclude: &[String]) -> Self {
        Self {
            start: normalize(start),
            include: include.iter().map(|g| Glob::new(g)).collect(),
            exclude: exclude.iter().map(|g| Glob::new(g)).collect(),
        }
    }

    /// The start URL, normalized.
    pub fn start(&self) -> &Url {
        &self.start
    }

    /// Whether `url` is on the start URL's site (scheme, host and port).
    pub fn same_site(&self, url: &Url) -> bool {
        url.scheme() == self.start.scheme()
            && url.host_str() == self.start.host_str()
            && url.port_or_known_default() == self.start.port_or_known_default()
    }

    /// Whether `url` is crawled.
    pub fn admits(&self, url: &Url) -> bool {
        if !self.same_site(url) {
            return false;
        }
        let path = url.path();
        let start_path = self.start.path();
        // "/help/" admits "/help/x"; "/help" admits "/help" and "/help/x", not "/helpers".
        let under_start = path.starts_with(start_path)
            && (start_path.ends_with('/')
                || path.len() == start_path.len()
                || path[start_path.len()..].starts_with('/'));
        (under_start || self.include.iter().any(|g| g.matches(path)))
            && !self.exclude.iter().any(|g| g.matches(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn one_page_has_one_url() {
        for (given, want) in [
            (
                "https://Shop.Example:443/a/./b/../c#top",
                "https://shop.example/a/c",
            ),
            (
                "http://shop.example:80/x?utm_source=n&utm_MEDIUM=m",
                "http://shop.example/x",
            ),
            (
                "https://shop.example/x?id=3&utm_campaign=c&q=a+b",
                "https://shop.example/x?id=3&q=a+b",
            ),
            ("https://shop.example:8443/x", "https://shop.example:8443/x"),
        ] {
            assert_eq!(normalize(&url(given)).as_str(), want, "{given}");
        }
        let base = url("https://shop.example/help/shipping");
        assert_eq!(
            resolve_link(&base, "../returns#policy").unwrap().as_str(),
            "https://shop.example/returns"
        );
        for never in [
            "mailto:hi@shop.example",
            "javascript:alert(1)",
            "tel:123",
            "ftp://shop.example/",
        ] {
            assert_eq!(resolve_link(&base, never), None, "{never}");
        }
    }

    #[test]
    fn globs_match_within_and_across_segments() {
        let blog = Glob::new("/blog/**");
        assert!(blog.matches("/blog/2024/a-post"));
        assert!(blog.matches("/blog/"));
        assert!(!blog.matches("/blogger"));
        let one = Glob::new("docs/*/intro");
        assert!(one.matches("/docs/v2/intro"));
        assert!(!one.matches("/docs/v2/x/intro"));
        let suffix = Glob::new("/**/*.pdf");
        assert!(suffix.matches("/files/a/b.pdf"));
        assert!(suffix.matches("/b.pdf"));
        assert!(!suffix.matches("/b.pdf/x"));
        // Patterns that would blow up a naive backtracking matcher stay quick enough.
        let many = Glob::new("/**/**/**/**/**/**/**/x");
        assert!(!many.matches("/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p"));
    }

    #[test]
    fn the_scope_is_the_site_under_the_start_path_with_includes_and_excludes() {
        let scope = Scope::new(
            &url("https://help.example/docs/"),
            &["/faq/**".into()],
            &["/docs/internal/**".into()],
        );
        assert!(scope.admits(&url("https://help.example/docs/start")));
        assert!(scope.admits(&url("https://help.example/faq/shipping")));
        assert!(!scope.admits(&url("https://help.example/docs/internal/x")));
        assert!(!scope.admits(&url("https://help.example/pricing")));
        assert!(!scope.admits(&url("http://help.example/docs/start")));
        assert!(!scope.admits(&url("https://evil.example/docs/start")));
        assert!(!scope.admits(&url("https://help.example:8443/docs/start")));
        let no_slash = Scope::new(&url("https://help.example/help"), &[], &[]);
        assert!(no_slash.admits(&url("https://help.example/help")));
        assert!(no_slash.admits(&url("https://help.example/help/x")));
        assert!(!no_slash.admits(&url("https://help.example/helpers")));
    }
}
