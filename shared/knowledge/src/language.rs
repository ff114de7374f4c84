//! Which stemmer a page's words go through: the language it declares, when tantivy has a
//! stemmer for it; every other page is indexed without one. Each language has its own
//! fields, so one index holds pages of several languages and a question is analysed as
//! each field's pages were.

use tantivy::Index;
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer,
    StopWordFilter, TextAnalyzer,
};

/// An analysis: a stemmed language, or none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Analysis(pub Option<Language>);

/// The languages with a stemmer, by their ISO 639-1 codes.
pub const STEMMED: [(&str, Language); 18] = [
    ("ar", Language::Arabic),
    ("da", Language::Danish),
    ("nl", Language::Dutch),
    ("en", Language::English),
    ("fi", Language::Finnish),
    ("fr", Language::French),
    ("de", Language::German),
    ("el", Language::Greek),
    ("hu", Language::Hungarian),
    ("it", Language::Italian),
    ("no", Language::Norwegian),
    ("pt", Language::Portuguese),
    ("ro", Language::Romanian),
    ("ru", Language::Russian),
    ("es", Language::Spanish),
    ("sv", Language::Swedish),
    ("ta", Language::Tamil),
    ("tr", Language::Turkish),
];

impl Analysis {
    /// Every analysis an index may use: each stemmed language, then none.
    pub fn all() -> impl Iterator<Item = Self> {
        STEMMED
            .iter()
            .map(|(_, language)| Self(Some(*language)))
            .chain(std::iter::once(Self(None)))
    }

    /// The analysis of a page that declares `lang` (`en-GB`, `fr`, `nb`): its language's
    /// stemmer, or none. A page that declares nothing is taken as English, the crawl's
    /// most common case; its words are still found unstemmed when it is not.
    pub fn of(lang: Option<&str>) -> Self {
        let Some(lang) = lang else {
            return Self(Some(Language::English));
        };
        let primary = lang
            .split(['-', '_'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        // Norwegian Bokmål and Nynorsk share the Norwegian stemmer.
        let primary = match primary.as_str() {
            "nb" | "nn" => "no",
            other => other,
        };
        Self(
            STEMMED
                .iter()
                .find(|(code, _)| *code == primary)
                .map(|(_, language)| *language),
        )
    }

    /// Its name: the suffix of its fields and the name its analyzer is registered under.
    pub fn name(self) -> &'static str {
        match self.0 {
            None => "plain",
            Some(language) => STEMMED
                .iter()
                .find(|(_, l)| *l == language)
                .map_or("plain", |(code, _)| code),
        }
    }

    /// Its analyzer: words, lower-cased, accents folded, the language's stop words dropped
    /// and its stemmer applied.
    fn analyzer(self) -> TextAnalyzer {
        let base = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(40))
            .filter(LowerCaser);
        match self.0 {
            None => base.filter(AsciiFoldingFilter).build(),
            Some(language) => match StopWordFilter::new(language) {
                Some(stop_words) => base
                    .filter(stop_words)
                    .filter(Stemmer::new(language))
                    .filter(AsciiFoldingFilter)
                    .build(),
                None => base
                    .filter(Stemmer::new(language))
                    .filter(AsciiFoldingFilter)
                    .build(),
            },
        }
    }
}

/// Registers every analysis on `index` (a tantivy index keeps only their names).
pub fn register_analyzers(index: &Index) {
    for analysis in Analysis::all() {
        index
            .tokenizers()
            .register(&format!("chat_{}", analysis.name()), analysis.analyzer());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_languages_pick_their_stemmer() {
        assert_eq!(Analysis::of(Some("en-GB")).name(), "en");
        assert_eq!(Analysis::of(Some("FR")).name(), "fr");
        assert_eq!(Analysis::of(Some("nb-NO")).name(), "no");
        assert_eq!(Analysis::of(Some("ja")).name(), "plain");
        assert_eq!(Analysis::of(None).name(), "en");
        assert_eq!(Analysis::all().count(), 19);
    }

    #[test]
    fn english_is_stemmed_and_stop_words_dropped() {
        let mut analyzer = Analysis::of(Some("en")).analyzer();
        let mut stream = analyzer.token_stream("How long does the Shipping take? Shipped parcels");
        let mut tokens = Vec::new();
        while let Some(token) = stream.next() {
            tokens.push(token.text.clone());
        }
        // "the" is a stop word; "does" stems to "doe" as "shipped" to "ship".
        assert_eq!(
            tokens,
            vec!["how", "long", "doe", "ship", "take", "ship", "parcel"]
        );
    }
}
