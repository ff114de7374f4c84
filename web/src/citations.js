// Citations in an answer's text (API.md §16), read the way the official widget reads them:
// markers `[1]`, `[2]` (several as `[1] [2]`) inside the answer, and after its last word a
// blank line and one markdown reference definition per cited source:
//
//   Orders ship within two working days [1]. Returns are free for 30 days [2].
//
//   [1]: https://shop.example/help/shipping.html "Shipping"
//   [2]: https://shop.example/help/returns.html "Returns & exchanges"
//
// The definitions at the end become the "Sources" list and leave the text; a marker becomes
// a pill once its number has a definition (the server writes them all at the end, so while
// an answer streams its markers stay plain text until then). Text without definition lines
// is left exactly as it is. Pure functions, no React: `node src/citations.test.mjs` tests them.

/** A whole definition line: `[n]: url` with an optional `"title"` (never containing `"`). */
const DEFINITION = /^\[(\d+)\]:[ \t]*(\S+)(?:[ \t]+"([^"]*)")?[ \t]*$/;
/** A line that is clearly a definition, finished or not. */
const DEFINITION_START = /^\[\d+\]:/;
/** What a definition line is when only its first characters have arrived: `[`, `[1`, `[1]`. */
const DEFINITION_PREFIX = /^\[\d*\]?$/;
/** A code span (left as written: the server does not rewrite them either) or a marker. */
const CODE_OR_MARKER = /(`+)[^`][\s\S]*?\1|\[(\d+)\]/g;

/** Whether a definition's target may be a link: an absolute http(s) URL, nothing else. */
export function isLinkable(url) {
  if (typeof url !== 'string' || url === '') return false;
  try {
    const { protocol } = new URL(url);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
}

/**
 * Splits an answer's text into what the bubble shows and its sources.
 *
 * Returns `{ body, sources }`:
 * - `body`: segments in order, `{text}` or `{cite: n, url, title}` (a marker whose number has
 *   a definition); adjacent text is one segment. Without any definition line `body` is the
 *   text unchanged (one segment; none for an empty text).
 * - `sources`: `{n, url, title}` per definition, in the order written (a number defined
 *   twice keeps its first line).
 *
 * `url` is the definition's URL when it is an http(s) URL, else `null` (shown, never linked);
 * `title` is the quoted title, or `null` when the line has none.
 *
 * The definition block is the run of definition lines at the end of the text (blank lines
 * between them allowed); it is removed from the body with the blank line before it.
 *
 * `streaming`: the text is a prefix of the answer. Its last line, not ended by a newline yet,
 * is then not read as a source (its URL or title may be cut): hidden when it clearly starts
 * one (`[n]:`), or when it could (`[`, `[1`, `[1]`) right after definition lines; otherwise
 * shown as text. Without `streaming` a last line that starts `[n]:` but is not a whole
 * definition (an answer that broke off) is hidden too.
 */
export function splitCitations(text, { streaming = false } = {}) {
  const whole = typeof text === 'string' ? text : '';
  const lines = whole.split('\n');
  const lastIndex = lines.length - 1;
  const found = []; // definitions, last line first
  let cut = lines.length; // lines[cut…] leave the body

  for (let i = lastIndex; i >= 0; i -= 1) {
    const line = lines[i].trim();
    if (line === '') continue;
    if (i === lastIndex && streaming) {
      if (DEFINITION_START.test(line)) {
        cut = i;
        continue;
      }
      // `[1` could still be a marker opening a paragraph: hidden only after a definition,
      // which moves `cut` above it
      if (DEFINITION_PREFIX.test(line)) continue;
      break;
    }
    const match = DEFINITION.exec(line);
    if (match) {
      found.push({ n: Number(match[1]), target: match[2], title: match[3] || null });
      cut = i;
      continue;
    }
    if (i === lastIndex && DEFINITION_START.test(line)) {
      cut = i; // a definition line that broke off
      continue;
    }
    break;
  }

  const byNumber = new Map();
  const sources = [];
  for (const { n, target, title } of found.reverse()) {
    if (byNumber.has(n)) continue;
    const url = target.startsWith('<') && target.endsWith('>') ? target.slice(1, -1) : target;
    const source = { n, url: isLinkable(url) ? url : null, title };
    byNumber.set(n, source);
    sources.push(source);
  }

  const rest = cut < lines.length ? lines.slice(0, cut).join('\n').trimEnd() : whole;
  const body = [];
  const addText = (piece) => {
    if (piece === '') return;
    const previous = body[body.length - 1];
    if (previous && previous.cite === undefined) previous.text += piece;
    else body.push({ text: piece });
  };
  let at = 0;
  if (byNumber.size > 0) {
    for (const match of rest.matchAll(CODE_OR_MARKER)) {
      const source = match[2] === undefined ? undefined : byNumber.get(Number(match[2]));
      if (!source) continue; // a code span, or a number without a definition: plain text
      addText(rest.slice(at, match.index));
      body.push({ cite: source.n, url: source.url, title: source.title });
      at = match.index + match[0].length;
    }
  }
  addText(rest.slice(at));
  return { body, sources };
}

/** The text the bubble shows for an answer: its body, each pill as its number. */
export function shownText(text, options) {
  return splitCitations(text, options)
    .body.map((segment) => (segment.cite === undefined ? segment.text : String(segment.cite)))
    .join('');
}
