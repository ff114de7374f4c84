//! The citation rewriter of grounded answers (API.md §16): one pure function over the
//! model's streamed text, shared by every provider, so what the stream carries and what is
//! stored is the same text whoever wrote it.
//!
//! The model sees passages numbered `1..=k` ([`Source::number`]) and cites them inside its
//! text. On the way out:
//! - `[1]`, `[1, 2]`, `[1][2]` and `【1】` (full-width brackets and digits, `，`/`、`/`;` as
//!   separators too) are citation markers. A marker is never emitted in part: text that
//!   could still become one is held back until it is decided.
//! - Numbers that name no passage are dropped; a marker left with none disappears, with one
//!   space or tab just before it (`fast [7].` → `fast.`).
//! - The rest are renumbered 1…m in order of first use, per distinct URL (two passages of
//!   one page share a number; the fragment and a trailing `/` do not make a URL distinct).
//! - Canonical form: each number is its own `[n]`, in the order written, duplicates within
//!   one marker removed, separated by one space: `[3, 1]` → `[1] [2]`, and `[1][2]` →
//!   `[1] [2]` too. The space is deliberate: the official widget reads `[label][n]` as a
//!   labelled reference and would show `[1][2]` as a single pill, so a marker written right
//!   after a `]` also gets a space before it.
//! - A marker glued to a word (`array[0]`, `x[12]`) naming anything that is not a passage
//!   reads as an index and is left as written; glued and naming only passages, it cites.
//! - `[text](url)` to a URL that is not a passage's keeps its text, drops the link; a bare
//!   `http(s)://` URL that is not a passage's is removed. That is decided on the rewritten
//!   text, so removing a marker or a link can never join two pieces into a new URL. A URL is
//!   held back until it ends (whitespace, a bracket or quote, or the end of the stream), at
//!   most [`MAX_URL_CHARS`] characters: a longer one is dropped whole.
//! - [`CitationRewriter::finish`] appends, after the answer's last word, a blank line and
//!   `[n]: url "title"` per cited source: no angle brackets around the URL, and a title that
//!   is never empty and has no `"`, because the widget reads these lines with
//!   `^\[(\d+)\]:\s+(\S+)(?:\s+"([^"]+)")?` and drops a line without a title.
//!
//! The output depends only on the whole text, never on how it was split into deltas.
//! Not rewritten: code spans, `www.` addresses without a scheme, footnotes (`[^1]`), ranges
//! (`[1-3]`). An ungrounded answer (no sources) does not go through the rewriter at all: it
//! would drop every marker and every URL.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde::Serialize;

/// The longest bare URL, in characters, held back while it may still go on; a URL running
/// longer (or longer than every passage's URL) is dropped whole.
pub const MAX_URL_CHARS: usize = 2048;

/// Bytes after the `[` within which a marker must close: room for a dozen numbers, and no
/// long hold-back on a `[` that opens prose.
const MAX_MARKER_BYTES: usize = 64;
/// Bytes of a markdown link's text; longer bracketed text is plain text, not held back.
const MAX_LINK_TEXT_BYTES: usize = 512;
/// Room for a link title (`[t](url "title")`) beyond the URL itself.
const MAX_LINK_TITLE_CHARS: usize = 256;

/// A passage as the model was given it. Only passages with a URL are numbered (a Q&A pair or
/// a document without one is given unnumbered), so every cited number has a source line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// Its number in the prompt, `1..=k`.
    pub number: u32,
    /// The page's URL; an empty one makes the passage uncitable.
    pub url: String,
    /// The page's title.
    pub title: String,
}

/// A source the answer cites, in the answer's own numbering: one `source-url` chunk
/// (`sourceId` = `id`) and one entry of `metadata.sources`, which this serialises to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Cited {
    /// The number the answer shows, `"1"`, `"2"`, … in order of first use.
    pub id: String,
    /// The URL, as the first passage of that page gave it.
    pub url: String,
    /// The title, as the first passage of that page gave it.
    pub title: String,
}

/// Rewrites one answer's streamed text; feed it every delta with [`push`](Self::push), then
/// call [`finish`](Self::finish) once.
#[derive(Debug)]
pub struct CitationRewriter {
    pages: Vec<Page>,
    by_number: HashMap<u32, usize>,
    /// Every passage's URL without a trailing `/`: the URLs the text may keep.
    allowed: Vec<String>,
    cited: Vec<usize>,
    max_url: usize,
    /// Input not yet decided by the marker stage.
    marks: String,
    /// The last input character the marker stage consumed: tells `array[0]` from `text [0]`.
    prev: Option<char>,
    /// The last character the marker stage wrote.
    marks_last: Option<char>,
    /// Marker-stage output not yet decided by the URL stage.
    urls: String,
    /// Inside a URL that ran past the bound: the rest of it goes too.
    skipping: bool,
    /// A URL was just removed: one space after it goes too if one is already before it.
    removed: bool,
    /// The last character emitted.
    last: Option<char>,
    /// Newlines at the end of what was emitted (spaces ignored), for the blank line.
    newlines: usize,
}

#[derive(Debug)]
struct Page {
    url: String,
    key: String,
    title: String,
    id: Option<u32>,
}

/// How far a parse got with the text at hand.
enum Parse<T> {
    /// The text so far is a prefix of it: wait for more.
    Wait,
    No,
    Yes(T),
}

/// What the marker stage does with the text at its position.
enum Step {
    Wait,
    /// Emit this many bytes unchanged.
    Keep(usize),
    /// Consume this many bytes, emit nothing.
    Drop(usize),
    /// A marker of this many bytes naming these passages (none: it disappears).
    Cite(usize, Vec<u32>),
    /// A markdown link of this many bytes, rewritten.
    Link(usize, String),
}

impl CitationRewriter {
    /// A rewriter for an answer grounded in `sources`, the numbered passages the model saw.
    /// Duplicate numbers keep the first; a source with an empty URL is never cited.
    pub fn new(sources: Vec<Source>) -> Self {
        let mut pages: Vec<Page> = Vec::new();
        let mut by_number = HashMap::new();
        let mut allowed = Vec::new();
        for source in sources {
            let url = source.url.trim();
            if url.is_empty() || by_number.contains_key(&source.number) {
                continue;
            }
            allowed.push(url.trim_end_matches('/').to_owned());
            let key = url_key(url).to_owned();
            let page = match pages.iter().position(|p| p.key == key) {
                Some(page) => page,
                None => {
                    pages.push(Page {
                        url: url.to_owned(),
                        key,
                        title: source.title,
                        id: None,
                    });
                    pages.len() - 1
                }
            };
            by_number.insert(source.number, page);
        }
        // A passage's own URL must never be cut by the bound, however long it is.
        let longest = allowed.iter().map(|url| url.chars().count() + 1).max();
        Self {
            max_url: MAX_URL_CHARS.max(longest.unwrap_or(0)),
            pages,
            by_number,
            allowed,
            cited: Vec::new(),
            marks: String::new(),
            prev: None,
            marks_last: None,
            urls: String::new(),
            skipping: false,
            removed: false,
            last: None,
            newlines: 0,
        }
    }

    /// Takes the next delta of the model's text and returns the text safe to send now,
    /// possibly empty while a marker, link or URL is still undecided. What is held back stays
    /// bounded: a URL's [`MAX_URL_CHARS`], or a markdown link's text, URL and title.
    pub fn push(&mut self, delta: &str) -> String {
        self.marks.push_str(delta);
        self.run(false)
    }

    /// Ends the answer: returns the held-back rest followed, when anything was cited, by the
    /// sources block, and the cited sources in the answer's numbering.
    pub fn finish(mut self) -> (String, Vec<Cited>) {
        let mut text = self.run(true);
        if self.cited.is_empty() {
            return (text, Vec::new());
        }
        for _ in self.newlines.min(2)..2 {
            text.push('\n');
        }
        let mut cited = Vec::with_capacity(self.cited.len());
        for (i, &page) in self.cited.iter().enumerate() {
            let page = &self.pages[page];
            let id = (i + 1).to_string();
            if i > 0 {
                text.push('\n');
            }
            let _ = write!(
                text,
                "[{id}]: {} \"{}\"",
                line_url(&page.url),
                line_title(&page.title, &page.url)
            );
            cited.push(Cited {
                id,
                url: page.url.clone(),
                title: page.title.clone(),
            });
        }
        (text, cited)
    }

    /// Runs both stages over what is pending; at the end, everything is decided.
    fn run(&mut self, at_end: bool) -> String {
        let marks = std::mem::take(&mut self.marks);
        let used = self.mark_scan(&marks, at_end);
        self.marks = marks[used..].to_owned();
        let urls = std::mem::take(&mut self.urls);
        let (used, out) = self.url_scan(&urls, at_end);
        self.urls = urls[used..].to_owned();
        for c in out.chars() {
            match c {
                '\n' => self.newlines += 1,
                ' ' | '\t' | '\r' => {}
                _ => self.newlines = 0,
            }
        }
        out
    }

    /// The marker stage: markers and markdown links, appending its output to `self.urls`.
    /// Returns the bytes of `s` decided.
    fn mark_scan(&mut self, s: &str, at_end: bool) -> usize {
        let mut i = 0;
        while let Some(c) = s[i..].chars().next() {
            let rest = &s[i..];
            let step = match c {
                ' ' | '\t' => match rest[1..].chars().next() {
                    None if !at_end => Step::Wait,
                    Some('[' | '【') => match self.bracket(&rest[1..], Some(c), at_end) {
                        Step::Wait => Step::Wait,
                        Step::Cite(len, numbers) if numbers.is_empty() => Step::Drop(1 + len),
                        _ => Step::Keep(1),
                    },
                    _ => Step::Keep(1),
                },
                '[' | '【' => self.bracket(rest, self.prev, at_end),
                _ => Step::Keep(c.len_utf8()),
            };
            let len = match step {
                Step::Wait => break,
                Step::Keep(len) => {
                    self.write_mark(&rest[..len]);
                    len
                }
                Step::Drop(len) => len,
                Step::Cite(len, numbers) => {
                    self.cite(&numbers);
                    len
                }
                Step::Link(len, text) => {
                    self.write_mark(&text);
                    len
                }
            };
            self.prev = rest[..len].chars().next_back();
            i += len;
        }
        i
    }

    fn write_mark(&mut self, text: &str) {
        if let Some(c) = text.chars().next_back() {
            self.marks_last = Some(c);
        }
        self.urls.push_str(text);
    }

    /// Writes a marker naming these passages in the answer's numbering.
    fn cite(&mut self, numbers: &[u32]) {
        let mut ids: Vec<u32> = Vec::new();
        for number in numbers {
            let page = self.by_number[number];
            let id = match self.pages[page].id {
                Some(id) => id,
                None => {
                    self.cited.push(page);
                    let id = u32::try_from(self.cited.len()).unwrap_or(u32::MAX);
                    self.pages[page].id = Some(id);
                    id
                }
            };
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        let mut text = String::new();
        for id in ids {
            if !text.is_empty() || self.marks_last == Some(']') {
                text.push(' ');
            }
            let _ = write!(text, "[{id}]");
        }
        self.write_mark(&text);
    }

    /// What `s`, starting with `[` or `【`, is: a marker, a markdown link, or plain text.
    fn bracket(&self, s: &str, prev: Option<char>, at_end: bool) -> Step {
        let ascii = s.starts_with('[');
        match parse_marker(s) {
            Parse::Wait if !at_end => return Step::Wait,
            Parse::Yes((len, numbers)) => {
                let valid: Vec<u32> = numbers
                    .iter()
                    .flatten()
                    .filter(|n| self.by_number.contains_key(n))
                    .copied()
                    .collect();
                let glued = prev.is_some_and(|p| p.is_alphanumeric() || p == '_');
                if ascii && glued && valid.len() < numbers.len() {
                    return Step::Keep(1);
                }
                return Step::Cite(len, valid);
            }
            _ => {}
        }
        if !ascii {
            return Step::Keep('【'.len_utf8());
        }
        match parse_link(s, self.max_url + MAX_LINK_TITLE_CHARS) {
            Parse::Wait if !at_end => Step::Wait,
            Parse::Yes((len, text, inner)) => {
                let dest = inner.split_whitespace().next().unwrap_or("");
                let bare = dest.trim_start_matches('<').trim_end_matches('>');
                if self.is_passage(bare) {
                    Step::Link(len, format!("[{text}]({dest})"))
                } else {
                    Step::Link(len, text.to_owned())
                }
            }
            _ => Step::Keep(1),
        }
    }

    /// The URL stage: bare URLs that are not a passage's removed. Returns the bytes of `s`
    /// decided and the text to emit.
    fn url_scan(&mut self, s: &str, at_end: bool) -> (usize, String) {
        let mut out = String::new();
        let mut i = 0;
        while let Some(c) = s[i..].chars().next() {
            let rest = &s[i..];
            if self.skipping {
                if ends_url(c) {
                    self.skipping = false;
                    self.removed = true;
                } else {
                    i += c.len_utf8();
                    continue;
                }
            }
            if std::mem::take(&mut self.removed)
                && c == ' '
                && self.last.is_none_or(char::is_whitespace)
            {
                i += 1;
                continue;
            }
            if matches!(c, 'h' | 'H') {
                match self.parse_url(rest, at_end) {
                    Parse::Wait => break,
                    Parse::Yes((len, keep, cut)) => {
                        if keep {
                            out.push_str(&rest[..len]);
                            self.last = rest[..len].chars().next_back();
                        } else {
                            self.skipping = cut;
                            self.removed = !cut;
                        }
                        i += len;
                        continue;
                    }
                    Parse::No => {}
                }
            }
            out.push(c);
            self.last = Some(c);
            i += c.len_utf8();
        }
        (i, out)
    }

    /// A URL at the start of `s`: its length in bytes, whether it is a passage's, and
    /// whether it was cut at the bound (the rest of it is then dropped too).
    fn parse_url(&self, s: &str, at_end: bool) -> Parse<(usize, bool, bool)> {
        let scheme = match parse_scheme(s) {
            Parse::Yes(n) => n,
            Parse::Wait if !at_end => return Parse::Wait,
            _ => return Parse::No,
        };
        // The scheme is ASCII, so its bytes are its characters.
        let mut end = None;
        for (count, (i, c)) in s.char_indices().enumerate().skip(scheme) {
            if ends_url(c) {
                end = Some(i);
                break;
            }
            if count >= self.max_url {
                return Parse::Yes((i, false, true));
            }
        }
        let end = match end {
            Some(end) => end,
            None if at_end => s.len(),
            None => return Parse::Wait,
        };
        let url = trim_url(&s[..end]);
        Parse::Yes((url.len(), self.is_passage(url), false))
    }

    /// Exactly a passage's URL (but for a trailing `/`): a fragment could hide another URL.
    fn is_passage(&self, url: &str) -> bool {
        let url = url.trim_end_matches('/');
        !url.is_empty() && self.allowed.iter().any(|a| a == url)
    }
}

/// What makes two passages' URLs the same page: the fragment and a trailing `/` do not.
fn url_key(url: &str) -> &str {
    let url = url.split('#').next().unwrap_or(url);
    url.trim_end_matches('/')
}

/// A digit, ASCII or full-width.
fn digit(c: char) -> Option<u32> {
    match c {
        '０'..='９' => Some(c as u32 - '０' as u32),
        _ => c.to_digit(10),
    }
}

/// A marker at the start of `s`: its length in bytes and its numbers (`None`: too large).
fn parse_marker(s: &str) -> Parse<(usize, Vec<Option<u32>>)> {
    let mut chars = s.char_indices();
    let close = match chars.next() {
        Some((_, '[')) => ']',
        Some((_, '【')) => '】',
        _ => return Parse::No,
    };
    let mut numbers = Vec::new();
    let mut number: Option<Option<u32>> = None;
    let mut after_number = false;
    for (i, c) in chars {
        if i > MAX_MARKER_BYTES {
            return Parse::No;
        }
        if let Some(d) = digit(c) {
            if after_number {
                return Parse::No; // `[1 2]`
            }
            let value = number.unwrap_or(Some(0));
            number = Some(value.and_then(|n| n.checked_mul(10)?.checked_add(d)));
            continue;
        }
        if let Some(n) = number.take() {
            numbers.push(n);
            after_number = true;
        }
        match c {
            ' ' | '\u{3000}' => {}
            ',' | '，' | '、' | ';' if after_number => after_number = false,
            c if c == close && after_number => return Parse::Yes((i + c.len_utf8(), numbers)),
            _ => return Parse::No,
        }
    }
    Parse::Wait
}

/// A markdown link `[text](destination)` at the start of `s`: its length in bytes, its text
/// and what is between the parentheses.
fn parse_link(s: &str, max_inner: usize) -> Parse<(usize, &str, &str)> {
    let mut chars = s.char_indices().skip(1);
    let mut text_end = None;
    for (i, c) in chars.by_ref() {
        match c {
            ']' => {
                text_end = Some(i);
                break;
            }
            '[' | '\n' | '【' | '】' => return Parse::No,
            _ if i > MAX_LINK_TEXT_BYTES => return Parse::No,
            _ => {}
        }
    }
    let Some(text_end) = text_end else {
        return Parse::Wait;
    };
    match chars.next() {
        None => return Parse::Wait,
        Some((_, '(')) => {}
        Some(_) => return Parse::No,
    }
    let inner = text_end + 2;
    let mut depth = 0usize;
    for (count, (i, c)) in chars.enumerate() {
        match c {
            _ if count > max_inner => return Parse::No,
            '\n' => return Parse::No,
            '(' => depth += 1,
            ')' if depth == 0 => return Parse::Yes((i + 1, &s[1..text_end], &s[inner..i])),
            ')' => depth -= 1,
            _ => {}
        }
    }
    Parse::Wait
}

/// `http://` or `https://`, in any case, at the start of `s`: its length.
fn parse_scheme(s: &str) -> Parse<usize> {
    let bytes = s.as_bytes();
    let mut partial = false;
    for scheme in [b"https://".as_slice(), b"http://"] {
        let n = bytes.len().min(scheme.len());
        if bytes[..n].eq_ignore_ascii_case(&scheme[..n]) {
            if n == scheme.len() {
                return Parse::Yes(n);
            }
            partial = true;
        }
    }
    if partial { Parse::Wait } else { Parse::No }
}

/// Characters a URL in prose never contains: it ends at the first one.
fn ends_url(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '<' | '>'
                | '"'
                | '`'
                | '['
                | ']'
                | '{'
                | '}'
                | '|'
                | '\\'
                | '^'
                | '【'
                | '】'
                | '「'
                | '」'
                | '。'
                | '，'
                | '、'
                | '（'
                | '）'
        )
}

/// A URL without the punctuation that ends the sentence around it: `…/a).` → `…/a` when
/// the `)` opens nowhere in it.
fn trim_url(mut url: &str) -> &str {
    loop {
        let Some(c) = url.chars().next_back() else {
            return url;
        };
        let unbalanced = c == ')' && url.matches('(').count() < url.matches(')').count();
        if matches!(c, '.' | ',' | ';' | ':' | '!' | '?' | '*' | '\'') || unbalanced {
            url = &url[..url.len() - c.len_utf8()];
        } else {
            return url;
        }
    }
}

/// A URL as one `\S+` token of a sources line.
fn line_url(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    for c in url.chars() {
        if c.is_whitespace() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "%{b:02X}");
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A title as the quoted label of a sources line: one line, no `"`, never empty.
fn line_title(title: &str, url: &str) -> String {
    let clean: String = title
        .chars()
        .map(|c| match c {
            '"' => '\'',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect();
    match clean.trim() {
        "" => line_url(url).replace('"', "'"),
        trimmed => trimmed.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SHIPPING: &str = "https://shop.example.com/help/shipping";
    const RETURNS: &str = "https://shop.example.com/help/returns";
    const SIZES: &str = "https://shop.example.com/help/sizes";

    fn source(number: u32, url: &str, title: &str) -> Source {
        Source {
            number,
            url: url.to_owned(),
            title: title.to_owned(),
        }
    }

    /// Three passages of three pages.
    fn three() -> Vec<Source> {
        vec![
            source(1, SHIPPING, "Shipping and delivery"),
            source(2, RETURNS, "Returns"),
            source(3, SIZES, "Size guide"),
        ]
    }

    /// What each delta emits, then what `finish` returns.
    fn run(sources: Vec<Source>, deltas: &[&str]) -> (Vec<String>, String, Vec<Cited>) {
        let mut rewriter = CitationRewriter::new(sources);
        let emitted = deltas.iter().map(|d| rewriter.push(d)).collect();
        let (rest, cited) = rewriter.finish();
        (emitted, rest, cited)
    }

    /// The whole rewritten text of a one-delta answer.
    fn whole(sources: Vec<Source>, text: &str) -> String {
        let (emitted, rest, _) = run(sources, &[text]);
        emitted.concat() + &rest
    }

    /// The answer without its sources block.
    fn body(sources: Vec<Source>, text: &str) -> String {
        let full = whole(sources, text);
        match full.rfind("\n\n[1]: ") {
            Some(at) => full[..at].to_owned(),
            None => full,
        }
    }

    fn block(lines: &[&str]) -> String {
        format!("\n\n{}", lines.join("\n"))
    }

    const SHIPPING_LINE: &str =
        "[1]: https://shop.example.com/help/shipping \"Shipping and delivery\"";

    #[test]
    fn one_marker_is_kept_and_its_source_listed() {
        let (emitted, rest, cited) = run(three(), &["Orders ship in two days [1]."]);
        assert_eq!(emitted, ["Orders ship in two days [1]."]);
        assert_eq!(rest, block(&[SHIPPING_LINE]));
        assert_eq!(
            cited,
            [Cited {
                id: "1".into(),
                url: SHIPPING.into(),
                title: "Shipping and delivery".into()
            }]
        );
        assert_eq!(
            serde_json::to_value(&cited).unwrap(),
            serde_json::json!([{"id": "1", "url": SHIPPING, "title": "Shipping and delivery"}])
        );
    }

    #[test]
    fn a_list_marker_becomes_one_marker_per_number_spaced() {
        let (emitted, rest, cited) = run(three(), &["Yes [1, 2]."]);
        assert_eq!(emitted, ["Yes [1] [2]."]);
        assert_eq!(
            rest,
            block(&[
                SHIPPING_LINE,
                "[2]: https://shop.example.com/help/returns \"Returns\""
            ])
        );
        assert_eq!(cited.len(), 2);
        assert_eq!(body(three(), "Yes [2,1] [1 ,2]"), "Yes [1] [2] [2] [1]");
        assert_eq!(body(three(), "Yes [1, 1]"), "Yes [1]");
    }

    #[test]
    fn adjacent_markers_are_spaced_so_the_widget_sees_both() {
        let (emitted, _, cited) = run(three(), &["Yes [1][2]."]);
        assert_eq!(emitted, ["Yes [1] [2]."]);
        assert_eq!(cited.len(), 2);
        assert_eq!(body(three(), "see [below][1]"), "see [below] [1]");
    }

    #[test]
    fn full_width_markers_are_citations() {
        let (emitted, rest, _) = run(three(), &["送料は無料です【1】。"]);
        assert_eq!(emitted, ["送料は無料です[1]。"]);
        assert_eq!(rest, block(&[SHIPPING_LINE]));
        assert_eq!(body(three(), "可以【１，２】"), "可以[1] [2]");
        assert_eq!(whole(three(), "a【1]"), "a【1]");
    }

    #[test]
    fn a_marker_split_across_deltas_is_held_back_until_it_closes() {
        let (emitted, rest, _) = run(three(), &["see [", "1] for"]);
        assert_eq!(emitted, ["see", " [1] for"]);
        assert_eq!(rest, block(&[SHIPPING_LINE]));

        let (emitted, rest, _) = run(three(), &["[", "1", "]"]);
        assert_eq!(emitted, ["", "", "[1]"]);
        assert_eq!(rest, block(&[SHIPPING_LINE]));

        let (emitted, _, _) = run(three(), &["All [1", ", 2]", " apply."]);
        assert_eq!(emitted, ["All", " [1] [2]", " apply."]);

        let (emitted, _, _) = run(three(), &["【", "2", "】"]);
        assert_eq!(emitted, ["", "", "[1]"]);
    }

    #[test]
    fn numbers_that_name_no_passage_are_dropped() {
        let (emitted, rest, cited) = run(three(), &["Fast [7]."]);
        assert_eq!(emitted, ["Fast."]);
        assert_eq!((rest.as_str(), cited.len()), ("", 0));
        assert_eq!(
            whole(three(), "Fast [1, 7]."),
            format!("Fast [1].{}", block(&[SHIPPING_LINE]))
        );
        assert_eq!(whole(three(), "Fast [0][7]【9】."), "Fast.");
        assert_eq!(whole(three(), "Fast [99999999999]."), "Fast.");
    }

    #[test]
    fn markers_glued_to_a_word_that_name_no_passage_are_indexes() {
        assert_eq!(
            whole(three(), "use x[7] and array[0]"),
            "use x[7] and array[0]"
        );
        assert_eq!(
            whole(three(), "Two days[1]."),
            format!("Two days[1].{}", block(&[SHIPPING_LINE]))
        );
    }

    #[test]
    fn citations_are_renumbered_in_order_of_first_use() {
        let (emitted, rest, cited) = run(three(), &["A [3]. ", "B [1]. C [3]."]);
        assert_eq!(emitted, ["A [1].", " B [2]. C [1]."]);
        assert_eq!(
            rest,
            block(&[
                "[1]: https://shop.example.com/help/sizes \"Size guide\"",
                "[2]: https://shop.example.com/help/shipping \"Shipping and delivery\"",
            ])
        );
        let ids: Vec<_> = cited
            .iter()
            .map(|c| (c.id.as_str(), c.url.as_str()))
            .collect();
        assert_eq!(ids, [("1", SIZES), ("2", SHIPPING)]);
        assert_eq!(
            whole(three(), "X [3, 1]. Y [1]").lines().next(),
            Some("X [1] [2]. Y [2]")
        );
    }

    #[test]
    fn passages_of_one_page_share_one_number() {
        let sources = vec![
            source(1, SHIPPING, "Shipping and delivery"),
            source(
                2,
                "https://shop.example.com/help/shipping/#rates",
                "Shipping: rates",
            ),
            source(3, RETURNS, "Returns"),
        ];
        let (emitted, rest, cited) = run(sources.clone(), &["A [2]. B [1]. C [1, 2]. D [3]."]);
        assert_eq!(emitted, ["A [1]. B [1]. C [1]. D [2]."]);
        assert_eq!(
            rest,
            block(&[
                SHIPPING_LINE,
                "[2]: https://shop.example.com/help/returns \"Returns\""
            ])
        );
        assert_eq!(cited[0].url, SHIPPING);
        assert_eq!(cited.len(), 2);
    }

    #[test]
    fn a_bare_url_that_is_no_passage_s_is_removed() {
        let (emitted, rest, _) = run(three(), &["See https://evil.example/x for more."]);
        assert_eq!(emitted, ["See for more."]);
        assert_eq!(rest, "");
        // The `)` that opens nowhere in the URL and the `.` are the sentence's.
        assert_eq!(whole(three(), "(at HTTP://evil.example/a_(b))."), "(at ).");
        assert_eq!(whole(three(), "Go: https://evil.example"), "Go: ");
    }

    #[test]
    fn a_link_to_a_url_that_is_no_passage_s_keeps_its_text() {
        let text = "Read [the guide](https://evil.example/guide \"Guide\") first.";
        assert_eq!(whole(three(), text), "Read the guide first.");
        let text = "Read [https://evil.example](https://evil.example) or [it](/relative).";
        assert_eq!(whole(three(), text), "Read or it.");
    }

    #[test]
    fn a_passage_s_own_url_is_kept_bare_and_as_a_link() {
        let text = format!("See {SHIPPING}, or [the page]({SHIPPING}/).");
        assert_eq!(whole(three(), &text), text);
        // Only the URL given: a fragment could carry another URL.
        let text = format!("See {SHIPPING}#https://evil.example now");
        assert_eq!(whole(three(), &text), "See now");
        let text = format!("See <{SHIPPING}/> and [it](<{SHIPPING}>).");
        assert_eq!(whole(three(), &text), text);
    }

    #[test]
    fn a_url_split_across_deltas_is_held_back_until_it_ends() {
        let (emitted, rest, _) = run(three(), &["go to htt", "ps://evil.exa", "mple/x now"]);
        assert_eq!(emitted, ["go to ", "", "now"]);
        assert_eq!(rest, "");
        let (emitted, rest, _) = run(
            three(),
            &[
                "much",
                " ",
                "more at http",
                "s://shop.example.com/help/returns",
            ],
        );
        assert_eq!(emitted, ["muc", "", "h more at ", ""]);
        assert_eq!(rest, RETURNS);
    }

    #[test]
    fn hold_back_is_bounded_and_an_overlong_url_is_dropped_whole() {
        let long = format!("x https://evil.example/{} end", "a".repeat(5000));
        let mut rewriter = CitationRewriter::new(three());
        let mut out = String::new();
        for chunk in long.as_bytes().chunks(100) {
            out += &rewriter.push(std::str::from_utf8(chunk).unwrap());
            assert!(rewriter.marks.len() + rewriter.urls.len() <= MAX_URL_CHARS + 100);
        }
        let (rest, cited) = rewriter.finish();
        assert_eq!(out + &rest, "x end");
        assert!(cited.is_empty());
        let text = format!("[a]({}", "b".repeat(5000));
        assert_eq!(whole(three(), &text), text);
    }

    #[test]
    fn a_title_with_quotes_has_them_replaced() {
        let sources = vec![
            source(1, SHIPPING, "The \"Pro\" plan\n"),
            source(2, RETURNS, "  "),
        ];
        let (_, rest, cited) = run(sources, &["Yes [1][2]."]);
        assert_eq!(
            rest,
            block(&[
                "[1]: https://shop.example.com/help/shipping \"The 'Pro' plan\"",
                "[2]: https://shop.example.com/help/returns \"https://shop.example.com/help/returns\"",
            ])
        );
        assert_eq!(cited[0].title, "The \"Pro\" plan\n");
    }

    #[test]
    fn brackets_that_are_not_citations_are_left_as_they_are() {
        let text = "See [see below], array[0], [ ], [a, b], [1-3], [^1], [1,] and [].";
        let (emitted, rest, cited) = run(three(), &[text]);
        assert_eq!(emitted.concat() + &rest, text);
        assert!(cited.is_empty());
    }

    #[test]
    fn no_citation_means_no_sources_block() {
        let (emitted, rest, cited) = run(three(), &["Hello! ", "How can I help?"]);
        assert_eq!(emitted, ["Hello!", " How can I help?"]);
        assert_eq!((rest.as_str(), cited.len()), ("", 0));
    }

    #[test]
    fn the_sources_block_follows_one_blank_line() {
        let expected = format!("Yes [1].\n\n{SHIPPING_LINE}");
        assert_eq!(whole(three(), "Yes [1].\n"), expected);
        assert_eq!(whole(three(), "Yes [1].\n\n"), expected);
        assert_eq!(
            whole(three(), "Yes [1].\n\n\n"),
            format!("Yes [1].\n\n\n{SHIPPING_LINE}")
        );
    }

    #[test]
    fn sources_without_a_url_are_never_numbered() {
        let sources = vec![
            source(1, " ", "Q&A"),
            source(2, SHIPPING, "Shipping and delivery"),
        ];
        let (emitted, rest, cited) = run(sources, &["A [1]. B [2]."]);
        assert_eq!(emitted, ["A. B [1]."]);
        assert_eq!(rest, block(&[SHIPPING_LINE]));
        assert_eq!(cited.len(), 1);
    }

    const FIXED: &[&str] = &[
        "Orders ship in two days [1]. Returns within 30 days [2, 3][3]【1】.",
        "See https://evil.example/a?b=(c) and [the guide](https://evil.example) or [x](https://shop.example.com/help/shipping).",
        "array[0] [see below] [ ] x[7] [7] 【0】 [1 ,2] done",
        "much hhttps://shop.example.com/help/returns/#top. http://evil.example\n\n",
        "h [7]ttps://evil.example h[](x)ttps://evil.example",
    ];

    const PIECES: &[&str] = &[
        "[",
        "]",
        "【",
        "】",
        "1",
        "2",
        "3",
        "7",
        "0",
        ", ",
        "，",
        " ",
        "\n",
        "(",
        ")",
        "h",
        "t",
        "p",
        "s",
        ":",
        "/",
        ".",
        "https://",
        "HTTP://",
        "evil.example",
        "shop.example.com/help/",
        "shipping",
        "returns",
        "#x",
        "word",
        "é",
        "文",
        "\"",
        "`",
    ];

    fn answer() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(FIXED).prop_map(str::to_owned),
            prop::collection::vec(prop::sample::select(PIECES), 0..60).prop_map(|p| p.concat()),
        ]
    }

    /// `text` cut at these positions (rounded down to character boundaries).
    fn split(text: &str, cuts: &[usize]) -> Vec<String> {
        let mut cuts: Vec<usize> = cuts
            .iter()
            .map(|&c| {
                let mut c = c % (text.len() + 1);
                while !text.is_char_boundary(c) {
                    c -= 1;
                }
                c
            })
            .collect();
        cuts.sort_unstable();
        let mut deltas = Vec::new();
        let mut from = 0;
        for cut in cuts.into_iter().chain([text.len()]) {
            deltas.push(text[from..cut].to_owned());
            from = cut;
        }
        deltas
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn the_text_is_the_same_however_the_answer_is_split(
            text in answer(),
            cuts in prop::collection::vec(0usize..10_000, 0..16),
        ) {
            let deltas = split(&text, &cuts);
            let deltas: Vec<&str> = deltas.iter().map(String::as_str).collect();
            let (emitted, rest, cited) = run(three(), &deltas);
            let (one, one_rest, one_cited) = run(three(), &[&text]);
            prop_assert_eq!(emitted.concat() + &rest, one.concat() + &one_rest);
            prop_assert_eq!(&cited, &one_cited);

            // The answer's numbering is 1..=m, every URL left is a passage's, one line each.
            for (i, c) in cited.iter().enumerate() {
                prop_assert_eq!(&c.id, &(i + 1).to_string());
            }
            let full = emitted.concat() + &rest;
            let lower = full.to_ascii_lowercase();
            for (at, _) in lower.match_indices("http://").chain(lower.match_indices("https://")) {
                prop_assert!(lower[at..].starts_with("https://shop.example.com/help/"), "{full:?}");
            }
            let lines: Vec<&str> = full.lines().collect();
            let block = &lines[lines.len().saturating_sub(cited.len())..];
            for (i, line) in block.iter().enumerate() {
                let prefix = format!("[{}]: https://shop.example.com/help/", i + 1);
                prop_assert!(line.starts_with(&prefix), "{full:?}");
            }
        }
    }
}
