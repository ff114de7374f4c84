//! A page as the knowledge keeps it: its title, language and main content as sections, each
//! under its heading path. Every source becomes one: a crawled HTML page, a document given
//! as Markdown, HTML or plain text.

/// A page's readable content.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Page {
    /// The URL it is cited by, when it has one (a Q&A pair or a document may not).
    pub url: Option<String>,
    /// Its title.
    pub title: String,
    /// Its language as the page declares it (`en`, `fr-CA`), when it does.
    pub lang: Option<String>,
    /// Its main content, in order.
    pub sections: Vec<Section>,
}

/// The paragraphs under one heading path.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Section {
    /// The headings above it, outermost first (empty before the first heading).
    pub headings: Vec<String>,
    /// Its paragraphs (lists and tables as lines of text), in order.
    pub paragraphs: Vec<String>,
}

impl Page {
    /// The number of words of its content.
    pub fn words(&self) -> usize {
        self.sections
            .iter()
            .flat_map(|s| &s.paragraphs)
            .map(|p| p.split_whitespace().count())
            .sum()
    }

    /// Reads Markdown: `#` headings open sections, blank lines separate paragraphs.
    pub fn from_markdown(title: &str, url: Option<&str>, markdown: &str) -> Self {
        let mut page = Self {
            url: url.map(str::to_owned),
            title: title.trim().to_owned(),
            lang: None,
            sections: Vec::new(),
        };
        let mut headings: Vec<(usize, String)> = Vec::new();
        let mut section = Section::default();
        let mut paragraph = String::new();
        let mut in_code = false;
        for line in markdown.lines() {
            let trimmed = line.trim();
            if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
                in_code = !in_code;
                continue;
            }
            if let (false, Some((level, text))) = (in_code, heading(trimmed)) {
                flush(&mut paragraph, &mut section);
                if !section.paragraphs.is_empty() {
                    page.sections.push(std::mem::take(&mut section));
                }
                headings.retain(|(l, _)| *l < level);
                headings.push((level, text));
                section.headings = headings.iter().map(|(_, h)| h.clone()).collect();
                continue;
            }
            if trimmed.is_empty() {
                flush(&mut paragraph, &mut section);
                continue;
            }
            if !paragraph.is_empty() {
                paragraph.push('\n');
            }
            paragraph.push_str(&plain_inline(trimmed));
        }
        flush(&mut paragraph, &mut section);
        if !section.paragraphs.is_empty() {
            page.sections.push(section);
        }
        if page.title.is_empty() {
            page.title = page
                .sections
                .iter()
                .find_map(|s| s.headings.first().cloned())
                .unwrap_or_default();
        }
        page
    }

    /// Reads plain text: blank lines separate paragraphs; there are no headings.
    pub fn from_plain_text(title: &str, url: Option<&str>, text: &str) -> Self {
        let paragraphs: Vec<String> = text
            .split("\n\n")
            .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|p| !p.is_empty())
            .collect();
        Self {
            url: url.map(str::to_owned),
            title: title.trim().to_owned(),
            lang: None,
            sections: match paragraphs.is_empty() {
                true => Vec::new(),
                false => vec![Section {
                    headings: Vec::new(),
                    paragraphs,
                }],
            },
        }
    }
}

/// An ATX heading's level and text.
fn heading(line: &str) -> Option<(usize, String)> {
    let level = line.chars().take_while(|c| *c == '#').count();
    let rest = line.get(level..)?;
    if !(1..=6).contains(&level) || !(rest.is_empty() || rest.starts_with(' ')) {
        return None;
    }
    let text = plain_inline(rest.trim().trim_end_matches('#').trim());
    (!text.is_empty()).then_some((level, text))
}

fn flush(paragraph: &mut String, section: &mut Section) {
    let text = paragraph.trim();
    if !text.is_empty() {
        section.paragraphs.push(text.to_owned());
    }
    paragraph.clear();
}

/// Markdown's inline marks dropped: `[text](url)` becomes `text`, emphasis and code marks
/// go. A link's target is never part of what is indexed or quoted.
fn plain_inline(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find(['[', '*', '_', '`']) {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        if let Some(link) = tail.strip_prefix('[')
            && let Some(close) = link.find("](")
            && let Some(end) = link[close + 2..].find(')')
        {
            out.push_str(&link[..close]);
            rest = &link[close + 2 + end + 1..];
            continue;
        }
        let mark = tail.chars().next().unwrap_or(' ');
        // `_` inside a word (snake_case) is text, not emphasis.
        let inside_word = mark == '_'
            && out.chars().last().is_some_and(char::is_alphanumeric)
            && tail[1..].chars().next().is_some_and(char::is_alphanumeric);
        if mark == '[' || inside_word {
            out.push(mark);
        }
        rest = &tail[mark.len_utf8()..];
    }
    out.push_str(rest);
    // A list item's or quote's marker is not text.
    let trimmed = out.trim_start_matches(['-', '+', '>', ' ']);
    let trimmed = match trimmed.split_once(". ") {
        Some((n, text)) if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) => text,
        _ => trimmed,
    };
    trimmed.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_sections_carry_their_heading_paths() {
        let page = Page::from_markdown(
            "",
            Some("https://shop.example/help"),
            "# Help\n\nIntro text.\n\n## Shipping\n\nOrders ship within **two** working days.\nSee [the map](https://x.example/map).\n\n### Abroad\n\n- Canada: 5 days\n- Mexico: 7 days\n\n## Returns\n\n```\n# not a heading\n```\nReturn within 30 days.\n",
        );
        assert_eq!(page.title, "Help");
        let got: Vec<(Vec<&str>, Vec<&str>)> = page
            .sections
            .iter()
            .map(|s| {
                (
                    s.headings.iter().map(String::as_str).collect(),
                    s.paragraphs.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (vec!["Help"], vec!["Intro text."]),
                (
                    vec!["Help", "Shipping"],
                    vec!["Orders ship within two working days.\nSee the map."]
                ),
                (
                    vec!["Help", "Shipping", "Abroad"],
                    vec!["Canada: 5 days\nMexico: 7 days"]
                ),
                // A fenced line is text, never a heading.
                (
                    vec!["Help", "Returns"],
                    vec!["# not a heading\nReturn within 30 days."]
                ),
            ]
        );
        assert_eq!(page.words(), 25);
    }

    #[test]
    fn plain_text_is_one_section_of_paragraphs() {
        let page = Page::from_plain_text("Notes", None, "One  two\nthree.\n\n\n\nFour.");
        assert_eq!(page.sections.len(), 1);
        assert_eq!(page.sections[0].paragraphs, vec!["One two three.", "Four."]);
        assert!(
            Page::from_plain_text("Empty", None, " \n\n ")
                .sections
                .is_empty()
        );
    }

    #[test]
    fn inline_marks_go_and_snake_case_stays() {
        assert_eq!(
            plain_inline("use `max_pages` and *care*"),
            "use max_pages and care"
        );
        assert_eq!(plain_inline("1. First [step](/a) [x]"), "First step [x]");
    }
}
