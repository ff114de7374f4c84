//! What a turn is grounded in (API.md §16), found in-process: the project's index from the
//! warm cache (one `GetObject` when its version moved), searched with the visitor's
//! question, the page on screen preferred among equally relevant passages. The one
//! network call a search may need, the question's embedding, is made beside the turn's
//! first read ([`Retriever::prepare`]) whenever the process already holds the project's
//! index.

use std::sync::Arc;

use chat_domain::grounding::Grounding;
use chat_domain::ids::ProjectId;

use crate::blobs::BlobStore;
use crate::cache::{CacheError, IndexCache};
use crate::embeddings::{EmbeddingModel, Embeddings};
use crate::grounding::grounding_of;
use crate::search::{Hit, KnowledgeIndex};

/// How many hits a turn's search asks for before the bar and the budget pick among them.
pub const TURN_HITS: usize = 12;
/// Hits within this share of each other's score are equally relevant: among them, the
/// page the visitor is reading comes first.
pub const PAGE_TIE: f32 = 0.05;

/// Searches the projects' indexes for turns (and for `GET /v2/search`).
pub struct Retriever<B> {
    /// Where the snapshots are.
    pub blobs: B,
    /// The indexes this process holds open.
    pub cache: IndexCache,
    /// The embedding clients, for a question's vector.
    pub embeddings: Arc<Embeddings>,
}

/// What was worked out before the project's index version was known.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Prepared {
    /// The question's vector, and the model it is by.
    vector: Option<(String, Vec<f32>)>,
}

/// What one turn searches with.
#[derive(Clone, Copy, Debug)]
pub struct TurnQuery<'a> {
    /// What is searched: the visitor's message, with the previous one for a short
    /// follow-up (`chat_domain::grounding::search_query`).
    pub query: &'a str,
    /// The page the visitor is reading, when the route knows it.
    pub page_url: Option<&'a str>,
}

impl<B: BlobStore> Retriever<B> {
    /// The question's vector by the embedding model of the project's index, when this
    /// process holds one open with vectors; nothing otherwise (the search then embeds the
    /// question itself, once it has the index).
    pub async fn prepare(&self, project: ProjectId, question: &str) -> Prepared {
        let Some(index) = self.cache.latest(project) else {
            return Prepared::default();
        };
        let Some(model) = index.embedding_model() else {
            return Prepared::default();
        };
        let model = model.to_owned();
        Prepared {
            vector: question_vector(&self.embeddings, &index, question)
                .await
                .map(|vector| (model, vector)),
        }
    }

    /// The project's index at `version`: the open one, or fetched and opened.
    pub async fn index(
        &self,
        project: ProjectId,
        version: &str,
    ) -> Result<Arc<KnowledgeIndex>, CacheError> {
        self.cache.index(&self.blobs, project, version).await
    }

    /// What the turn is grounded in: the sources that clear the bar in the project's index
    /// at `version`, best first; `None` when nothing does (the fallback answers).
    pub async fn ground(
        &self,
        project: ProjectId,
        version: &str,
        prepared: Prepared,
        turn: TurnQuery<'_>,
    ) -> Result<Option<Grounding>, CacheError> {
        let index = self.index(project, version).await?;
        let vector = match prepared.vector {
            Some((model, vector)) if index.embedding_model() == Some(model.as_str()) => {
                Some(vector)
            }
            _ => question_vector(&self.embeddings, &index, turn.query).await,
        };
        let (query, page) = (turn.query.to_owned(), turn.page_url.map(str::to_owned));
        // On a thread of its own: the turn's write is on the wire meanwhile.
        tokio::task::spawn_blocking(move || {
            let mut hits = index.search_hybrid(&query, vector.as_deref(), TURN_HITS)?;
            if let Some(page) = &page {
                prefer_page(&mut hits, page);
            }
            let unknown = index.unknown_words(&query)?;
            let similarity = vector.as_deref().and_then(|v| index.best_similarity(v));
            Ok(grounding_of(hits, &unknown, &query, similarity))
        })
        .await
        .map_err(|e| CacheError::Index(crate::IndexError::Io(std::io::Error::other(e))))?
    }
}

/// The question's unit vector by `index`'s embedding model, when it has one; a failed
/// embedding is logged and the search is by keywords alone, not refused.
pub async fn question_vector(
    embeddings: &Embeddings,
    index: &KnowledgeIndex,
    question: &str,
) -> Option<Vec<f32>> {
    let model = EmbeddingModel::parse(index.embedding_model()?)?;
    match embeddings.embed(&model, &[question.to_owned()]).await {
        Ok(mut vectors) => vectors.pop(),
        Err(error) => {
            tracing::warn!(%error, "the question was not embedded; keywords alone rank");
            None
        }
    }
}

/// Moves the hits of the page the visitor is reading ahead of those no more than
/// [`PAGE_TIE`] better: "this product" means the one on screen.
pub fn prefer_page(hits: &mut [Hit], page_url: &str) {
    let page = same_page_key(page_url);
    let on_page = |hit: &Hit| hit.url.as_deref().is_some_and(|u| same_page_key(u) == page);
    // Insertion sort by "is ahead of": stable, and the lists are a dozen long.
    for i in 1..hits.len() {
        let mut j = i;
        while j > 0
            && on_page(&hits[j])
            && !on_page(&hits[j - 1])
            && hits[j].score >= hits[j - 1].score * (1.0 - PAGE_TIE)
        {
            hits.swap(j, j - 1);
            j -= 1;
        }
    }
}

/// A URL without its fragment, query and trailing slash, lower-cased: how a page the widget
/// reports is matched with the one the crawler stored.
fn same_page_key(url: &str) -> String {
    let url = url.split(['#', '?']).next().unwrap_or(url);
    url.trim_end_matches('/').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::EntryKind;

    fn hit(score: f32, url: &str) -> Hit {
        Hit {
            score,
            id: url.to_owned(),
            kind: EntryKind::Passage,
            title: url.to_owned(),
            headings: String::new(),
            content: String::new(),
            url: Some(url.to_owned()),
        }
    }

    fn order(hits: &[Hit]) -> Vec<&str> {
        hits.iter().map(|h| h.id.as_str()).collect()
    }

    #[test]
    fn the_page_on_screen_wins_a_tie_and_only_a_tie() {
        let mut hits = vec![
            hit(0.80, "https://s/jacket"),
            hit(0.78, "https://s/backpack"),
            hit(0.50, "https://s/shoes"),
        ];
        prefer_page(&mut hits, "https://s/backpack/#reviews");
        assert_eq!(
            order(&hits),
            ["https://s/backpack", "https://s/jacket", "https://s/shoes"]
        );
        prefer_page(&mut hits, "https://s/shoes");
        assert_eq!(
            order(&hits),
            ["https://s/backpack", "https://s/jacket", "https://s/shoes"],
            "a much weaker hit stays where it is"
        );
    }
}
