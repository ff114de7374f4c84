//! Which search hits a turn is grounded in (API.md §16): those that clear the relevance
//! bar, best first, within a character budget, numbered by page. How they are then given
//! to the model, and the offline provider's answer from them, are pure functions of the
//! domain (`chat_domain::grounding`).

use chat_domain::grounding::{Grounding, Source, coverage};

use crate::index::EntryKind;
use crate::search::Hit;

/// The score the best hit must reach (scores are `raw / (raw + 6)` for keyword hits): low,
/// because BM25's scores shrink with the corpus (a three-page site's best answer scores
/// about 0.2; a 65-page site's 0.45 and up), so what decides is what the question's words
/// say ([`answers`]), not the score's size.
pub const RELEVANCE_BAR: f32 = 0.1;
/// Beside the best, a hit is drawn on when it scores at least this share of the best's.
pub const SOURCE_SHARE: f32 = 0.5;
/// The most characters of passages given to the model.
pub const CONTEXT_BUDGET_CHARS: usize = 6_000;
/// The most passages given to the model.
pub const MAX_PASSAGES: usize = 6;

/// The share of a question's words the best passage must hold when one of them is a word
/// the knowledge never mentions ("Do you take *Amex*?" is answered by the payment page that
/// names every other word; "Do you sell *kayaks*?" is not).
pub const COVERAGE_WITH_UNKNOWN: f32 = 0.7;

/// Whether the knowledge answers a question at all, from its best hit's score, the words
/// of the question that no entry holds (`unknown_words`), and the best share of the
/// question's words one of the top passages holds (`coverage`): the best must clear
/// [`RELEVANCE_BAR`]; a question with two unknown words is not answered, one with one only
/// when a passage holds [`COVERAGE_WITH_UNKNOWN`] of its words. Tuned on the benchmark's
/// fixture (BENCHMARKS.md, "Grounded answers"), where a score alone does not tell the
/// questions a site answers from the ones it does not.
pub fn answers(best: f32, unknown_words: usize, coverage: f32) -> bool {
    best >= RELEVANCE_BAR
        && match unknown_words {
            0 => true,
            1 => coverage >= COVERAGE_WITH_UNKNOWN,
            _ => false,
        }
}

/// With an embedding model, the cosine similarity of the nearest passage at which a
/// question is answered whatever its words: a paraphrase ("When will my parcel arrive?"
/// of a page about delivery) shares meaning, not words. Not calibrated on a real model's
/// vectors yet (the benchmark has none): typical related pairs of today's text-embedding
/// models score 0.4–0.7, unrelated ones under 0.3.
pub const SIMILARITY_BAR: f32 = 0.45;

/// How many of the best hits the coverage is taken over.
const COVERAGE_HITS: usize = 3;

/// The grounding of `hits` (best first) for `query`, given the query's `unknown` words and,
/// with an embedding model, the nearest passage's `similarity`: `None` when the knowledge
/// does not answer it (neither [`answers`] nor [`SIMILARITY_BAR`]); else as [`sources_of`].
pub fn grounding_of(
    hits: Vec<Hit>,
    unknown: &[String],
    query: &str,
    similarity: Option<f32>,
) -> Option<Grounding> {
    let best = hits.first().map_or(0.0, |h| h.score);
    let coverage = hits
        .iter()
        .take(COVERAGE_HITS)
        .map(|h| coverage(query, &format!("{} {} {}", h.title, h.headings, h.content)))
        .fold(0.0, f32::max);
    let close = similarity.is_some_and(|s| s >= SIMILARITY_BAR);
    if !close && !answers(best, unknown.len(), coverage) {
        return None;
    }
    sources_of(hits).map(|grounding| Grounding {
        question: query.to_owned(),
        ..grounding
    })
}

/// The grounding of `hits` (best first): those that clear the bar and [`SOURCE_SHARE`] of
/// the best's score, within the budget,
/// numbered by distinct URL in order of rank. `None` when none clears the bar.
pub fn sources_of(hits: Vec<Hit>) -> Option<Grounding> {
    let mut sources = Vec::new();
    let mut used = 0;
    let mut urls: Vec<String> = Vec::new();
    let best = hits.first().map_or(0.0, |h| h.score);
    let floor = RELEVANCE_BAR.max(best * SOURCE_SHARE);
    for hit in hits.into_iter().filter(|h| h.score >= floor) {
        if sources.len() == MAX_PASSAGES {
            break;
        }
        let length = hit.content.chars().count();
        // The best always goes in, cut to the budget; the rest only whole.
        let text = if sources.is_empty() {
            hit.content.chars().take(CONTEXT_BUDGET_CHARS).collect()
        } else if used + length > CONTEXT_BUDGET_CHARS {
            continue;
        } else {
            hit.content
        };
        used += text.chars().count();
        let number = hit.url.as_ref().map(|url| {
            let at = urls.iter().position(|u| u == url).unwrap_or_else(|| {
                urls.push(url.clone());
                urls.len() - 1
            });
            u32::try_from(at + 1).unwrap_or(u32::MAX)
        });
        sources.push(Source {
            number,
            title: hit.title,
            url: hit.url,
            text,
            score: hit.score,
            is_pair: hit.kind == EntryKind::Qna,
        });
    }
    (!sources.is_empty()).then_some(Grounding {
        sources,
        question: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(score: f32, kind: EntryKind, title: &str, url: Option<&str>, content: &str) -> Hit {
        Hit {
            score,
            id: format!("{title}#{score}"),
            kind,
            title: title.into(),
            headings: String::new(),
            content: content.into(),
            url: url.map(str::to_owned),
        }
    }

    #[test]
    fn hits_under_the_bar_are_left_out_and_pages_numbered_once() {
        let hits = vec![
            hit(
                0.7,
                EntryKind::Passage,
                "Shipping",
                Some("https://s/shipping"),
                "a",
            ),
            hit(
                0.5,
                EntryKind::Passage,
                "Shipping",
                Some("https://s/shipping"),
                "b",
            ),
            hit(
                0.45,
                EntryKind::Qna,
                "Do you gift wrap?",
                None,
                "Yes, for $4.",
            ),
            hit(
                0.4,
                EntryKind::Passage,
                "Returns",
                Some("https://s/returns"),
                "c",
            ),
            hit(
                0.2,
                EntryKind::Passage,
                "Sizes",
                Some("https://s/sizes"),
                "d",
            ),
        ];
        let grounding = sources_of(hits).unwrap();
        assert_eq!(grounding.sources.len(), 4, "the sizes hit is under the bar");
        let numbers: Vec<Option<u32>> = grounding.sources.iter().map(|s| s.number).collect();
        assert_eq!(
            numbers,
            [Some(1), Some(1), None, Some(2)],
            "one number per page; a pair none"
        );
        assert!(grounding.sources[2].is_pair);
        assert_eq!(
            sources_of(vec![hit(0.05, EntryKind::Passage, "x", None, "y")]),
            None
        );
        assert_eq!(sources_of(Vec::new()), None);
    }

    #[test]
    fn the_budget_keeps_the_best_and_drops_what_does_not_fit() {
        let long = "word ".repeat(2_000);
        let hits = vec![
            hit(0.9, EntryKind::Passage, "A", Some("https://a/"), &long),
            hit(0.8, EntryKind::Passage, "B", Some("https://b/"), &long),
            hit(
                0.7,
                EntryKind::Passage,
                "C",
                Some("https://c/"),
                "short and relevant text",
            ),
        ];
        let grounding = sources_of(hits).unwrap();
        let titles: Vec<&str> = grounding.sources.iter().map(|s| s.title.as_str()).collect();
        assert_eq!(
            titles,
            ["A"],
            "B does not fit, and nothing fits after the budget is spent"
        );
        assert_eq!(
            grounding.sources[0].text.chars().count(),
            CONTEXT_BUDGET_CHARS
        );
    }

    #[test]
    fn a_question_about_what_the_knowledge_never_mentions_is_not_answered() {
        assert!(answers(0.5, 0, 0.5), "every word known, a fair score");
        assert!(!answers(0.05, 0, 1.0), "under the bar");
        assert!(
            !answers(0.65, 1, 0.5),
            "bitcoin: known 'pay' lifts the score"
        );
        assert!(
            answers(0.65, 1, 0.75),
            "amex: the payment page holds the other words"
        );
        assert!(!answers(0.9, 2, 1.0), "two words the site never mentions");
    }
}
