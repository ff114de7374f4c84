//! Synthetic websites for the benchmarks: pages of the demo shop's own words, skewed as
//! words in text are, the same every run, and a loopback server for them.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use chat_knowledge::{Page, Section};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A deterministic generator (xorshift): the same corpus every run.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// An index below `n`, skewed towards small ones as words in text are (Zipf-like).
    pub fn skewed(&mut self, n: usize) -> usize {
        let u = (self.next() % 1_000_000) as f64 / 1_000_000.0;
        ((n as f64).powf(u) as usize).saturating_sub(1).min(n - 1)
    }
}

/// The words of the demo shop, most frequent first: the vocabulary of the synthetic pages.
pub fn vocabulary() -> Result<Vec<String>, BoxError> {
    let root = chat_local::demo_shop::default_root();
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "html") {
                let html = std::fs::read_to_string(&path)?;
                let page = chat_knowledge::extract::read_html(&html, "https://shop.example/");
                for section in &page.page.sections {
                    for word in section.paragraphs.join(" ").split_whitespace() {
                        let word: String = word
                            .chars()
                            .filter(|c| c.is_alphanumeric())
                            .collect::<String>()
                            .to_lowercase();
                        if word.len() > 1 {
                            *counts.entry(word).or_default() += 1;
                        }
                    }
                }
            }
        }
    }
    let mut words: Vec<(String, usize)> = counts.into_iter().collect();
    words.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(words.into_iter().map(|(w, _)| w).collect())
}

/// Page `i` of a synthetic site: a title and three sections of about 140 words.
pub fn synthetic_page(i: usize, words: &[String], rng: &mut Rng) -> Page {
    let mut sentence = |n: usize| {
        (0..n)
            .map(|_| words[rng.skewed(words.len())].as_str())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let title = format!("{} {} {i}", sentence(2), sentence(1));
    let sections = (0..3)
        .map(|_| Section {
            headings: vec![sentence(3)],
            paragraphs: (0..4).map(|_| format!("{}.", sentence(35))).collect(),
        })
        .collect();
    Page {
        url: Some(format!("https://shop.example/p/{i}")),
        title,
        lang: Some("en".into()),
        sections,
    }
}

/// Serves `n` synthetic pages on loopback, each linking to the next ten; the home page
/// links to the first.
pub async fn serve_site(n: usize, words: &[String]) -> Result<String, BoxError> {
    let mut rng = Rng(0xc0ff_ee00_1234_5678);
    let mut pages: HashMap<String, String> = HashMap::new();
    for i in 0..n {
        let page = synthetic_page(i, words, &mut rng);
        let links: String = (i + 1..(i + 11).min(n))
            .map(|j| format!("<a href=\"/p/{j}\">{j}</a> "))
            .collect();
        let body: String = page
            .sections
            .iter()
            .map(|s| {
                format!(
                    "<h2>{}</h2>{}",
                    s.headings[0],
                    s.paragraphs
                        .iter()
                        .map(|p| format!("<p>{p}</p>"))
                        .collect::<String>()
                )
            })
            .collect();
        pages.insert(
            format!("/p/{i}"),
            format!("<html lang=\"en\"><head><title>{}</title></head><body><nav>{links}</nav><main><h1>{}</h1>{body}</main></body></html>", page.title, page.title),
        );
    }
    pages.insert("/".into(), "<html><body><main><p>The start of the site, with a link onwards.</p><a href=\"/p/0\">start</a></main></body></html>".into());
    let pages = Arc::new(pages);
    Ok(
        chat_testkit::serve_http(move |req: hyper::Request<hyper::body::Incoming>| {
            let pages = pages.clone();
            async move {
                let body = pages.get(req.uri().path()).cloned();
                let status = if body.is_some() { 200 } else { 404 };
                let mut response = hyper::Response::new(http_body_util::Full::new(Bytes::from(
                    body.unwrap_or_default(),
                )));
                *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
                response.headers_mut().insert(
                    "content-type",
                    "text/html".parse().unwrap_or_else(|_| unreachable!()),
                );
                response
            }
        })
        .await,
    )
}
