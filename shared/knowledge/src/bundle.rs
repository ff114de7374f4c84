//! A source's passage bundle: every page the source's last sync indexed, with its content
//! hash and its passages, as one S3 object. A re-sync reuses an unchanged page's passages
//! (neither cut nor embedded again), and an index build reads one object per source.

use serde::{Deserialize, Serialize};

use crate::index::Entry;
use crate::passages::Passage;

/// One indexed page of a source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BundlePage {
    /// Its normalized URL (a document's URL to cite, or none).
    pub url: Option<String>,
    /// The language it declares.
    pub lang: Option<String>,
    /// SHA-256 of its title and text, hex: equal hashes, equal pages.
    pub hash: String,
    /// Its passages.
    pub passages: Vec<Passage>,
    /// Their unit vectors by the bundle's model, one per passage (none without a model).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vectors: Vec<Vec<f32>>,
}

/// The indexed pages of one source.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Bundle {
    /// Its pages, in the order the sync met them.
    pub pages: Vec<BundlePage>,
    /// The embedding model of its pages' vectors (`openai:…`), when they have them.
    #[serde(default)]
    pub model: Option<String>,
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

    /// Its passages as index entries, with their vectors when they have them.
    pub fn entries(&self) -> impl Iterator<Item = Entry> + '_ {
        self.pages.iter().flat_map(|page| {
            page.passages.iter().enumerate().map(|(i, p)| {
                let entry = Entry::passage(p, page.url.as_deref(), page.lang.as_deref());
                match page.vectors.get(i) {
                    Some(vector) => entry.with_vector(vector.clone()),
                    None => entry,
                }
            })
        })
    }

    /// The passages whose vectors are missing: (page, passage) positions and the text to
    /// embed (its title, headings and text).
    pub fn unembedded(&self) -> Vec<((usize, usize), String)> {
        let mut missing = Vec::new();
        for (at, page) in self.pages.iter().enumerate() {
            if page.vectors.len() == page.passages.len() {
                continue;
            }
            for (i, passage) in page.passages.iter().enumerate() {
                missing.push((
                    (at, i),
                    embedding_text(&passage.title, &passage.headings, &passage.text),
                ));
            }
        }
        missing
    }

    /// Sets the vectors of the passages [`Bundle::unembedded`] named, in its order.
    pub fn set_vectors(&mut self, missing: &[((usize, usize), String)], vectors: Vec<Vec<f32>>) {
        for (((at, i), _), vector) in missing.iter().zip(vectors) {
            let page = &mut self.pages[*at];
            if *i == 0 {
                page.vectors.clear();
            }
            page.vectors.push(vector);
        }
    }

    /// Drops every vector (the model changed, or there is none any more).
    pub fn clear_vectors(&mut self) {
        self.pages.iter_mut().for_each(|p| p.vectors.clear());
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

/// What is embedded of a passage: its page's title, its headings and its text.
pub fn embedding_text(title: &str, headings: &[String], text: &str) -> String {
    let mut out = String::from(title);
    for heading in headings {
        out.push('\n');
        out.push_str(heading);
    }
    out.push_str("\n\n");
    out.push_str(text);
    out
}

/// The vectors of a project's Q&A pairs, kept between index builds so an unchanged pair
/// is not embedded again: by pair id, with the hash of the text embedded.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct QnaVectors {
    /// The model they are by.
    pub model: Option<String>,
    /// Pair id → (text hash, vector).
    pub vectors: std::collections::BTreeMap<String, (String, Vec<f32>)>,
}

fn text_hash(text: &str) -> String {
    crate::passages::hex(
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes()).as_ref(),
    )
}

impl QnaVectors {
    /// Read from its stored form (an unreadable one is empty: the pairs are embedded again).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        serde_json::from_slice(bytes).unwrap_or_default()
    }

    /// Its stored form.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The vector of pair `id` if it was embedded from `text`.
    pub fn get(&self, id: &str, text: &str) -> Option<&Vec<f32>> {
        let (hash, vector) = self.vectors.get(id)?;
        (*hash == text_hash(text)).then_some(vector)
    }

    /// Keeps `vector` as pair `id`'s, embedded from `text`.
    pub fn insert(&mut self, id: &str, text: &str, vector: Vec<f32>) {
        self.vectors
            .insert(id.to_owned(), (text_hash(text), vector));
    }

    /// Forgets the pairs not in `ids`.
    pub fn retain<'a>(&mut self, ids: impl Iterator<Item = &'a str>) {
        let ids: std::collections::HashSet<&str> = ids.collect();
        self.vectors.retain(|id, _| ids.contains(id.as_str()));
    }
}
