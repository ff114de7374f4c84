//! Writing an index: its schema, and the builder that takes passages and Q&A pairs and
//! ends as one immutable [`Snapshot`]. A project's index is written whole at every sync
//! (a thousand pages take well under a second), so an index never holds a deleted page,
//! and two versions never share a file.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;

use aws_lc_rs::digest::{SHA256, digest};
use serde::{Deserialize, Serialize};
use tantivy::schema::{
    Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::{Index, IndexWriter, TantivyDocument};

use crate::IndexError;
use crate::language::{Analysis, register_analyzers};
use crate::passages::Passage;
use crate::snapshot::Snapshot;

/// The memory the writer may use before it writes a segment (tantivy's minimum is 15 MB).
const WRITER_HEAP_BYTES: usize = 20_000_000;

/// The file beside the index's own that says what it holds.
pub const MANIFEST_FILE: &str = "knowledge.json";
/// The file of an index's vectors, when it has an embedding model.
pub const VECTORS_FILE: &str = "vectors.bin";

/// What an entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A passage of a page or document.
    Passage,
    /// A question-and-answer pair: its question is its title, its answer its text.
    Qna,
}

impl EntryKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Passage => "passage",
            Self::Qna => "qna",
        }
    }

    pub(crate) fn parse(text: &str) -> Self {
        match text {
            "qna" => Self::Qna,
            _ => Self::Passage,
        }
    }
}

/// One thing the index finds.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// A passage's id, or the pair's.
    pub id: String,
    /// A passage or a pair.
    pub kind: EntryKind,
    /// The page's title, or the pair's question.
    pub title: String,
    /// The headings above a passage.
    pub headings: Vec<String>,
    /// The passage's text, or the pair's answer.
    pub text: String,
    /// The URL it is cited by, when it has one.
    pub url: Option<String>,
    /// The language its page declares.
    pub lang: Option<String>,
    /// Its unit vector by the index's embedding model, when it has one.
    pub vector: Option<Vec<f32>>,
}

impl Entry {
    /// A passage of the page at `url`, in `lang`.
    pub fn passage(passage: &Passage, url: Option<&str>, lang: Option<&str>) -> Self {
        Self {
            id: passage.id.clone(),
            kind: EntryKind::Passage,
            title: passage.title.clone(),
            headings: passage.headings.clone(),
            text: passage.text.clone(),
            url: url.map(str::to_owned),
            lang: lang.map(str::to_owned),
            vector: None,
        }
    }

    /// A question-and-answer pair.
    pub fn qna(id: &str, question: &str, answer: &str) -> Self {
        Self {
            id: id.to_owned(),
            kind: EntryKind::Qna,
            title: question.to_owned(),
            headings: Vec::new(),
            text: answer.to_owned(),
            url: None,
            lang: None,
            vector: None,
        }
    }

    /// The same, with its unit vector.
    pub fn with_vector(mut self, vector: Vec<f32>) -> Self {
        self.vector = Some(vector);
        self
    }
}

/// The index's fields: what is shown, stored once; what is searched, one set per analysis.
#[derive(Clone, Debug)]
pub(crate) struct Fields {
    pub id: Field,
    pub kind: Field,
    pub title: Field,
    pub headings: Field,
    pub text: Field,
    pub url: Field,
    /// Per analysis: its title, headings and text fields, indexed only.
    pub searched: Vec<(Analysis, [Field; 3])>,
}

impl Fields {
    /// The schema and its fields.
    pub(crate) fn schema() -> (Schema, Self) {
        let mut builder = Schema::builder();
        let id = builder.add_text_field("id", STRING | STORED);
        let kind = builder.add_text_field("kind", STRING | STORED);
        let title = builder.add_text_field("title", STORED);
        let headings = builder.add_text_field("headings", STORED);
        let text = builder.add_text_field("text", STORED);
        let url = builder.add_text_field("url", STORED);
        let searched = Analysis::all()
            .map(|analysis| {
                let options = TextOptions::default().set_indexing_options(
                    TextFieldIndexing::default()
                        .set_tokenizer(&format!("chat_{}", analysis.name()))
                        .set_index_option(IndexRecordOption::WithFreqsAndPositions),
                );
                let name = analysis.name();
                let mut field =
                    |part: &str| builder.add_text_field(&format!("{part}_{name}"), options.clone());
                (analysis, [field("title"), field("headings"), field("text")])
            })
            .collect();
        let fields = Self {
            id,
            kind,
            title,
            headings,
            text,
            url,
            searched,
        };
        (builder.build(), fields)
    }

    /// The fields an index of `analyses` is searched through.
    pub(crate) fn searched_by(&self, analyses: &BTreeSet<String>) -> Vec<(Analysis, [Field; 3])> {
        self.searched
            .iter()
            .filter(|(analysis, _)| analyses.contains(analysis.name()))
            .cloned()
            .collect()
    }
}

/// What an index holds, written beside its files.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// The analyses its entries went through (`en`, `plain`).
    pub analyses: BTreeSet<String>,
    /// How many entries it holds.
    pub entries: u64,
    /// Entries not written because an equal one was (the same text twice).
    pub duplicates: u64,
    /// The embedding model of its vectors (`openai:…`, `bedrock:…`); none: keyword only.
    #[serde(default)]
    pub embedding_model: Option<String>,
    /// Its vectors' length.
    #[serde(default)]
    pub dimensions: Option<u32>,
}

/// Writes an index into a folder of its own, entry by entry.
pub struct IndexBuilder {
    index: Index,
    writer: IndexWriter,
    fields: Fields,
    seen: HashSet<[u8; 32]>,
    manifest: Manifest,
    dir: std::path::PathBuf,
    vectors: Vec<(String, Vec<f32>)>,
}

impl IndexBuilder {
    /// A builder writing into `dir`, an empty folder.
    pub fn create(dir: &Path) -> Result<Self, IndexError> {
        let (schema, fields) = Fields::schema();
        let index = Index::create_in_dir(dir, schema)?;
        register_analyzers(&index);
        // One thread: a Lambda has one or two vCPUs, and one segment per heap keeps the
        // snapshot small.
        let writer = index.writer_with_num_threads(1, WRITER_HEAP_BYTES)?;
        Ok(Self {
            index,
            writer,
            fields,
            seen: HashSet::new(),
            manifest: Manifest::default(),
            dir: dir.to_owned(),
            vectors: Vec::new(),
        })
    }

    /// Names the embedding model of the vectors its entries carry: an entry without one,
    /// or of another length, is refused from then on.
    pub fn with_embedding_model(mut self, model: &str) -> Self {
        self.manifest.embedding_model = Some(model.to_owned());
        self
    }

    /// Adds `entry`; false when an entry of the same kind and text is in already (the same
    /// paragraph on two pages is found once, where it was first met).
    pub fn add(&mut self, entry: &Entry) -> Result<bool, IndexError> {
        let normalized: Vec<&str> = entry.text.split_whitespace().collect();
        // A pair is its question and its answer: two questions may share an answer ("Yes.").
        let question = match entry.kind {
            EntryKind::Qna => entry.title.as_str(),
            EntryKind::Passage => "",
        };
        let key = format!(
            "{}\u{1f}{question}\u{1f}{}",
            entry.kind.as_str(),
            normalized.join(" ")
        );
        let hash: [u8; 32] = digest(&SHA256, key.as_bytes())
            .as_ref()
            .try_into()
            .unwrap_or([0; 32]);
        if !self.seen.insert(hash) {
            self.manifest.duplicates += 1;
            return Ok(false);
        }
        if self.manifest.embedding_model.is_some() {
            let vector = entry.vector.as_ref().ok_or_else(|| {
                IndexError::NotASnapshot(format!("entry {} has no vector", entry.id))
            })?;
            let length = u32::try_from(vector.len()).unwrap_or(u32::MAX);
            if *self.manifest.dimensions.get_or_insert(length) != length {
                return Err(IndexError::NotASnapshot(format!(
                    "entry {} has a vector of another length",
                    entry.id
                )));
            }
            self.vectors.push((entry.id.clone(), vector.clone()));
        }
        let analysis = Analysis::of(entry.lang.as_deref());
        let f = &self.fields;
        let [title_field, headings_field, text_field] = f
            .searched
            .iter()
            .find(|(a, _)| *a == analysis)
            .map(|(_, fields)| *fields)
            .ok_or_else(|| IndexError::NotASnapshot("an analysis without fields".into()))?;
        let headings = entry.headings.join(" › ");
        let mut doc = TantivyDocument::default();
        doc.add_text(f.id, &entry.id);
        doc.add_text(f.kind, entry.kind.as_str());
        doc.add_text(f.title, &entry.title);
        doc.add_text(f.headings, &headings);
        doc.add_text(f.text, &entry.text);
        if let Some(url) = &entry.url {
            doc.add_text(f.url, url);
        }
        doc.add_text(title_field, &entry.title);
        doc.add_text(headings_field, &headings);
        doc.add_text(text_field, &entry.text);
        self.writer.add_document(doc)?;
        self.manifest.analyses.insert(analysis.name().to_owned());
        self.manifest.entries += 1;
        Ok(true)
    }

    /// Commits, merges and packs the folder into a snapshot.
    pub fn finish(mut self) -> Result<(Snapshot, Manifest), IndexError> {
        self.writer.commit()?;
        // Merged into one segment: fewer files to fetch, and one searcher per question.
        let segments = self.index.searchable_segment_ids()?;
        if segments.len() > 1 {
            self.writer.merge(&segments).wait()?;
        }
        self.writer.wait_merging_threads()?;
        if self.manifest.embedding_model.is_some() {
            std::fs::write(
                self.dir.join(VECTORS_FILE),
                crate::vectors::encode(&self.vectors),
            )?;
        }
        let manifest = serde_json::to_vec(&self.manifest)
            .map_err(|e| IndexError::NotASnapshot(e.to_string()))?;
        std::fs::write(self.dir.join(MANIFEST_FILE), manifest)?;
        let snapshot = Snapshot::pack(&self.dir)?;
        Ok((snapshot, self.manifest))
    }
}
