//! A page cut into passages: each holds at most about 500 words of one section, split at
//! paragraph, then sentence boundaries, and carries its page's title and heading path. A
//! passage's id is derived from its page's key and its position, and its hash from its
//! text, so a re-sync can tell what changed and nothing is indexed twice.

use aws_lc_rs::digest::{SHA256, digest};
use text_splitter::{ChunkConfig, ChunkSizer, TextSplitter};

use crate::page::Page;

/// The most words a passage holds.
pub const MAX_WORDS: usize = 500;

/// The words a passage is filled towards before it is cut (a section shorter than this is
/// one passage).
pub const TARGET_WORDS: usize = 300;

/// One passage of a page.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Passage {
    /// `<page key>#<position>`: stable while the page keeps its URL and shape.
    pub id: String,
    /// Its place in its page, from 0.
    pub position: u32,
    /// The page's title.
    pub title: String,
    /// The headings above it, outermost first.
    pub headings: Vec<String>,
    /// Its text.
    pub text: String,
    /// SHA-256 of its title, headings and text, hex: equal hashes, equal passages.
    pub hash: String,
}

/// Sizes text in words.
struct Words;

impl ChunkSizer for Words {
    fn size(&self, chunk: &str) -> usize {
        chunk.split_whitespace().count()
    }
}

/// The passages of `page`, whose key (its normalized URL, or a document's id) is `key`.
pub fn passages_of(key: &str, page: &Page) -> Vec<Passage> {
    let splitter = TextSplitter::new(
        ChunkConfig::new(TARGET_WORDS..MAX_WORDS)
            .with_sizer(Words)
            .with_trim(true),
    );
    let page_key = hex(digest(&SHA256, key.as_bytes()).as_ref());
    let mut passages = Vec::new();
    for section in &page.sections {
        let text = section.paragraphs.join("\n\n");
        for chunk in splitter.chunks(&text) {
            if chunk.split_whitespace().next().is_none() {
                continue;
            }
            let position = passages.len() as u32;
            let mut hashed = page.title.clone();
            for part in section.headings.iter().map(String::as_str).chain([chunk]) {
                hashed.push('\u{1f}');
                hashed.push_str(part);
            }
            passages.push(Passage {
                id: format!("{}#{position}", &page_key[..32]),
                position,
                title: page.title.clone(),
                headings: section.headings.clone(),
                text: chunk.to_owned(),
                hash: hex(digest(&SHA256, hashed.as_bytes()).as_ref()),
            });
        }
    }
    passages
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::page::Section;

    fn page(sections: Vec<(Vec<&str>, Vec<String>)>) -> Page {
        Page {
            url: Some("https://a.example/p".into()),
            title: "Title".into(),
            lang: None,
            sections: sections
                .into_iter()
                .map(|(h, p)| Section {
                    headings: h.into_iter().map(str::to_owned).collect(),
                    paragraphs: p,
                })
                .collect(),
        }
    }

    fn words(n: usize, word: &str) -> String {
        vec![word; n].join(" ") + "."
    }

    #[test]
    fn a_long_section_is_cut_at_paragraphs_within_the_cap_and_keeps_its_headings() {
        let paragraphs: Vec<String> = (0..12).map(|i| words(90, &format!("w{i}"))).collect();
        let p = page(vec![
            (vec!["Help", "Shipping"], paragraphs),
            (vec!["Help", "Returns"], vec![words(40, "back")]),
        ]);
        let passages = passages_of("https://a.example/p", &p);
        assert!(passages.len() >= 4, "{}", passages.len());
        for passage in &passages {
            let n = passage.text.split_whitespace().count();
            assert!(n <= MAX_WORDS, "{n} words");
            assert_eq!(passage.title, "Title");
        }
        // Cut between paragraphs: no paragraph's words are split over two passages.
        for passage in &passages[..passages.len() - 1] {
            assert!(passage.text.ends_with('.'), "{}", passage.text);
            assert_eq!(passage.headings, vec!["Help", "Shipping"]);
        }
        let last = passages.last().unwrap();
        assert_eq!(last.headings, vec!["Help", "Returns"]);
        assert_eq!(last.text, words(40, "back"));
        let positions: Vec<u32> = passages.iter().map(|p| p.position).collect();
        assert_eq!(positions, (0..passages.len() as u32).collect::<Vec<_>>());
    }

    #[test]
    fn ids_follow_the_key_and_position_and_hashes_the_content() {
        let p = page(vec![(vec!["A"], vec![words(10, "x")])]);
        let first = passages_of("k1", &p);
        let again = passages_of("k1", &p);
        let other_key = passages_of("k2", &p);
        assert_eq!(first, again);
        assert_ne!(first[0].id, other_key[0].id);
        assert_eq!(first[0].hash, other_key[0].hash);
        let changed = page(vec![(vec!["B"], vec![words(10, "x")])]);
        assert_ne!(passages_of("k1", &changed)[0].hash, first[0].hash);
        assert!(first[0].id.ends_with("#0"));
    }

    proptest! {
        /// Whatever the text, every word is in exactly one passage, in order, and no passage
        /// passes the cap (a single "word" longer than the cap aside, which cannot be cut).
        #[test]
        fn every_word_lands_once_within_the_cap(
            paragraphs in proptest::collection::vec("[a-z]{1,8}( [a-z]{1,8}){0,700}", 1..6)
        ) {
            let p = page(vec![(vec!["H"], paragraphs.clone())]);
            let passages = passages_of("k", &p);
            let got: Vec<&str> = passages.iter().flat_map(|p| p.text.split_whitespace()).collect();
            let want: Vec<&str> = paragraphs.iter().flat_map(|p| p.split_whitespace()).collect();
            prop_assert_eq!(got, want);
            for passage in &passages {
                prop_assert!(passage.text.split_whitespace().count() <= MAX_WORDS);
            }
        }
    }
}
