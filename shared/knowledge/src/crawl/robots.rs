//! robots.txt as the crawler obeys it: the rules of the group naming its user agent (else
//! `*`), matched by a port of Google's own matcher; that group's `Crawl-delay`, capped; and
//! every `Sitemap:` line.

use std::time::Duration;

use robotstxt::{DefaultMatcher, RobotsParseHandler, parse_robotstxt};
use url::Url;

/// The product token robots.txt groups name the crawler by.
pub const USER_AGENT_TOKEN: &str = "ChatAssistantCrawler";

/// The longest `Crawl-delay` obeyed: a site asking for more is still crawled, this slowly.
pub const MAX_CRAWL_DELAY: Duration = Duration::from_secs(10);

/// The most `Sitemap:` lines read from one robots.txt.
pub const MAX_SITEMAPS: usize = 50;

/// A site's robots.txt, read.
#[derive(Clone, Debug, PartialEq)]
pub struct Robots {
    body: Rules,
    /// Its `Sitemap:` URLs, as written.
    pub sitemaps: Vec<String>,
    /// The crawler's group's `Crawl-delay` (else `*`'s), capped.
    pub crawl_delay: Option<Duration>,
}

#[derive(Clone, Debug, PartialEq)]
enum Rules {
    /// The file's text.
    Text(String),
    /// No file (404): everything may be crawled.
    AllowAll,
    /// The file could not be read (5xx, a timeout): nothing is crawled for now (RFC 9309).
    DisallowAll,
}

impl Robots {
    /// Reads a robots.txt file: its first [`MAX_ROBOTS_BYTES`], lines longer than
    /// [`MAX_LINE_CHARS`] left out (no rule is that long; an HTML page served as robots.txt
    /// is, and the parser is not safe on such lines).
    pub fn parse(text: &str) -> Self {
        let text = bounded(text);
        let mut reader = Reader::default();
        parse_robotstxt(&text, &mut reader);
        Self {
            body: Rules::Text(text),
            sitemaps: reader.sitemaps,
            crawl_delay: reader.ours.or(reader.star).and_then(|delay| {
                Duration::try_from_secs_f64(delay.clamp(0.0, MAX_CRAWL_DELAY.as_secs_f64())).ok()
            }),
        }
    }

    /// A site without a robots.txt.
    pub fn allow_all() -> Self {
        Self {
            body: Rules::AllowAll,
            sitemaps: Vec::new(),
            crawl_delay: None,
        }
    }

    /// A site whose robots.txt could not be read.
    pub fn disallow_all() -> Self {
        Self {
            body: Rules::DisallowAll,
            ..Self::allow_all()
        }
    }

    /// Whether the crawler may fetch `url`.
    pub fn allows(&self, url: &Url) -> bool {
        match &self.body {
            Rules::AllowAll => true,
            Rules::DisallowAll => false,
            Rules::Text(text) => DefaultMatcher::default().one_agent_allowed_by_robots(
                text,
                USER_AGENT_TOKEN,
                url.as_str(),
            ),
        }
    }
}

/// The most of a robots.txt file that is read (Google reads 500 KiB).
pub const MAX_ROBOTS_BYTES: usize = 500 * 1024;
/// The longest line of a robots.txt file that is read.
pub const MAX_LINE_CHARS: usize = 2_000;

/// `text` within [`MAX_ROBOTS_BYTES`] (cut at a character boundary), without its lines
/// over [`MAX_LINE_CHARS`].
fn bounded(text: &str) -> String {
    let mut end = text.len().min(MAX_ROBOTS_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end]
        .lines()
        .filter(|line| line.chars().count() <= MAX_LINE_CHARS)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Collects what the matcher does not: sitemaps, and the delay of the crawler's group and
/// of `*`'s.
#[derive(Default)]
struct Reader {
    sitemaps: Vec<String>,
    /// Whether the current group names the crawler, or `*`.
    group: (bool, bool),
    /// Whether the last line was a `User-agent` (consecutive ones make one group).
    in_agents: bool,
    ours: Option<f64>,
    star: Option<f64>,
}

impl RobotsParseHandler for Reader {
    fn handle_robots_start(&mut self) {}
    fn handle_robots_end(&mut self) {}

    fn handle_user_agent(&mut self, _: u32, user_agent: &str) {
        if !self.in_agents {
            self.group = (false, false);
        }
        self.in_agents = true;
        let agent = user_agent.trim();
        self.group.0 |= agent.eq_ignore_ascii_case(USER_AGENT_TOKEN);
        self.group.1 |= agent == "*";
    }

    fn handle_allow(&mut self, _: u32, _: &str) {
        self.in_agents = false;
    }

    fn handle_disallow(&mut self, _: u32, _: &str) {
        self.in_agents = false;
    }

    fn handle_sitemap(&mut self, _: u32, value: &str) {
        if self.sitemaps.len() < MAX_SITEMAPS && !value.trim().is_empty() {
            self.sitemaps.push(value.trim().to_owned());
        }
    }

    fn handle_unknown_action(&mut self, _: u32, action: &str, value: &str) {
        self.in_agents = false;
        if !action.eq_ignore_ascii_case("crawl-delay") {
            return;
        }
        let Ok(delay) = value.trim().parse::<f64>() else {
            return;
        };
        if !delay.is_finite() || delay < 0.0 {
            return;
        }
        match self.group {
            (true, _) => self.ours = Some(delay),
            (false, true) => self.star = Some(delay),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(path: &str) -> Url {
        Url::parse(&format!("https://shop.example{path}")).unwrap()
    }

    #[test]
    fn the_crawlers_group_wins_over_stars() {
        let robots = Robots::parse(
            "User-agent: *\nDisallow: /\nCrawl-delay: 3\n\n\
             User-agent: OtherBot\nUser-agent: chatassistantcrawler\nDisallow: /cart\nAllow: /cart/help\nCrawl-delay: 0.5\n\n\
             Sitemap: https://shop.example/sitemap.xml\nSitemap: https://shop.example/news.xml.gz\n",
        );
        assert!(robots.allows(&url("/help/shipping")));
        assert!(!robots.allows(&url("/cart/checkout")));
        assert!(robots.allows(&url("/cart/help")));
        assert_eq!(robots.crawl_delay, Some(Duration::from_millis(500)));
        assert_eq!(
            robots.sitemaps,
            vec![
                "https://shop.example/sitemap.xml",
                "https://shop.example/news.xml.gz"
            ]
        );
    }

    #[test]
    fn stars_apply_when_no_group_names_the_crawler_and_delays_are_capped() {
        let robots = Robots::parse("User-agent: *\nDisallow: /private/\nCrawl-delay: 3600\n");
        assert!(robots.allows(&url("/")));
        assert!(!robots.allows(&url("/private/x")));
        assert_eq!(robots.crawl_delay, Some(MAX_CRAWL_DELAY));
    }

    #[test]
    fn everything_disallowed_and_files_that_are_not_robots_txt() {
        let all = Robots::parse("User-agent: *\nDisallow: /\n");
        assert!(!all.allows(&url("/")));
        assert!(!all.allows(&url("/help")));
        let junk = Robots::parse("<html><body>Not found</body></html>\n\u{0}\u{ff}");
        assert!(junk.allows(&url("/help")));
        assert_eq!(junk.crawl_delay, None);
        assert!(Robots::allow_all().allows(&url("/x")));
        assert!(!Robots::disallow_all().allows(&url("/x")));
        let odd = Robots::parse("User-agent: *\nCrawl-delay: -1\nCrawl-delay: NaN\n");
        assert_eq!(odd.crawl_delay, None);
    }

    #[test]
    fn an_html_page_served_as_robots_txt_and_absurd_delays_are_survived() {
        let long = format!(
            "<html>{}</html>\nUser-agent: *\nDisallow: /private/\nCrawl-delay: 1e20",
            "©’".repeat(20_000)
        );
        let robots = Robots::parse(&long);
        assert!(!robots.allows(&Url::parse("https://a.example/private/x").unwrap()));
        assert!(robots.allows(&Url::parse("https://a.example/public").unwrap()));
        assert_eq!(robots.crawl_delay, Some(MAX_CRAWL_DELAY));
    }
}
