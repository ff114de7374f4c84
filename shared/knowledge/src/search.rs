//! Searching an index: a snapshot opened from its folder, and questions answered from it,
//! best first (BM25 over each language's fields, a page's title and headings weighing more
//! than its text).

use std::path::Path;

use std::collections::HashMap;

use tantivy::collector::TopDocs;
use tantivy::query::{QueryParser, TermQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{DocAddress, Index, IndexReader, ReloadPolicy, Searcher, TantivyDocument, Term};

use crate::IndexError;
use crate::index::{EntryKind, Fields, MANIFEST_FILE, Manifest, VECTORS_FILE};
use crate::language::register_analyzers;
use crate::snapshot::Snapshot;
use crate::vectors::Vectors;

/// How much more a match in the title weighs than one in the text.
const TITLE_BOOST: f32 = 2.0;
/// How much more a match in a heading weighs than one in the text.
const HEADINGS_BOOST: f32 = 1.5;

/// A BM25 score at which a hit's score is one half: scores map into (0, 1) as
/// `raw / (raw + HALF_SCORE)`, so that a score says the same whatever the question's
/// length and is comparable across searches (the relevance bar of grounded answers).
pub const HALF_SCORE: f32 = 6.0;

/// Candidates each ranking gives the fusion.
pub const FUSION_CANDIDATES: usize = 50;
/// Reciprocal rank fusion's constant (the usual 60): a hit at rank r adds 1 / (60 + r).
pub const RRF_K: f32 = 60.0;

/// One result.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    /// In (0, 1): higher is better.
    pub score: f32,
    /// The passage's or pair's id.
    pub id: String,
    /// A passage or a pair.
    pub kind: EntryKind,
    /// The page's title, or the pair's question.
    pub title: String,
    /// The headings above the passage, joined by ` › `.
    pub headings: String,
    /// The passage's text, or the pair's answer.
    pub content: String,
    /// Where it is cited from, when it has a URL.
    pub url: Option<String>,
}

impl Hit {
    /// The path of its URL (`/help/shipping`).
    pub fn path(&self) -> Option<String> {
        let url = url::Url::parse(self.url.as_deref()?).ok()?;
        Some(url.path().to_owned())
    }
}

/// An opened index.
pub struct KnowledgeIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    parser: Option<QueryParser>,
    manifest: Manifest,
    vectors: Option<Vectors>,
}

impl KnowledgeIndex {
    /// Unpacks `snapshot` into `dir` (an empty folder that outlives the index) and opens it.
    pub fn unpack(snapshot: &Snapshot, dir: &Path) -> Result<Self, IndexError> {
        snapshot.unpack(dir)?;
        Self::open(dir)
    }

    /// Opens the index in `dir`.
    pub fn open(dir: &Path) -> Result<Self, IndexError> {
        let manifest: Manifest = match std::fs::read(dir.join(MANIFEST_FILE)) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| IndexError::NotASnapshot(format!("{MANIFEST_FILE}: {e}")))?,
            Err(error) => {
                return Err(IndexError::NotASnapshot(format!(
                    "{MANIFEST_FILE}: {error}"
                )));
            }
        };
        let index = Index::open_in_dir(dir)?;
        register_analyzers(&index);
        let (_, fields) = Fields::schema();
        let searched = fields.searched_by(&manifest.analyses);
        let parser = (!searched.is_empty()).then(|| {
            let all = searched.iter().flat_map(|(_, f)| *f).collect();
            let mut parser = QueryParser::for_index(&index, all);
            for (_, [title, headings, _]) in &searched {
                parser.set_field_boost(*title, TITLE_BOOST);
                parser.set_field_boost(*headings, HEADINGS_BOOST);
            }
            parser
        });
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let vectors = match manifest.embedding_model {
            Some(_) => Some(Vectors::decode(&std::fs::read(dir.join(VECTORS_FILE))?)?),
            None => None,
        };
        Ok(Self {
            index,
            reader,
            fields,
            parser,
            manifest,
            vectors,
        })
    }

    /// The words of `question` that no entry of the index holds, as its analyses read them
    /// (stemmed, stop words out), in the question's order. A question about what the
    /// knowledge never mentions ("Can I pay in bitcoin?") has some; a signal for grounded
    /// answers besides the score, which such a question's other words can lift.
    pub fn unknown_words(&self, question: &str) -> Result<Vec<String>, IndexError> {
        let words: String = question
            .chars()
            .map(|c| if c.is_alphanumeric() { c } else { ' ' })
            .collect::<String>()
            .to_lowercase();
        let searcher = self.reader.searcher();
        let searched = self.fields.searched_by(&self.manifest.analyses);
        let mut unknown = Vec::new();
        for word in words.split_whitespace() {
            if chat_domain::question_words::is_stop_word(word) {
                continue;
            }
            // A word one analysis drops (a stop word of its language) says nothing.
            let (mut dropped, mut known) = (false, false);
            for (_, fields) in &searched {
                let mut analyzer = self.index.tokenizer_for_field(fields[2])?;
                let mut stream = analyzer.token_stream(word);
                let mut tokens = 0;
                while stream.advance() {
                    tokens += 1;
                    let token = stream.token().text.clone();
                    for field in fields {
                        if searcher.doc_freq(&Term::from_field_text(*field, &token))? > 0 {
                            known = true;
                        }
                    }
                }
                dropped |= tokens == 0;
            }
            if !dropped && !known && !unknown.iter().any(|u| u == word) {
                unknown.push(word.to_owned());
            }
        }
        Ok(unknown)
    }

    /// The cosine similarity of the entry nearest to `query` (a unit vector by
    /// [`KnowledgeIndex::embedding_model`]), when the index has vectors.
    pub fn best_similarity(&self, query: &[f32]) -> Option<f32> {
        let vectors = self.vectors.as_ref()?;
        vectors
            .nearest(query, 1)
            .first()
            .map(|(_, similarity)| *similarity)
    }

    /// The embedding model its vectors are by (`openai:…`), when it has them: a question
    /// is embedded by that model, and no other, for [`KnowledgeIndex::search_hybrid`].
    pub fn embedding_model(&self) -> Option<&str> {
        self.manifest.embedding_model.as_deref()
    }

    /// The `size` best hits for `question`: the keyword ranking and, given `query` (the
    /// question's unit vector by [`KnowledgeIndex::embedding_model`]), the vector ranking,
    /// fused by reciprocal rank. A hit's score is then its fused score over the best
    /// possible one (first in both), in (0, 1]. Without a vector, as [`KnowledgeIndex::search`].
    pub fn search_hybrid(
        &self,
        question: &str,
        query: Option<&[f32]>,
        size: usize,
    ) -> Result<Vec<Hit>, IndexError> {
        let (Some(query), Some(vectors)) = (query, &self.vectors) else {
            return self.search(question, size);
        };
        let keyword = self.search(question, FUSION_CANDIDATES.max(size))?;
        let nearest = vectors.nearest(query, FUSION_CANDIDATES.max(size));
        let mut fused: HashMap<String, (f32, Option<Hit>)> = HashMap::new();
        for (rank, hit) in keyword.into_iter().enumerate() {
            let entry = fused.entry(hit.id.clone()).or_default();
            entry.0 += 1.0 / (RRF_K + rank as f32 + 1.0);
            entry.1 = Some(hit);
        }
        for (rank, (id, _)) in nearest.iter().enumerate() {
            fused.entry((*id).to_owned()).or_default().0 += 1.0 / (RRF_K + rank as f32 + 1.0);
        }
        let mut ranked: Vec<(String, (f32, Option<Hit>))> = fused.into_iter().collect();
        ranked.sort_by(|a, b| b.1.0.total_cmp(&a.1.0).then_with(|| a.0.cmp(&b.0)));
        ranked.truncate(size);
        let best = 2.0 / (RRF_K + 1.0);
        let searcher = self.reader.searcher();
        let mut hits = Vec::with_capacity(ranked.len());
        for (id, (score, hit)) in ranked {
            let hit = match hit {
                Some(hit) => hit,
                None => match self.hit_by_id(&searcher, &id)? {
                    Some(hit) => hit,
                    None => continue,
                },
            };
            hits.push(Hit {
                score: (score / best).min(1.0),
                ..hit
            });
        }
        Ok(hits)
    }

    /// The entry with `id`, as a hit (its score to be set by the caller).
    fn hit_by_id(&self, searcher: &Searcher, id: &str) -> Result<Option<Hit>, IndexError> {
        let term = Term::from_field_text(self.fields.id, id);
        let query = TermQuery::new(term, IndexRecordOption::Basic);
        let top = searcher.search(&query, &TopDocs::with_limit(1).order_by_score())?;
        top.into_iter()
            .next()
            .map(|(_, address)| self.hit_at(searcher, address, 0.0))
            .transpose()
    }

    /// The entry at `address`, as a hit of `score`.
    fn hit_at(
        &self,
        searcher: &Searcher,
        address: DocAddress,
        score: f32,
    ) -> Result<Hit, IndexError> {
        let doc: TantivyDocument = searcher.doc(address)?;
        let f = &self.fields;
        let text = |field| {
            doc.get_first(field)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        Ok(Hit {
            score,
            id: text(f.id).unwrap_or_default(),
            kind: EntryKind::parse(&text(f.kind).unwrap_or_default()),
            title: text(f.title).unwrap_or_default(),
            headings: text(f.headings).unwrap_or_default(),
            content: text(f.text).unwrap_or_default(),
            url: text(f.url),
        })
    }

    /// What it holds.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The `size` best hits for `question`, best first; none for a question with no word
    /// the index knows.
    pub fn search(&self, question: &str, size: usize) -> Result<Vec<Hit>, IndexError> {
        let Some(parser) = &self.parser else {
            return Ok(Vec::new());
        };
        // Words only: a visitor's question is never query syntax (`field:`, `AND`, quotes).
        let words: String = question
            .chars()
            .map(|c| if c.is_alphanumeric() { c } else { ' ' })
            .collect::<String>()
            .to_lowercase();
        if words.split_whitespace().next().is_none() || size == 0 {
            return Ok(Vec::new());
        }
        let (query, _) = parser.parse_query_lenient(&words);
        let searcher = self.reader.searcher();
        let top = searcher.search(&query, &TopDocs::with_limit(size).order_by_score())?;
        top.into_iter()
            .filter(|(score, _)| *score > 0.0)
            .map(|(score, address)| self.hit_at(&searcher, address, score / (score + HALF_SCORE)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::{Entry, IndexBuilder};
    use crate::page::Page;
    use crate::passages::passages_of;

    fn build(entries: &[Entry]) -> (tempfile::TempDir, KnowledgeIndex, Manifest, usize) {
        let written = tempfile::tempdir().unwrap();
        let mut builder = IndexBuilder::create(written.path()).unwrap();
        for entry in entries {
            builder.add(entry).unwrap();
        }
        let (snapshot, manifest) = builder.finish().unwrap();
        let opened = tempfile::tempdir().unwrap();
        let index = KnowledgeIndex::unpack(&snapshot, opened.path()).unwrap();
        (opened, index, manifest, snapshot.len())
    }

    fn page(url: &str, title: &str, lang: &str, markdown: &str) -> Vec<Entry> {
        let page = Page::from_markdown(title, Some(url), markdown);
        passages_of(url, &page)
            .iter()
            .map(|p| Entry::passage(p, Some(url), Some(lang)))
            .collect()
    }

    fn shop() -> Vec<Entry> {
        let mut entries = Vec::new();
        entries.extend(page(
            "https://shop.example/help/shipping",
            "Shipping and delivery",
            "en",
            "# Shipping\n\nOrders ship within two working days. Parcels are tracked.\n\n## Abroad\n\nWe deliver to Canada and Mexico in five to seven days.",
        ));
        entries.extend(page(
            "https://shop.example/help/returns",
            "Returns",
            "en",
            "# Returns\n\nReturn any item within 30 days for a full refund. Shipping costs of a return are ours.",
        ));
        entries.extend(page(
            "https://shop.example/sizes",
            "Size guide",
            "en",
            "# Sizes\n\nOur boots run small: order one size up.",
        ));
        entries.extend(page(
            "https://shop.example/fr/livraison",
            "Livraison",
            "fr",
            "# Livraison\n\nLes commandes sont expédiées sous deux jours ouvrés.",
        ));
        entries.push(Entry::qna(
            "q1",
            "Do you have a shop in Leeds?",
            "Yes, at 1 Park Row.",
        ));
        entries
    }

    #[test]
    fn vectors_find_what_keywords_miss_and_the_two_rankings_fuse() {
        // Three entries with hand-made unit vectors: the question shares no word with the
        // shipping passage, only its direction.
        let entries = [
            (
                "ship",
                "Orders leave the warehouse within two working days.",
                [1.0, 0.0, 0.0],
            ),
            (
                "returns",
                "Send anything back within 30 days for a refund.",
                [0.0, 1.0, 0.0],
            ),
            (
                "sizes",
                "Our boots run small: order one size up.",
                [0.0, 0.0, 1.0],
            ),
        ];
        let written = tempfile::tempdir().unwrap();
        let mut builder = IndexBuilder::create(written.path())
            .unwrap()
            .with_embedding_model("openai:test");
        for (id, text, vector) in entries {
            let entry = Entry::qna(id, id, text).with_vector(vector.to_vec());
            builder.add(&entry).unwrap();
        }
        let (snapshot, manifest) = builder.finish().unwrap();
        assert_eq!(manifest.embedding_model.as_deref(), Some("openai:test"));
        assert_eq!(manifest.dimensions, Some(3));
        let opened = tempfile::tempdir().unwrap();
        let index = KnowledgeIndex::unpack(&snapshot, opened.path()).unwrap();
        assert_eq!(index.embedding_model(), Some("openai:test"));

        let question = "When will my parcel arrive?";
        assert!(
            index.search(question, 3).unwrap().is_empty(),
            "no shared word"
        );
        let hits = index
            .search_hybrid(question, Some(&[0.9, 0.1, 0.0]), 2)
            .unwrap();
        assert_eq!(hits[0].id, "ship", "{hits:?}");
        assert_eq!(hits[0].content, entries[0].1);
        assert!(hits.iter().all(|h| h.score > 0.0 && h.score <= 1.0));
        // First in both rankings: the best fused score there is.
        let both = index
            .search_hybrid("refund", Some(&[0.0, 1.0, 0.0]), 1)
            .unwrap();
        assert_eq!((both[0].id.as_str(), both[0].score), ("returns", 1.0));
        // A vector of another length is ignored, not an error.
        assert_eq!(
            index.search_hybrid("refund", Some(&[1.0]), 1).unwrap()[0].id,
            "returns"
        );
    }

    #[test]
    fn an_entry_without_a_vector_is_refused_by_an_index_with_a_model() {
        let written = tempfile::tempdir().unwrap();
        let mut builder = IndexBuilder::create(written.path())
            .unwrap()
            .with_embedding_model("openai:test");
        assert!(builder.add(&Entry::qna("a", "q", "a")).is_err());
    }

    #[test]
    fn the_best_page_comes_first_stemmed_with_scores_in_range() {
        let (_dir, index, manifest, bytes) = build(&shop());
        assert_eq!(manifest.entries, 6);
        assert!(bytes > 0);
        let hits = index.search("How long does shipping take?", 10).unwrap();
        assert_eq!(
            hits[0].url.as_deref(),
            Some("https://shop.example/help/shipping")
        );
        assert_eq!(hits[0].path().as_deref(), Some("/help/shipping"));
        assert_eq!(hits[0].title, "Shipping and delivery");
        assert!(hits[0].content.contains("two working days"));
        for pair in hits.windows(2) {
            assert!(pair[0].score >= pair[1].score);
        }
        for hit in &hits {
            assert!(hit.score > 0.0 && hit.score < 1.0, "{}", hit.score);
        }
        // "shipped" finds "ship" (the English stemmer); "refunds" finds "refund".
        assert_eq!(
            index.search("shipped", 1).unwrap()[0].url.as_deref(),
            Some("https://shop.example/help/shipping")
        );
        assert_eq!(
            index.search("refunds", 1).unwrap()[0].url.as_deref(),
            Some("https://shop.example/help/returns")
        );
        // A French page, found through the French stemmer ("expédiée" ~ "expédiées").
        assert_eq!(
            index.search("expédiée", 1).unwrap()[0].url.as_deref(),
            Some("https://shop.example/fr/livraison")
        );
    }

    #[test]
    fn a_qna_pair_is_found_by_its_question_with_no_url() {
        let (_dir, index, _, _) = build(&shop());
        let hit = &index.search("Is there a shop in Leeds", 1).unwrap()[0];
        assert_eq!(hit.kind, EntryKind::Qna);
        assert_eq!(hit.title, "Do you have a shop in Leeds?");
        assert_eq!(hit.content, "Yes, at 1 Park Row.");
        assert_eq!((hit.url.as_deref(), hit.path()), (None, None));
    }

    #[test]
    fn query_syntax_and_unknown_words_find_nothing_and_fail_nothing() {
        let (_dir, index, _, _) = build(&shop());
        for question in [
            "",
            "   ",
            "???",
            "zzzz qqqq",
            "title:(",
            "\"unclosed",
            "AND OR NOT",
        ] {
            assert!(index.search(question, 5).unwrap().is_empty(), "{question}");
        }
        assert_eq!(
            index.search("boots +size -small", 5).unwrap()[0].title,
            "Size guide"
        );
        assert!(index.search("boots", 0).unwrap().is_empty());
    }

    #[test]
    fn the_same_text_twice_is_indexed_once() {
        let mut entries = shop();
        let mut copy = entries[0].clone();
        copy.id = "other#0".into();
        copy.url = Some("https://shop.example/other".into());
        entries.push(copy);
        let (_dir, index, manifest, _) = build(&entries);
        assert_eq!((manifest.entries, manifest.duplicates), (6, 1));
        let hits = index.search("working days tracked parcels", 10).unwrap();
        assert_eq!(
            hits.iter()
                .filter(|h| h.content.contains("Parcels are tracked"))
                .count(),
            1
        );
    }

    #[test]
    fn words_the_knowledge_never_mentions_are_named() {
        let (_dir, index, _, _) = build(&shop());
        assert_eq!(
            index.unknown_words("Can I pay in bitcoin?").unwrap(),
            ["pay", "bitcoin"]
        );
        assert!(
            index
                .unknown_words("Do you deliver parcels shipped to Canada?")
                .unwrap()
                .is_empty(),
            "stemmed: ship, parcel"
        );
        assert!(
            index.unknown_words("the and of").unwrap().is_empty(),
            "stop words say nothing"
        );
    }

    #[test]
    fn two_pairs_with_one_answer_are_both_indexed() {
        let entries = [
            Entry::qna("a", "Is shipping free over $75?", "Yes."),
            Entry::qna("b", "Do you gift wrap?", "Yes."),
        ];
        let (_dir, index, manifest, _) = build(&entries);
        assert_eq!((manifest.entries, manifest.duplicates), (2, 0));
        assert_eq!(index.search("gift wrap", 1).unwrap()[0].id, "b");
    }

    #[test]
    fn an_empty_index_answers_nothing() {
        let (_dir, index, manifest, _) = build(&[]);
        assert_eq!(manifest.entries, 0);
        assert!(index.search("shipping", 10).unwrap().is_empty());
    }

    #[test]
    fn a_snapshot_with_a_path_outside_its_folder_is_refused() {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(1);
        header.set_entry_type(tar::EntryType::Regular);
        // Written raw: tar's own API refuses to build such a path.
        header.as_old_mut().name[..10].copy_from_slice(b"../escaped");
        header.set_cksum();
        builder.append(&header, &b"x"[..]).unwrap();
        let snapshot = Snapshot(builder.into_inner().unwrap());
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("inner");
        std::fs::create_dir(&inner).unwrap();
        assert!(matches!(
            KnowledgeIndex::unpack(&snapshot, &inner),
            Err(IndexError::NotASnapshot(_))
        ));
        assert!(!dir.path().join("escaped").exists());
    }
}
