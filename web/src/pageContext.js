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
    url: pageUrl(),
    title: document.title ? cut(document.title, LIMITS.title) : null,
    content: content === '' ? null : cut(content, LIMITS.content),
    textSelection: textSelection ? cut(textSelection, LIMITS.textSelection) : null,
  };
}

/**
 * The API refuses a body over 256 KiB (422) whatever its fields' character limits allow, and
 * 70,000 characters of page text, selection and message can pass that in UTF-8. Cuts the
 * page text (the least needed part) until the JSON body fits, with room to spare.
 */
const BODY_BUDGET = 240 * 1024;
export function fitBody(body) {
  const size = (value) => new TextEncoder().encode(JSON.stringify(value)).length;
  let fitted = body;
  while (size(fitted) > BODY_BUDGET && fitted.pageContext?.content) {
    const chars = Array.from(fitted.pageContext.content);
    const keep = Math.floor(chars.length * 0.8);
    fitted = {
      ...fitted,
      pageContext: { ...fitted.pageContext, content: keep > 0 ? chars.slice(0, keep).join('') : null },
    };
  }
  return fitted;
}

/** The page's URL within the API's 2,048 characters (pageContext.url, context.pageUrl). */
export const pageUrl = () => cut(location.href, LIMITS.url);
