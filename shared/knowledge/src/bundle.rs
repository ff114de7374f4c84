//! A source's passage bundle: every page the source's last sync indexed, with its content
//! hash and its passages, as one S3 object. A re-sync reuses an unchanged page's passages
//! (neither cut nor embedded again), and an index build reads one object per source.

use serde::{Deserialize, Serialize};

use crate::index::Entry;
use crate::passages::Passage;

/// One indexed page of a source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundlePage {
    /// Its normalized URL (a document's URL to cite, or none).
    pub url: Option<String>,
    /// The language it declares.
    pub lang: Option<String>,
    /// SHA-256 of its title and text, hex: equal hashes, equal pages.
    pub hash: String,
    /// Its passages.
    pub passages: Vec<Passage>,
}

/// The indexed pages of one source.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bundle {
    /// Its pages, in the order the sync met them.
    pub pages: Vec<BundlePage>,
}

impl Bundle {
    /// The bundle stored as `bytes`; an unreadable one is empty (its pages are indexed
    /// again on the next sync, nothing is lost that the source does not still have).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        serde_json::from_slice(bytes).unwrap_or_default()
    }

    /// Its stored form.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Its passages as index entries.
    pub fn entries(&self) -> impl Iterator<Item = Entry> + '_ {
        self.pages.iter().flat_map(|page| {
            page.passages
                .iter()
                .map(|p| Entry::passage(p, page.url.as_deref(), page.lang.as_deref()))
        })
    }
}

/// The content hash of a page: its title and sections, so that the same text is
/// recognised before it is cut.
pub fn page_hash(page: &crate::page::Page) -> String {
    let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    context.update(page.title.as_bytes());
    for section in &page.sections {
        for heading in &section.headings {
            context.update(b"\x1e");
            context.update(heading.as_bytes());
        }
        for paragraph in &section.paragraphs {
            context.update(b"\x1f");
            context.update(paragraph.as_bytes());
        }
    }
    crate::passages::hex(context.finish().as_ref())
}
