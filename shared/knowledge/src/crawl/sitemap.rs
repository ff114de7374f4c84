//! Sitemaps (sitemaps.org): a `urlset` lists pages, a `sitemapindex` lists more sitemaps;
//! either may come gzipped. Read as XML events, so a sitemap of 50,000 URLs is not a DOM
//! in memory, and inflated with a cap, so a gzip bomb stops at the cap.

use std::io::Read;

use quick_xml::Reader;
use quick_xml::events::Event;

/// The most URLs one sitemap lists (the protocol's own limit).
pub const MAX_URLS: usize = 50_000;

/// The most bytes a sitemap may have, inflated (the protocol's 50 MB).
pub const MAX_BYTES: u64 = 50 * 1024 * 1024;

/// What a sitemap lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SitemapKind {
    /// Pages.
    Urlset,
    /// More sitemaps.
    Index,
}

/// A sitemap, read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sitemap {
    /// Pages or sitemaps.
    pub kind: SitemapKind,
    /// Their `<loc>`s, as written, at most [`MAX_URLS`].
    pub locations: Vec<String>,
}

/// Why a sitemap could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SitemapError {
    /// Over [`MAX_BYTES`] once inflated.
    #[error("the sitemap is larger than {MAX_BYTES} bytes once inflated")]
    TooLarge,
    /// Not gzip, or a broken gzip stream.
    #[error("the sitemap's gzip stream is broken: {0}")]
    Gzip(std::io::Error),
    /// Not XML a sitemap is written in.
    #[error("the sitemap is not XML: {0}")]
    Xml(String),
    /// Neither `urlset` nor `sitemapindex`.
    #[error("the document is not a sitemap")]
    NotASitemap,
}

/// Reads a sitemap from its bytes as fetched (gzipped or not: told by the gzip magic).
pub fn read_sitemap(bytes: &[u8]) -> Result<Sitemap, SitemapError> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut inflated = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .take(MAX_BYTES + 1)
            .read_to_end(&mut inflated)
            .map_err(SitemapError::Gzip)?;
        if inflated.len() as u64 > MAX_BYTES {
            return Err(SitemapError::TooLarge);
        }
        return read_xml(&inflated);
    }
    if bytes.len() as u64 > MAX_BYTES {
        return Err(SitemapError::TooLarge);
    }
    read_xml(bytes)
}

fn read_xml(xml: &[u8]) -> Result<Sitemap, SitemapError> {
    let mut reader = Reader::from_reader(xml);
    let mut buf = Vec::new();
    let mut kind = None;
    let mut locations = Vec::new();
    let mut location: Option<String> = None;
    let bad = |e: &dyn std::fmt::Display| SitemapError::Xml(e.to_string());
    loop {
        match reader.read_event_into(&mut buf).map_err(|e| bad(&e))? {
            Event::Start(e) => match e.local_name().as_ref() {
                b"urlset" if kind.is_none() => kind = Some(SitemapKind::Urlset),
                b"sitemapindex" if kind.is_none() => kind = Some(SitemapKind::Index),
                b"loc" if kind.is_some() => location = Some(String::new()),
                _ => {}
            },
            Event::Text(text) => {
                if let Some(loc) = &mut location {
                    loc.push_str(&text.decode().map_err(|e| bad(&e))?);
                }
            }
            Event::CData(text) => {
                if let Some(loc) = &mut location {
                    loc.push_str(&text.decode().map_err(|e| bad(&e))?);
                }
            }
            // `&amp;` in a URL arrives as a reference of its own.
            Event::GeneralRef(reference) => {
                if let Some(loc) = &mut location {
                    match reference.resolve_char_ref().map_err(|e| bad(&e))? {
                        Some(c) => loc.push(c),
                        None => {
                            let name = reference.decode().map_err(|e| bad(&e))?;
                            let resolved = quick_xml::escape::resolve_predefined_entity(&name)
                                .ok_or_else(|| {
                                    SitemapError::Xml(format!("unknown entity &{name};"))
                                })?;
                            loc.push_str(resolved);
                        }
                    }
                }
            }
            Event::End(e) if e.local_name().as_ref() == b"loc" => {
                if let Some(loc) = location.take() {
                    let loc = loc.trim();
                    if !loc.is_empty() && locations.len() < MAX_URLS {
                        locations.push(loc.to_owned());
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    let kind = kind.ok_or(SitemapError::NotASitemap)?;
    Ok(Sitemap { kind, locations })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    const URLSET: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc>https://shop.example/help/shipping</loc><lastmod>2026-01-01</lastmod></url>
  <url><loc> https://shop.example/search?q=boots&amp;page=2 </loc></url>
  <url><loc><![CDATA[https://shop.example/sizes]]></loc></url>
</urlset>"#;

    #[test]
    fn a_urlset_lists_its_pages_with_entities_resolved() {
        let sitemap = read_sitemap(URLSET.as_bytes()).unwrap();
        assert_eq!(sitemap.kind, SitemapKind::Urlset);
        assert_eq!(
            sitemap.locations,
            vec![
                "https://shop.example/help/shipping",
                "https://shop.example/search?q=boots&page=2",
                "https://shop.example/sizes"
            ]
        );
    }

    #[test]
    fn a_gzipped_index_lists_its_sitemaps() {
        let index = r#"<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
            <sitemap><loc>https://shop.example/a.xml</loc></sitemap>
            <sitemap><loc>https://shop.example/b.xml.gz</loc></sitemap></sitemapindex>"#;
        let sitemap = read_sitemap(&gzip(index.as_bytes())).unwrap();
        assert_eq!(sitemap.kind, SitemapKind::Index);
        assert_eq!(sitemap.locations.len(), 2);
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_cap() {
        // 60 MB of zeros, a few tens of KB gzipped.
        let zeros = vec![0u8; 60 * 1024 * 1024];
        let bomb = gzip(&zeros);
        assert!(bomb.len() < 200_000, "{}", bomb.len());
        assert!(matches!(read_sitemap(&bomb), Err(SitemapError::TooLarge)));
    }

    #[test]
    fn malformed_and_foreign_documents_are_refused_not_panicked_on() {
        for (bytes, what) in [
            (
                &b"<urlset><url><loc>https://a.example/</url></urlset>"[..],
                "mismatched",
            ),
            (&b"<html><body>Not a sitemap</body></html>"[..], "html"),
            (&b""[..], "empty"),
            (&[0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad][..], "broken gzip"),
            (
                &b"<urlset><url><loc>&bogus;</loc></url></urlset>"[..],
                "entity",
            ),
        ] {
            assert!(read_sitemap(bytes).is_err(), "{what}");
        }
    }

    #[test]
    fn at_most_fifty_thousand_urls_are_kept() {
        let mut xml = String::from("<urlset>");
        for i in 0..(MAX_URLS + 10) {
            xml.push_str(&format!("<url><loc>https://a.example/{i}</loc></url>"));
        }
        xml.push_str("</urlset>");
        assert_eq!(
            read_sitemap(xml.as_bytes()).unwrap().locations.len(),
            MAX_URLS
        );
    }
}
