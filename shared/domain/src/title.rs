//! A conversation's title from its first user message: whitespace collapsed, cut at a
//! word boundary to at most [`MAX_TITLE_CHARS`] characters, `…` (counted) added when cut.

/// The longest title, in characters, the ellipsis included.
pub const MAX_TITLE_CHARS: usize = 60;

/// The title `text` gives; `None` when it has nothing but whitespace.
pub fn title_from(text: &str) -> Option<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() {
        return None;
    }
    let collapsed = words.join(" ");
    if collapsed.chars().count() <= MAX_TITLE_CHARS {
        return Some(collapsed);
    }
    let room = MAX_TITLE_CHARS - 1;
    let mut title = String::new();
    for word in &words {
        let needed = word.chars().count() + usize::from(!title.is_empty());
        if title.chars().count() + needed > room {
            break;
        }
        if !title.is_empty() {
            title.push(' ');
        }
        title.push_str(word);
    }
    if title.is_empty() {
        // One word longer than a title: cut inside it, there is no boundary to cut at.
        title = words[0].chars().take(room).collect();
    }
    title.push('…');
    Some(title)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_texts_keep_their_words_with_whitespace_collapsed() {
        assert_eq!(
            title_from("  Do you\n ship \tto   Canada? ").as_deref(),
            Some("Do you ship to Canada?")
        );
        assert_eq!(title_from(" \n\t"), None);
        let exactly = "é".repeat(60);
        assert_eq!(title_from(&exactly), Some(exactly));
    }

    #[test]
    fn long_texts_are_cut_at_a_word_boundary_with_the_ellipsis_counted() {
        let text = "I would like to know whether you ship your handmade ceramic mugs to Canada and how long it takes";
        let title = title_from(text).unwrap();
        assert!(title.chars().count() <= 60, "{title}");
        assert!(title.ends_with('…'));
        let kept = title.trim_end_matches('…');
        assert!(text.starts_with(kept));
        assert!(
            text[kept.len()..].starts_with(' '),
            "cut at a boundary: {title}"
        );
        assert_eq!(
            title,
            "I would like to know whether you ship your handmade ceramic…"
        );
        let word = "x".repeat(80);
        let title = title_from(&word).unwrap();
        assert_eq!(title.chars().count(), 60);
    }
}
