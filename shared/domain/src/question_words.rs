//! The words of a visitor's question that say nothing of what it is about ("how", "can",
//! "my"): left out when a question's words are compared with a page's (grounding's
//! extractive answer) or looked up in the index (`KnowledgeIndex::unknown_words`).

/// Words too common to say what a question is about.
#[rustfmt::skip]
pub const STOP_WORDS: [&str; 70] = [
    "a", "an", "the", "is", "are", "was", "be", "do", "does", "did", "can", "could", "will",
    "would", "should", "i", "you", "we", "my", "your", "our", "it", "its", "to", "of", "in", "on",
    "for", "with", "at", "by", "from", "and", "or", "how", "what", "when", "where", "which", "who",
    "why", "there", "this", "that", "me", "much", "many", "long",
    // Verbs of any question ("how long does it take", "can I get").
    "take", "takes", "get", "gets", "got", "need", "have", "has", "want",
    // What is left of a contraction once its apostrophe splits it ("I've", "doesn't").
    "ve", "ll", "re", "s", "t", "d", "m", "doesn", "don", "isn", "aren", "didn", "won",
];

/// Whether `word` (lower case) is too common to say what a question is about.
pub fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.contains(&word)
}
