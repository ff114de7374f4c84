// Self-check of citations.js, with Node alone (no test runner, no dependency):
//
//   node web/src/citations.test.mjs      (or, from web/: node src/citations.test.mjs)
//
// Prints one line per case and exits with 1 on the first failure.

import assert from 'node:assert/strict';
import { isLinkable, shownText, splitCitations } from './citations.js';

const SHIPPING = 'https://shop.example/help/shipping.html';
const RETURNS = 'https://shop.example/help/returns.html';
const EXAMPLE = [
  'Orders ship within two working days [1]. Returns are free for 30 days [2].',
  '',
  `[1]: ${SHIPPING} "Shipping"`,
  `[2]: ${RETURNS} "Returns & exchanges"`,
].join('\n');

const cases = [];
const test = (name, run) => cases.push({ name, run });

test('the contract example: two pills, the block out of the body, two sources', () => {
  assert.deepEqual(splitCitations(EXAMPLE), {
    body: [
      { text: 'Orders ship within two working days ' },
      { cite: 1, url: SHIPPING, title: 'Shipping' },
      { text: '. Returns are free for 30 days ' },
      { cite: 2, url: RETURNS, title: 'Returns & exchanges' },
      { text: '.' },
    ],
    sources: [
      { n: 1, url: SHIPPING, title: 'Shipping' },
      { n: 2, url: RETURNS, title: 'Returns & exchanges' },
    ],
  });
  assert.equal(shownText(EXAMPLE), 'Orders ship within two working days 1. Returns are free for 30 days 2.');
});

test('several markers in a row, a number cited twice, newlines in the body kept', () => {
  const text = `Free returns [1] [2].\n\nAlso [2][1].\n\n[1]: ${SHIPPING} "Shipping"\n[2]: ${RETURNS} "Returns"`;
  const { body, sources } = splitCitations(text);
  assert.deepEqual(
    body.map((s) => (s.cite === undefined ? s.text : s.cite)),
    ['Free returns ', 1, ' ', 2, '.\n\nAlso ', 2, 1, '.'],
  );
  assert.deepEqual(sources.map((s) => s.n), [1, 2]);
});

test('a number without a definition stays plain text', () => {
  const text = `Fast [1] and cheap [7], see also array[0].\n\n[1]: ${SHIPPING} "Shipping"`;
  assert.deepEqual(splitCitations(text).body, [
    { text: 'Fast ' },
    { cite: 1, url: SHIPPING, title: 'Shipping' },
    { text: ' and cheap [7], see also array[0].' },
  ]);
  assert.equal(shownText(text), 'Fast 1 and cheap [7], see also array[0].');
});

test('no sources: the text exactly as it is, markers and trailing newlines included', () => {
  for (const text of ['Orders ship in two days [1].', 'Line one\n\nline two\n\n', '[1] is a plain start', '']) {
    const { body, sources } = splitCitations(text);
    assert.deepEqual(sources, []);
    assert.deepEqual(body, text === '' ? [] : [{ text }]);
    assert.equal(shownText(text), text);
  }
  assert.deepEqual(splitCitations(undefined), { body: [], sources: [] });
});

test('a definition in the middle of the text is not the block; code spans are left alone', () => {
  const text = `See [1]:\n[1]: not a url line\nand \`arr[1]\` [1].\n\n[1]: ${SHIPPING} "Shipping"`;
  const { body } = splitCitations(text);
  assert.deepEqual(
    body.map((s) => (s.cite === undefined ? s.text : s.cite)),
    ['See ', 1, ':\n', 1, ': not a url line\nand `arr[1]` ', 1, '.'],
  );
});

test('streaming: every prefix of the example shows no raw definition text and never a cut source', () => {
  for (let end = 0; end <= EXAMPLE.length; end += 1) {
    const prefix = EXAMPLE.slice(0, end);
    const { body, sources } = splitCitations(prefix, { streaming: true });
    const shown = shownText(prefix, { streaming: true });
    const defsStart = EXAMPLE.indexOf('\n\n[1]:');
    if (end > defsStart + 2 + 3) {
      // past "\n\n[1]": the block has clearly begun
      assert.ok(!shown.includes(']:') && !shown.includes('http'), `prefix ${end} shows ${JSON.stringify(shown)}`);
      assert.ok(!shown.endsWith('\n'), `prefix ${end} ends with a newline`);
    }
    for (const source of sources) {
      assert.ok([SHIPPING, RETURNS].includes(source.url), `prefix ${end}: cut source ${source.url}`);
    }
    for (const segment of body) {
      if (segment.cite !== undefined) assert.ok(sources.some((s) => s.n === segment.cite));
    }
  }
  // the body before the block, markers still plain text (their definitions are not there yet)
  const beforeBlock = EXAMPLE.slice(0, EXAMPLE.indexOf('\n\n[1]:'));
  assert.deepEqual(splitCitations(beforeBlock, { streaming: true }), { body: [{ text: beforeBlock }], sources: [] });
  // "[1]: …" written, no newline yet: hidden, not yet a source
  const firstLine = EXAMPLE.slice(0, EXAMPLE.indexOf(`[2]:`) - 1);
  assert.deepEqual(splitCitations(firstLine, { streaming: true }).sources, []);
  assert.equal(shownText(firstLine, { streaming: true }), beforeBlock);
  // its newline arrived: a source, and the markers that name it are pills
  const afterFirst = `${firstLine}\n`;
  assert.deepEqual(splitCitations(afterFirst, { streaming: true }).sources, [{ n: 1, url: SHIPPING, title: 'Shipping' }]);
  assert.equal(shownText(afterFirst, { streaming: true }), 'Orders ship within two working days 1. Returns are free for 30 days [2].');
  // "[2" after a definition: the next definition beginning, hidden
  assert.equal(shownText(`${afterFirst}[2`, { streaming: true }), shownText(afterFirst, { streaming: true }));
  // "[2" opening a paragraph of the body is still text
  assert.equal(shownText('First.\n\n[2', { streaming: true }), 'First.\n\n[2');
  // the whole text, the stream over: both sources
  assert.equal(splitCitations(EXAMPLE).sources.length, 2);
});

test('a broken-off definition line at the end (stream ended early) is hidden, not a source', () => {
  const text = `Ships fast [1].\n\n[1]: ${SHIPPING} "Shipping"\n[2]: https://shop.exa`;
  const { sources } = splitCitations(text);
  // "[2]: https://shop.exa" is a whole line by its form: read as a source once the text is final
  assert.deepEqual(sources.map((s) => s.n), [1, 2]);
  const broken = `Ships fast [1].\n\n[1]: ${SHIPPING} "Shipping"\n[2]: ${RETURNS} "Retu`;
  assert.deepEqual(splitCitations(broken).sources.map((s) => s.n), [1]);
  assert.equal(shownText(broken), 'Ships fast 1.');
});

test('a line without a title, and angle brackets around a URL', () => {
  const text = `Ships fast [1], returns [2].\n\n[1]: ${SHIPPING}\n[2]: <${RETURNS}>   `;
  assert.deepEqual(splitCitations(text).sources, [
    { n: 1, url: SHIPPING, title: null },
    { n: 2, url: RETURNS, title: null },
  ]);
  assert.equal(shownText(text), 'Ships fast 1, returns 2.');
});

test('a javascript: URL (or any other scheme) is never a link', () => {
  const text = `Click [1] or [2] or [3].\n\n[1]: javascript:alert(1) "Shipping"\n[2]: JavaScript:alert(2)\n[3]: data:text/html,x "x"`;
  const { body, sources } = splitCitations(text);
  assert.deepEqual(sources, [
    { n: 1, url: null, title: 'Shipping' },
    { n: 2, url: null, title: null },
    { n: 3, url: null, title: 'x' },
  ]);
  assert.ok(body.filter((s) => s.cite !== undefined).every((s) => s.url === null));
  assert.equal(isLinkable('javascript:alert(1)'), false);
  assert.equal(isLinkable('/help/shipping.html'), false);
  assert.equal(isLinkable('HTTPS://shop.example/a'), true);
  assert.equal(isLinkable('http://shop.example/a'), true);
});

test('a number defined twice keeps its first line; CRLF line ends', () => {
  const text = `Ships [1].\r\n\r\n[1]: ${SHIPPING} "Shipping"\r\n[1]: ${RETURNS} "Returns"\r\n`;
  assert.deepEqual(splitCitations(text).sources, [{ n: 1, url: SHIPPING, title: 'Shipping' }]);
  assert.equal(shownText(text), 'Ships 1.');
});

let failed = 0;
for (const { name, run } of cases) {
  try {
    run();
    console.log(`ok   ${name}`);
  } catch (error) {
    failed += 1;
    console.log(`FAIL ${name}\n     ${String(error.message).split('\n').join('\n     ')}`);
  }
}
console.log(`${cases.length - failed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
