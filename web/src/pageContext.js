// What the widget tells the assistant about the page it sits on: pageContext of
// POST /v2/conversations/{id}/messages (API.md §10), each field within its limit.

const LIMITS = { url: 2048, title: 512, content: 50000, textSelection: 10000 };

/** Cuts to at most `max` Unicode characters (the API counts characters, not UTF-16 units). */
export function cut(text, max) {
  if (text.length <= max) return text; // UTF-16 length bounds the character count from above
  return Array.from(text).slice(0, max).join('');
}

const collapse = (text) => text.replace(/\s+/g, ' ').trim();

/** The page's text with its line breaks, blanks collapsed and empty lines dropped. */
const pageText = (text) =>
  text
    .split('\n')
    .map((line) => line.replace(/\s+/g, ' ').trim())
    .filter((line) => line !== '')
    .join('\n');

/** The host page's content element: the page text that goes along with each message. */
export function hostContentElement() {
  return document.querySelector('[data-page-context]') ?? document.body;
}

/**
 * Keeps the last text the visitor selected on the host page. Typing into the widget moves
 * the document's selection into its textarea, so the selection is read when it is made, not
 * when the message is sent. A click elsewhere on the page (a collapsed selection there)
 * forgets it. Returns a function that stops listening.
 */
export function trackHostSelection(onChange) {
  const host = hostContentElement();
  const listener = () => {
    const selection = document.getSelection();
    if (!selection || selection.rangeCount === 0) return;
    const inHost = host.contains(selection.anchorNode) && host.contains(selection.focusNode);
    if (!inHost) return; // the widget's own input, or outside the page's content
    const text = collapse(selection.toString());
    onChange(text === '' ? null : cut(text, LIMITS.textSelection));
  };
  document.addEventListener('selectionchange', listener);
  return () => document.removeEventListener('selectionchange', listener);
}

/** `{url, title, content, textSelection}`: the four keys always, null where empty. */
export function pageContext(textSelection) {
  const content = pageText(hostContentElement().innerText ?? '');
  return {
    url: cut(location.href, LIMITS.url),
    title: document.title ? cut(document.title, LIMITS.title) : null,
    content: content === '' ? null : cut(content, LIMITS.content),
    textSelection: textSelection ? cut(textSelection, LIMITS.textSelection) : null,
  };
}
