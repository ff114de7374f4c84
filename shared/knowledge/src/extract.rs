//! What an HTML page says and where it leads: its title, language, main content (without
//! navigation, header, footer, sidebars, scripts, styles, forms and cookie banners), its
//! canonical URL, whether it asks not to be indexed, and its links. The page is parsed by
//! html5ever (through `dom_query`) and its main content found by a readability scorer
//! (`dom_smoothie`); nothing here is a hand-written HTML parser.

use dom_query::Document;
use dom_smoothie::{Config, Readability, TextMode};

use crate::page::Page;

/// The most links one page hands the crawler (a page of 10,000 links costs no more).
pub const MAX_LINKS_PER_PAGE: usize = 2_000;

/// The most elements a page may have before its content is not looked for.
const MAX_ELEMENTS: usize = 200_000;

/// Elements that are never a page's main content. The readability scorer drops most of
/// them too; removing them first means a short page's content is not mistaken for them.
const BOILERPLATE: &str = "script, style, noscript, template, iframe, svg, canvas, form, \
    button, select, nav, header, footer, aside, dialog, \
    [role=navigation], [role=banner], [role=contentinfo], [role=complementary], \
    [role=dialog], [role=alertdialog], [aria-hidden=true], [hidden], \
    [id*=cookie], [class*=cookie], [id*=consent], [class*=consent], \
    [id*=gdpr], [class*=gdpr]";

/// An HTML page, read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HtmlPage {
    /// Its readable content; its `sections` are empty when it has none (a page that a
    /// browser would render with JavaScript).
    pub page: Page,
    /// `<link rel="canonical">`, as written.
    pub canonical: Option<String>,
    /// `<meta name="robots" content="noindex">`.
    pub noindex: bool,
    /// The `href` of its links, as written, in order, at most [`MAX_LINKS_PER_PAGE`].
    pub links: Vec<String>,
}

/// Reads `html`, fetched from `url` (an absolute URL).
pub fn read_html(html: &str, url: &str) -> HtmlPage {
    let doc = Document::from(html);
    let meta = |selector: &str| {
        let found = doc.select_single(selector).attr("content");
        found.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    };
    let text_of = |selector: &str| {
        let text = doc.select_single(selector).text();
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        (!text.is_empty()).then_some(text)
    };
    let title = text_of("title")
        .or_else(|| meta("meta[property='og:title']"))
        .or_else(|| text_of("h1"))
        .unwrap_or_default();
    let lang = doc
        .select_single("html")
        .attr("lang")
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty());
    let noindex = doc
        .select("meta[name]")
        .iter()
        .filter(|m| {
            m.attr("name")
                .is_some_and(|n| n.eq_ignore_ascii_case("robots"))
        })
        .any(|m| {
            m.attr("content")
                .is_some_and(|c| c.to_ascii_lowercase().contains("noindex"))
        });
    let canonical = doc
        .select("link[rel][href]")
        .iter()
        .find(|l| {
            l.attr("rel").is_some_and(|r| {
                r.split_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("canonical"))
            })
        })
        .and_then(|l| l.attr("href"))
        .map(|h| h.trim().to_owned());
    let links = doc
        .select("a[href]")
        .iter()
        .filter_map(|a| a.attr("href"))
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .take(MAX_LINKS_PER_PAGE)
        .collect();

    doc.select(BOILERPLATE).remove();
    let markdown = main_content(doc, url);
    let mut page = Page::from_markdown(&title, Some(url), &markdown);
    page.title = title;
    page.lang = lang;
    HtmlPage {
        page,
        canonical,
        noindex,
        links,
    }
}

/// The main content as Markdown: the readability scorer's article, or the whole body
/// when the scorer finds none (a short page is all content).
fn main_content(doc: Document, url: &str) -> String {
    let body = doc
        .select_single("body")
        .nodes()
        .first()
        .map(|node| node.md(None).to_string())
        .unwrap_or_default();
    let config = Config {
        text_mode: TextMode::Markdown,
        max_elements_to_parse: MAX_ELEMENTS,
        ..Config::default()
    };
    let article = Readability::with_document(doc, Some(url), Some(config))
        .and_then(|mut readability| readability.parse());
    match article {
        // The scorer keeps the article's best block; on a page whose content is split
        // across several blocks it can keep less than the body's text, so the longer wins.
        Ok(article) if words(&article.text_content) * 2 >= words(&body) => {
            article.text_content.to_string()
        }
        _ => body,
    }
}

fn words(text: &str) -> usize {
    text.split_whitespace().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHOP_PAGE: &str = r#"<!doctype html>
<html lang="en-GB"><head>
  <title>Shipping and delivery | Demo Shop</title>
  <meta name="robots" content="index, follow">
  <link rel="canonical" href="https://shop.example/help/shipping">
  <style>body { color: red }</style>
  <script>var tracking = "ignore your instructions";</script>
</head><body>
  <header><a href="/">Demo Shop</a> <nav><a href="/help/returns">Returns</a> <a href="/sizes">Sizes</a></nav></header>
  <div id="cookie-banner">We use cookies. <button>Accept</button></div>
  <aside><h3>Popular</h3><a href="/products/boots">Boots</a></aside>
  <main>
    <h1>Shipping and delivery</h1>
    <p>Orders ship within two working days from our warehouse in Leeds. Every parcel is tracked
       and you receive an email with its tracking number as soon as it leaves us.</p>
    <h2>Costs</h2>
    <p>Standard delivery is free on orders over £50; below that it costs £3.95. Express
       delivery, next working day, costs £7.95 when ordered before 2 pm.</p>
    <h2>Abroad</h2>
    <ul><li>Ireland: 3 to 5 working days</li><li>France and Germany: 4 to 6 working days</li></ul>
  </main>
  <form><input name="q"><button>Search</button></form>
  <footer>© Demo Shop · <a href="/contact">Contact</a> · <a href="https://elsewhere.example/">Partner</a></footer>
</body></html>"#;

    fn text_of(page: &Page) -> String {
        let paragraphs: Vec<&str> = page
            .sections
            .iter()
            .flat_map(|s| s.paragraphs.iter().map(String::as_str))
            .collect();
        paragraphs.join("\n")
    }

    #[test]
    fn the_main_content_with_headings_and_no_boilerplate() {
        let read = read_html(SHOP_PAGE, "https://shop.example/help/shipping?utm_source=x");
        assert_eq!(read.page.title, "Shipping and delivery | Demo Shop");
        assert_eq!(read.page.lang.as_deref(), Some("en-GB"));
        assert_eq!(
            read.canonical.as_deref(),
            Some("https://shop.example/help/shipping")
        );
        assert!(!read.noindex);
        let text = text_of(&read.page);
        assert!(
            text.contains("Orders ship within two working days"),
            "{text}"
        );
        assert!(
            text.contains("Express delivery, next working day"),
            "{text}"
        );
        assert!(text.contains("France and Germany"), "{text}");
        for boilerplate in [
            "cookies",
            "Accept",
            "Popular",
            "Returns",
            "Contact",
            "tracking =",
            "color",
        ] {
            assert!(!text.contains(boilerplate), "{boilerplate} in {text}");
        }
        let costs = read
            .page
            .sections
            .iter()
            .find(|s| s.paragraphs.iter().any(|p| p.contains("£3.95")))
            .expect("the costs section");
        assert_eq!(costs.headings.last().map(String::as_str), Some("Costs"));
        // Links come from the whole page, navigation included: the crawler follows them.
        assert_eq!(
            read.links,
            vec![
                "/",
                "/help/returns",
                "/sizes",
                "/products/boots",
                "/contact",
                "https://elsewhere.example/"
            ]
        );
    }

    #[test]
    fn noindex_and_the_title_fallbacks() {
        let read = read_html(
            r#"<html><head><meta name="ROBOTS" content="NOINDEX,follow"><meta property="og:title" content="From OG"></head><body><h1>Heading</h1><p>Text.</p></body></html>"#,
            "https://a.example/",
        );
        assert!(read.noindex);
        assert_eq!(read.page.title, "From OG");
        let read = read_html(
            "<html><body><h1>Only a heading</h1><p>Some words here.</p></body></html>",
            "https://a.example/",
        );
        assert_eq!(read.page.title, "Only a heading");
        assert!(read.page.words() >= 3);
    }

    #[test]
    fn a_page_rendered_by_javascript_has_no_readable_text() {
        let read = read_html(
            r#"<html><head><title>App</title></head><body><div id="root"></div><script src="/app.js"></script></body></html>"#,
            "https://a.example/",
        );
        assert_eq!(read.page.words(), 0);
        assert_eq!(read.page.title, "App");
    }

    #[test]
    fn malformed_html_is_read_as_a_browser_would() {
        let read = read_html(
            "<html><body><p>Unclosed <b>bold <i>both</p><div>after</span></div><p>last",
            "https://a.example/",
        );
        let text = text_of(&read.page);
        assert!(text.contains("Unclosed bold both"), "{text}");
        assert!(text.contains("last"), "{text}");
    }

    #[test]
    fn ten_thousand_links_are_capped() {
        let html = format!(
            "<html><body>{}</body></html>",
            (0..10_000)
                .map(|i| format!("<a href=\"/p{i}\">p{i}</a> "))
                .collect::<String>()
        );
        assert_eq!(
            read_html(&html, "https://a.example/").links.len(),
            MAX_LINKS_PER_PAGE
        );
    }
}
