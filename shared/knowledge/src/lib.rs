//! The project's knowledge (API.md Part 3): what a page says, cut into passages, indexed
//! and searched. Three steps, as in a search engine's own examples: `extract` reads a page
//! (its main content, title, language, links), `passages` cuts it, `index` writes the
//! passages and Q&A pairs into an immutable snapshot and `search` opens one and answers
//! questions from it. Indexing and searching are apart: a function that only searches
//! links no crawler and no splitter.

pub mod blobs;
pub mod bundle;
pub mod cache;
pub mod crawl;
pub mod embeddings;
pub mod extract;
pub mod grounding;
pub mod index;
pub mod jobs;
pub mod language;
pub mod page;
pub mod passages;
pub mod retrieval;
pub mod search;
pub mod settings;
pub mod snapshot;
pub mod sync;
pub mod vectors;

pub use index::{Entry, EntryKind, IndexBuilder};
pub use page::{Page, Section};
pub use passages::{Passage, passages_of};
pub use search::{Hit, KnowledgeIndex};
pub use snapshot::Snapshot;

/// Why the index could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The search engine failed.
    #[error("index: {0}")]
    Engine(#[from] tantivy::TantivyError),
    /// A snapshot's files could not be written or read.
    #[error("index files: {0}")]
    Io(#[from] std::io::Error),
    /// A snapshot lacks a file the index needs, or holds a path outside its folder.
    #[error("the snapshot is not an index: {0}")]
    NotASnapshot(String),
}
