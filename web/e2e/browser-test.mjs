#!/usr/bin/env node
// End-to-end test of the demo site in a real headless Chromium (Debian's /usr/bin/chromium),
// against a running API: the steps a visitor takes, each checked in the page and, where it
// stores something, read back from the API. Any console error, page error, failed request
// or unexpected HTTP error fails the step it happened in.
//
//   SITE_URL=http://127.0.0.1:3001/ API_URL=http://127.0.0.1:3000 node e2e/browser-test.mjs
//
// Each step saves web/e2e/screenshots/NN-step.png (also when it fails). The steps run in
// order and build on each other: after a failure the rest are skipped. The last line is
// `N passed, N failed` (`, N skipped` when some did not run); the exit code is 0 only when
// every step passed.
//
// A plain script rather than `node --test`: the steps are one visitor's story in one browser,
// in order, stopping at the first failure, with a screenshot each.

import { chromium } from 'playwright-core';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { shownText } from '../src/citations.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SCREENSHOTS = path.join(HERE, 'screenshots');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const STEP_TIMEOUT_MS = Number(process.env.STEP_TIMEOUT_MS || 30_000);
const WAIT_MS = Number(process.env.WAIT_MS || 15_000);

const SITE_URL = process.env.SITE_URL;
const API_URL = process.env.API_URL;
if (!SITE_URL || !API_URL) {
  console.error('SITE_URL (the demo site) and API_URL (the API, without /v2) must be set.');
  console.error('0 passed, 1 failed');
  process.exit(2);
}
const API = API_URL.replace(/\/+$/, '');
const API_ORIGIN = new URL(API).origin;

// The first message is long enough to get a cut title. Characters 52–66 are one word, so
// "cut at a word boundary to at most 60 characters, the … included" has one answer.
// Questions the demo shop's pages answer (its Trail Running Shoes, its shipping page): the
// answers are grounded and cited. The third is one they do not: the fallback answers it.
const FIRST_MESSAGE = 'Do you ship the Trail Running Shoes to Canada?';
const SECOND_MESSAGE = 'How long does delivery to Canada take?';
const THIRD_MESSAGE = 'Can I pick the boots up in Rotterdam instead?';
const AGENT_NAME = 'Dana';
const AGENT_MESSAGE = 'Hi, I am Dana from the shop. Yes, pick-up in Rotterdam is free.';
const JOINED_NOTICE = 'A person from the team has joined the conversation.';
// Answered from the demo project's help pages, so the answer cites them (API.md §16).
const CITED_QUESTION = 'How long does shipping take?';

// The agent routes (API.md §12) take a secret key. The local server seeds this development
// key for its demo project (DEMO_SECRET_KEY in local/src/seed.rs: public, and it opens
// nothing but that project); against another server, set SECRET_KEY.
const SECRET_KEY = process.env.SECRET_KEY || 'sk_de30de30de30de30de30de30de30de30de30de30de30de30de30de30de30de30';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The title API.md §10 gives a conversation: whitespace collapsed, cut at a word boundary to ≤ 60 characters with the …. */
export function expectedTitle(message) {
  const chars = Array.from(message.replace(/\s+/g, ' ').trim());
  if (chars.length <= 60) return chars.join('');
  // whole words within 59 characters, leaving room for the ellipsis
  const room = chars.slice(0, 59);
  let end = room.length;
  if (chars[59] !== ' ') {
    const lastSpace = room.lastIndexOf(' ');
    if (lastSpace > 0) end = lastSpace;
  }
  return `${room.slice(0, end).join('').trimEnd()}…`;
}

// ---------------------------------------------------------------------------------------
// small helpers

class Failure extends Error {}
function check(condition, message) {
  if (!condition) throw new Failure(message);
}
function equal(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Failure(`${what}: expected ${e}, got ${a}`);
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A call to the API from Node (no Origin header, like a server). */
async function api(method, pathAndQuery, { token, body } = {}) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response;
  try {
    response = await fetch(`${API}/v2${pathAndQuery}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new Failure(`${method} ${API}/v2${pathAndQuery} from the test: ${error.cause?.message ?? error.message}`);
  }
  const text = await response.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: response.status, headers: response.headers, json, text };
}

async function apiOk(method, pathAndQuery, options) {
  const answer = await api(method, pathAndQuery, options);
  check(
    answer.status >= 200 && answer.status < 300,
    `${method} ${pathAndQuery} from the test answered ${answer.status}: ${answer.text.slice(0, 300)}`,
  );
  return answer.json;
}

function hexToRgb(hex) {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return `rgb(${r}, ${g}, ${b})`;
}

const storedText = (message) =>
  (message.parts ?? [])
    .filter((p) => p.type === 'text')
    .map((p) => p.text)
    .join('');
/** What the page shows of a stored message: an answer without its source lines, each marker as its pill's number. */
const shownStoredText = (message) => (message.role === 'assistant' ? shownText(storedText(message)) : storedText(message));

// ---------------------------------------------------------------------------------------
// the browser, and everything it reports

let context;
let page;
let userDataDir;

/** What the pages did: every API request with its response, tagged with the step and page it happened in. */
const traffic = [];
/** Every WebSocket a page opened, with the frames it received: {step, page, url, frames}. */
const sockets = [];
/** Problems seen while a step ran: console errors, page errors, failed requests, HTTP errors. */
let problems = [];
/** Called on the first problem of a step, so the step fails at once instead of timing out. */
let onProblem = () => {};
function problem(text) {
  problems.push(text);
  onProblem();
}
/** HTTP errors the current step expects: [{status, url: RegExp}]. */
let allowed = [];
let stepTag = '00';

const isAllowed = (status, url) => allowed.some((a) => a.status === status && a.url.test(url));

async function launch() {
  userDataDir = await mkdtemp(path.join(tmpdir(), 'chat-demo-e2e-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 800 },
    locale: 'en-GB',
    timezoneId: 'UTC',
  });
  page = context.pages()[0] ?? (await context.newPage());
  watch(page);
}

/** Records what a page does, and fails the running step on any problem it reports. */
function watch(page) {
  page.setDefaultTimeout(WAIT_MS);

  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const text = message.text();
    // Chromium logs every HTTP error as "Failed to load resource: … status of 401 (…)"
    const status = Number(/status of (\d{3})/.exec(text)?.[1]);
    if (status && isAllowed(status, message.location()?.url ?? '')) return;
    problem(`console error: ${text} (${message.location()?.url ?? 'no location'})`);
  });
  page.on('pageerror', (error) => problem(`page error: ${error.message}`));
  page.on('requestfailed', (request) => {
    problem(`request failed: ${request.method()} ${request.url()}: ${request.failure()?.errorText}`);
  });
  page.on('response', (response) => {
    const request = response.request();
    const url = response.url();
    const status = response.status();
    if (status >= 400 && !isAllowed(status, url)) {
      problem(`unexpected HTTP ${status}: ${request.method()} ${url}`);
    }
    if (new URL(url).origin !== API_ORIGIN) return;
    const entry = {
      step: stepTag,
      page,
      method: request.method(),
      url,
      path: new URL(url).pathname + new URL(url).search,
      status,
      postData: request.postData(),
      requestHeaders: {},
      responseHeaders: {},
    };
    // recorded at once, in order; the full header lists come a moment later
    entry.ready = Promise.all([
      request.allHeaders().then((h) => (entry.requestHeaders = h), () => {}),
      response.allHeaders().then((h) => (entry.responseHeaders = h), () => {}),
    ]);
    traffic.push(entry);
  });
  page.on('websocket', (ws) => {
    const socket = { step: stepTag, page, url: ws.url(), frames: [] };
    sockets.push(socket);
    ws.on('framereceived', ({ payload }) => socket.frames.push(String(payload)));
    ws.on('socketerror', (error) => problem(`socket error: ${ws.url()}: ${error}`));
  });
}

/** The API requests of the current step (of the first page unless `of` names another), by method and path pattern. */
async function calls(method, pathPattern, { anyStep = false, of = page } = {}) {
  await Promise.all(traffic.map((t) => t.ready));
  return traffic.filter(
    (t) => t.page === of && (anyStep || t.step === stepTag) && t.method === method && pathPattern.test(t.path),
  );
}

/** The JSON frames of a type that the sockets of page `of` received. */
function framesReceived(of, type) {
  return sockets
    .filter((socket) => socket.page === of)
    .flatMap((socket) => socket.frames)
    .map((text) => {
      try {
        return JSON.parse(text);
      } catch {
        return null; // `pong`
      }
    })
    .filter((frame) => frame?.type === type);
}

/** Polls `read` until `accept` takes its value; fails with the last value seen. */
async function waitUntil(read, accept, what, timeout = WAIT_MS) {
  const deadline = Date.now() + timeout;
  let value;
  for (;;) {
    value = await read();
    if (accept(value)) return value;
    if (Date.now() > deadline) throw new Failure(`${what}: still ${JSON.stringify(value)} after ${timeout} ms`);
    await sleep(100);
  }
}

// ---------------------------------------------------------------------------------------
// page helpers

const widget = () => page.getByTestId('chat-widget');
const messageItems = () => page.getByTestId('message-list').getByTestId('message');

async function waitForChatReady(of = page) {
  await of.locator('[data-testid="chat"][data-status="ready"]').waitFor();
}

async function waitForMessages(count, of = page) {
  await of.waitForFunction(
    (n) => document.querySelectorAll('[data-testid="message-list"] [data-testid="message"]').length === n,
    count,
    { timeout: WAIT_MS },
  );
}

async function pageMessages(of = page) {
  return of.$$eval('[data-testid="message-list"] [data-testid="message"]', (items) =>
    items.map((li) => ({
      id: li.dataset.messageId,
      role: li.dataset.role,
      state: li.dataset.state,
      author: li.querySelector('[data-testid="message-author"]')?.textContent ?? null,
      text: li.querySelector('[data-testid="message-text"]')?.textContent ?? '',
      feedback: li.querySelector('[data-testid="feedback"]')?.dataset.feedback ?? null,
      sources: li.querySelectorAll('.msg-bubble ol.sources > li').length,
    })),
  );
}

async function errorLine(of = page) {
  return of.evaluate(() => {
    const line = document.querySelector('[data-testid="error-line"]');
    if (!line || line.hidden) return null;
    const message = line.querySelector('[data-testid="error-message"]')?.textContent.trim();
    const code = line.querySelector('.error-code')?.textContent.trim();
    return [message, code].filter(Boolean).join(' ') || line.textContent.trim() || null;
  });
}

async function demoState() {
  return page.evaluate(() => ({
    sessionToken: window.chatDemo?.sessionToken ?? null,
    saVid: window.chatDemo?.saVid ?? null,
    storedSaVid: localStorage.getItem('chat-demo.saVid'),
    conversationId: window.chatDemo?.conversationId ?? null,
    initCount: window.chatDemo?.initCount ?? 0,
  }));
}

/** Records each distinct (length, state) of the newest assistant message's text until stopped. */
async function recordStreaming() {
  await page.evaluate(() => {
    const list = document.querySelector('[data-testid="message-list"]');
    const seen = [];
    const before = list.querySelectorAll('[data-testid="message"][data-role="assistant"]').length;
    const look = () => {
      const answers = list.querySelectorAll('[data-testid="message"][data-role="assistant"]');
      if (answers.length <= before) return;
      const answer = answers[answers.length - 1];
      const length = answer.querySelector('[data-testid="message-text"]')?.textContent.length ?? 0;
      const state = answer.dataset.state;
      const last = seen[seen.length - 1];
      if (!last || last.length !== length || last.state !== state) seen.push({ length, state });
    };
    const observer = new MutationObserver(look);
    observer.observe(list, { subtree: true, childList: true, characterData: true, attributes: true });
    window.__e2eStreaming = {
      stop() {
        look();
        observer.disconnect();
        return seen;
      },
    };
  });
  return () => page.evaluate(() => window.__e2eStreaming.stop());
}

async function send(text) {
  const input = page.getByTestId('message-input');
  await input.fill(text);
  await page.getByTestId('send-button').click();
}

/** Sends a message and waits for the whole answer; returns what the streaming recorder saw. */
async function sendAndWait(text, expectedCount) {
  const stop = await recordStreaming();
  const answered = page.waitForResponse(
    (r) => r.request().method() === 'POST' && /\/v2\/conversations\/[^/]+\/messages$/.test(new URL(r.url()).pathname),
  );
  await send(text);
  const response = await answered;
  check(response.status() === 200, `the send answered ${response.status()}`);
  // the chat is ready again when the stream ended, or in error when it broke
  const status = await page.waitForFunction(
    () => {
      const chat = document.querySelector('[data-testid="chat"]');
      return ['ready', 'error'].includes(chat?.dataset.status) && chat.dataset.status;
    },
    null,
    { timeout: WAIT_MS },
  );
  const ended = await status.jsonValue();
  const seen = await stop();
  check(ended === 'ready', `the answer ended in error: ${await errorLine()}`);
  await waitForMessages(expectedCount);
  const last = (await pageMessages()).at(-1);
  equal([last.role, last.state], ['assistant', 'complete'], 'the last message');
  return { seen, response };
}

function checkSendRequest(entry, { content, token, textSelection = null }) {
  const body = JSON.parse(entry.postData ?? 'null');
  equal(Object.keys(body ?? {}).sort(), ['content', 'pageContext', 'stream'], 'the keys of the send body');
  equal(body.content, content, 'content');
  equal(body.stream, true, 'stream');
  equal(Object.keys(body.pageContext ?? {}).sort(), ['content', 'textSelection', 'title', 'url'], 'the keys of pageContext');
  equal(body.pageContext.url, page.url(), 'pageContext.url');
  check(typeof body.pageContext.title === 'string' && body.pageContext.title.includes('Trail Runner 2'), `pageContext.title: ${body.pageContext.title}`);
  check(body.pageContext.content?.includes('We ship from our warehouse in Rotterdam'), 'pageContext.content has the page text');
  check(!body.pageContext.content.includes('Your conversations'), 'pageContext.content leaves the widget out');
  equal(body.pageContext.textSelection, textSelection, 'pageContext.textSelection');
  equal(entry.requestHeaders.authorization, `Bearer ${token}`, 'the Authorization header');
  equal(entry.requestHeaders['content-type'], 'application/json', 'the Content-Type header');
  check(!('cookie' in entry.requestHeaders), 'no cookie is sent');
  check(
    (entry.responseHeaders['content-type'] ?? '').startsWith('text/event-stream'),
    `the answer's content-type: ${entry.responseHeaders['content-type']}`,
  );
  equal(entry.responseHeaders['x-vercel-ai-ui-message-stream'], 'v1', 'x-vercel-ai-ui-message-stream');
}

/**
 * Checks that an answer arrived in pieces. The shown text of an answer that cites sources may
 * shrink as it streams (a definition line is hidden as it begins, a `[1]` becomes the pill `1`
 * once its definition arrives), so only an answer without sources must only ever grow.
 */
function checkStreamed(seen, finalText, { cited = false } = {}) {
  const lengths = seen.map((s) => s.length);
  for (let i = 1; i < lengths.length && !cited; i += 1) {
    check(lengths[i] >= lengths[i - 1], `the answer's text shrank while streaming: ${lengths.join(' → ')}`);
  }
  const partial = new Set(
    seen
      .filter((s) => s.state === 'streaming' && s.length > 0 && (cited ? s.length !== finalText.length : s.length < finalText.length))
      .map((s) => s.length),
  );
  check(
    partial.size >= 2,
    `the answer did not arrive in pieces: lengths seen ${seen.map((s) => `${s.length}(${s.state})`).join(' → ')}, final ${finalText.length}`,
  );
  return [...partial];
}

// ---------------------------------------------------------------------------------------
// the steps

const s = {}; // what the steps learn and hand on

const steps = [
  {
    name: 'load',
    title: 'the shop page loads with the widget in the project look',
    async run() {
      await launch();
      await page.goto(SITE_URL, { waitUntil: 'load' });
      await page.getByRole('heading', { name: 'Trail Runner 2 hiking boots' }).waitFor();
      await page.getByTestId('chat-widget').waitFor();

      // what the page was configured with, and the project settings it should show
      const configUrl = new URL('config.json', page.url());
      const configResponse = await fetch(configUrl).catch((e) => {
        throw new Failure(`GET ${configUrl} from the test: ${e.cause?.message ?? e.message}`);
      });
      check(configResponse.ok, `GET ${configUrl} answered ${configResponse.status}`);
      const configText = await configResponse.text();
      try {
        s.config = JSON.parse(configText);
      } catch {
        throw new Failure(`${configUrl} is not JSON: ${configText.slice(0, 80)}`);
      }
      check(typeof s.config?.apiBase === 'string', `${configUrl} has no apiBase: ${configText.slice(0, 200)}`);
      check(
        new URL(s.config.apiBase).origin === API_ORIGIN,
        `config.json's apiBase (${s.config.apiBase}) is not API_URL (${API}): the test would read another API than the page uses`,
      );
      s.project = await apiOk('GET', `/projects/current?apiKey=${encodeURIComponent(s.config.publishableKey)}`);
      const ui = s.project.chatWidgetConfig;
      await waitUntil(
        () => widget().getAttribute('data-project'),
        (state) => state === 'ready',
        'the project settings in the page (data-project)',
      );
      equal(await page.getByTestId('widget-title').textContent(), ui.displayName ?? s.project.name, 'the widget title');
      equal((await page.getByTestId('welcome-message').textContent()).trim(), ui.welcomeMessage, 'the welcome message');
      const header = await page.$eval('.widget-header', (el) => getComputedStyle(el).backgroundColor);
      equal(header, hexToRgb(ui.brandColor), 'the header colour (brandColor)');
      const fontSize = await widget().evaluate((el) => getComputedStyle(el).fontSize);
      equal(fontSize, `${ui.baseFontSize}px`, 'the widget font size (baseFontSize)');
      const project = await calls('GET', /^\/v2\/projects\/current\?/);
      equal(project.length, 1, 'GET /v2/projects/current calls');
      check(!('authorization' in project[0].requestHeaders), 'projects/current is called without Authorization');
    },
  },
  {
    name: 'session',
    title: 'a visitor session starts (identity/init) and the conversation list loads',
    async run() {
      await page.locator('[data-testid="session-status"][data-state="ready"]').waitFor();
      await page.locator('[data-testid="conversation-list"][data-state="ready"]').waitFor();
      const demo = await demoState();
      check(/^[\w-]+\.[\w-]+\.[\w-]+$/.test(demo.sessionToken ?? ''), `the session token is a JWT: ${demo.sessionToken}`);
      check(UUID_V4.test(demo.saVid ?? ''), `saVid is a UUID v4: ${demo.saVid}`);
      equal(demo.storedSaVid, demo.saVid, 'saVid kept in localStorage');
      s.token = demo.sessionToken;
      s.saVid = demo.saVid;

      const inits = await calls('POST', /^\/v2\/identity\/init$/, { anyStep: true });
      equal(inits.length, 1, 'POST /v2/identity/init calls');
      equal(JSON.parse(inits[0].postData), { apiKey: s.config.publishableKey, saVid: s.saVid }, 'the init body');
      equal(inits[0].status, 201, 'init status for a browser never seen before');
      const lists = await calls('GET', /^\/v2\/conversations\?limit=20$/, { anyStep: true });
      equal(lists.length, 1, 'GET /v2/conversations?limit=20 calls');
      equal(lists[0].requestHeaders.authorization, `Bearer ${s.token}`, 'the list call Authorization header');
      equal(await page.getByTestId('conversation-item').count(), 0, 'conversations of a new visitor');

      const ui = s.project.chatWidgetConfig;
      equal(await page.getByTestId('message-input').getAttribute('placeholder'), ui.inputPlaceholder, 'the input placeholder');
      const prompts = await page.getByTestId('quick-prompts').getByRole('button').allTextContents().catch(() => []);
      equal(prompts, ui.quickPrompts.map((p) => p.title), 'the quick prompts');
    },
  },
  {
    name: 'first-message',
    title: 'a first message starts a conversation and its answer streams in piece by piece',
    async run() {
      const { seen } = await sendAndWait(FIRST_MESSAGE, 2);
      const [user, answer] = await pageMessages();
      equal(user.role, 'user', 'first message role');
      equal(user.text, FIRST_MESSAGE, 'the user message shown');
      equal(answer.role, 'assistant', 'second message role');
      check(answer.text.trim().length > 0, 'the answer has text');
      const partial = checkStreamed(seen, answer.text, { cited: answer.sources > 0 });
      check(UUID_V7.test(answer.id), `the answer's id is the stored message id (start chunk messageId), a UUID v7: ${answer.id}`);

      const starts = await calls('POST', /^\/v2\/conversations$/);
      equal(starts.length, 1, 'POST /v2/conversations calls');
      equal(starts[0].status, 201, 'POST /v2/conversations status');
      equal(JSON.parse(starts[0].postData), { context: { pageUrl: page.url() } }, 'the start body');
      s.conversationId = (await demoState()).conversationId;
      check(UUID.test(s.conversationId ?? ''), `the page knows its conversation: ${s.conversationId}`);
      const sends = await calls('POST', /^\/v2\/conversations\/[^/]+\/messages$/);
      equal(sends.length, 1, 'POST …/messages calls');
      equal(sends[0].path, `/v2/conversations/${s.conversationId}/messages`, 'the send path');
      checkSendRequest(sends[0], { content: FIRST_MESSAGE, token: s.token });
      s.firstAnswer = answer;

      // the list is read again after the answer, and shows the title the first turn gave
      s.title = expectedTitle(FIRST_MESSAGE);
      const title = page.locator(`[data-testid="conversation-item"][data-conversation-id="${s.conversationId}"] [data-testid="conversation-title"]`);
      await waitUntil(() => title.textContent({ timeout: 1000 }).catch(() => null), (t) => t === s.title, `the conversation title in the list (expected ${JSON.stringify(s.title)})`);
      check((await calls('GET', /^\/v2\/conversations\?limit=20$/)).length >= 1, 'the list is read again after the answer');
      equal(await errorLine(), null, 'the error line');
      return `the answer grew through ${partial.length} partial lengths (${partial.slice(0, 6).join(', ')}${partial.length > 6 ? ', …' : ''}) to ${answer.text.length} characters`;
    },
  },
  {
    name: 'second-message',
    title: 'a second message, about text selected on the page, goes into the same conversation',
    async run() {
      // the visitor selects the shipping paragraph: the widget shows it and sends it along
      const selected = await page.evaluate(() => {
        const paragraph = document.querySelector('#shipping p');
        const range = document.createRange();
        range.selectNodeContents(paragraph);
        getSelection().removeAllRanges();
        getSelection().addRange(range);
        return paragraph.textContent.replace(/\s+/g, ' ').trim();
      });
      await page.getByTestId('text-selection').waitFor();
      const { seen } = await sendAndWait(SECOND_MESSAGE, 4);
      equal(await page.getByTestId('text-selection').count(), 0, 'the selection shown after sending');
      const messages = await pageMessages();
      equal(messages.map((m) => m.role), ['user', 'assistant', 'user', 'assistant'], 'the roles shown');
      equal(messages[2].text, SECOND_MESSAGE, 'the second user message shown');
      const partial = checkStreamed(seen, messages[3].text, { cited: messages[3].sources > 0 });
      equal((await calls('POST', /^\/v2\/conversations$/)).length, 0, 'no new conversation is started');
      const sends = await calls('POST', /^\/v2\/conversations\/[^/]+\/messages$/);
      equal(sends.length, 1, 'POST …/messages calls');
      equal(sends[0].path, `/v2/conversations/${s.conversationId}/messages`, 'the send path (same conversation)');
      checkSendRequest(sends[0], { content: SECOND_MESSAGE, token: s.token, textSelection: selected });
      equal((await demoState()).conversationId, s.conversationId, 'the conversation id');
      return `the answer grew through ${partial.length} partial lengths to ${messages[3].text.length} characters`;
    },
  },
  {
    name: 'feedback',
    title: 'a like on an answer is stored; a dislike clicked twice is removed again',
    async run() {
      const [, first, , second] = await pageMessages();
      const firstItem = page.locator(`[data-testid="message"][data-message-id="${first.id}"]`);
      const secondItem = page.locator(`[data-testid="message"][data-message-id="${second.id}"]`);

      await firstItem.getByTestId('feedback-like').click();
      await firstItem.locator('[data-testid="feedback"][data-feedback="like"][data-pending="false"]').waitFor();
      equal(await firstItem.getByTestId('feedback-like').getAttribute('aria-pressed'), 'true', 'like pressed');

      await secondItem.getByTestId('feedback-dislike').click();
      await secondItem.locator('[data-testid="feedback"][data-feedback="dislike"][data-pending="false"]').waitFor();
      await secondItem.getByTestId('feedback-dislike').click();
      await secondItem.locator('[data-testid="feedback"][data-feedback="none"][data-pending="false"]').waitFor();
      equal(await secondItem.getByTestId('feedback-dislike').getAttribute('aria-pressed'), 'false', 'dislike released');

      const posts = await calls('POST', /^\/v2\/messages\/[^/]+\/feedback$/);
      equal(
        posts.map((p) => [p.path, JSON.parse(p.postData), p.status]),
        [
          [`/v2/messages/${first.id}/feedback`, { feedback: 'like' }, 200],
          [`/v2/messages/${second.id}/feedback`, { feedback: 'dislike' }, 200],
          [`/v2/messages/${second.id}/feedback`, { feedback: null }, 200],
        ],
        'the feedback calls',
      );

      // read back from the API with the page's own session token
      const stored = await apiOk('GET', `/conversations/${s.conversationId}/messages`, { token: s.token });
      equal(Object.keys(stored).sort(), ['data', 'object'], 'the message list keys');
      const data = stored.data;
      equal(data.map((m) => m.role), ['user', 'assistant', 'user', 'assistant'], 'the stored roles');
      equal(data.map((m) => m.id).filter((_, i) => i % 2 === 1), [first.id, second.id], 'the stored answer ids are the streamed ones');
      equal([storedText(data[0]), storedText(data[2])], [FIRST_MESSAGE, SECOND_MESSAGE], 'the stored user messages');
      equal([shownStoredText(data[1]), shownStoredText(data[3])], [first.text, second.text], 'the stored answers are what was shown (without their source lines)');
      equal(data.map((m) => m.status), ['complete', 'complete', 'complete', 'complete'], 'the stored statuses');
      equal([data[1].feedback, data[3].feedback], ['like', null], 'the stored feedback');
      check(typeof data[1].feedbackAt === 'string', 'feedbackAt set on the liked answer');
      equal(data[3].feedbackAt, null, 'feedbackAt cleared on the removed one');
      equal([data[0].pageUrl, data[0].pageTitle], [page.url(), await page.title()], 'the stored page context');
      equal([data[0].textSelection, typeof data[2].textSelection], [null, 'string'], 'the stored text selections');
      s.stored = data;
    },
  },
  {
    name: 'reload-list',
    title: 'after a reload the conversation is listed with its title',
    async run() {
      await page.reload({ waitUntil: 'load' });
      await page.locator('[data-testid="session-status"][data-state="ready"]').waitFor();
      await page.locator('[data-testid="conversation-list"][data-state="ready"]').waitFor();
      const demo = await demoState();
      equal(demo.saVid, s.saVid, 'the same saVid after a reload');
      const inits = await calls('POST', /^\/v2\/identity\/init$/);
      equal(inits.map((i) => i.status), [200], 'init for a known browser');
      s.token = demo.sessionToken;
      const item = page.locator(`[data-testid="conversation-item"][data-conversation-id="${s.conversationId}"]`);
      await item.waitFor();
      equal(await item.getByTestId('conversation-title').textContent(), s.title, 'the title in the list');
      equal(await messageItems().count(), 0, 'no conversation is open yet');
    },
  },
  {
    name: 'open-conversation',
    title: 'opening the conversation shows its four messages',
    async run() {
      const reads = page.waitForResponse((r) => new URL(r.url()).pathname === `/v2/conversations/${s.conversationId}/messages`);
      await page.locator(`[data-testid="conversation-item"][data-conversation-id="${s.conversationId}"]`).click();
      equal((await reads).status(), 200, 'GET …/messages status');
      await waitForMessages(4);
      await waitForChatReady();
      const shown = await pageMessages();
      equal(shown.map((m) => m.role), ['user', 'assistant', 'user', 'assistant'], 'the roles shown');
      equal(shown.map((m) => m.id), s.stored.map((m) => m.id), 'the ids shown');
      equal(shown.map((m) => m.text), s.stored.map(shownStoredText), 'the texts shown');
      equal([shown[1].feedback, shown[3].feedback], ['like', 'none'], 'the stored feedback shown');
      equal(
        await page.locator(`[data-testid="conversation-item"][data-conversation-id="${s.conversationId}"]`).getAttribute('aria-current'),
        'true',
        'the open conversation is marked current',
      );
    },
  },
  {
    name: 'new-conversation',
    title: 'a new conversation starts empty',
    async run() {
      const started = page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/v2/conversations');
      await page.getByTestId('new-conversation').click();
      const response = await started;
      equal(response.status(), 201, 'POST /v2/conversations status');
      const conversation = await response.json();
      equal([conversation.object, conversation.status, conversation.title, conversation.messages], ['conversation', 'open', null, []], 'the new conversation');
      equal(JSON.parse(response.request().postData()), { context: { pageUrl: page.url() } }, 'the start body');
      await page.getByTestId('welcome-message').waitFor();
      await waitForChatReady();
      equal(await messageItems().count(), 0, 'messages in the new chat');
      const demo = await demoState();
      equal(demo.conversationId, conversation.id, 'the page moved to the new conversation');
      check(conversation.id !== s.conversationId, 'a different conversation');
      const item = page.locator(`[data-testid="conversation-item"][data-conversation-id="${conversation.id}"]`);
      equal(await item.getAttribute('aria-current'), 'true', 'the new conversation is listed as current');
      const stored = await apiOk('GET', `/conversations/${conversation.id}/messages`, { token: s.token });
      equal(stored.data, [], 'its stored messages');
      s.newConversationId = conversation.id;
    },
  },
  {
    name: 'session-renewal',
    title: 'a refused session token (401) is renewed by init and the request retried',
    allow: [{ status: 401, url: /\/v2\/conversations\/[^/]+\/messages$/ }],
    async run() {
      const before = await demoState();
      await page.evaluate(() => window.chatDemo.spoilSessionToken());
      await page.locator(`[data-testid="conversation-item"][data-conversation-id="${s.conversationId}"]`).click();
      await waitForMessages(4);
      await waitForChatReady();
      const reads = await calls('GET', new RegExp(`^/v2/conversations/${s.conversationId}/messages$`));
      equal(reads.map((r) => r.status), [401, 200], 'the message list: refused, then read with the new token');
      equal((await calls('POST', /^\/v2\/identity\/init$/)).map((i) => i.status), [200], 'init again for the same visitor');
      const after = await demoState();
      equal(after.initCount, before.initCount + 1, 'init calls on this page');
      check(after.sessionToken && after.sessionToken !== 'invalid.session.token', 'a new session token');
      equal(reads[1].requestHeaders.authorization, `Bearer ${after.sessionToken}`, 'the retry carries the new token');
      equal(await errorLine(), null, 'the error line');
    },
  },
  {
    name: 'second-tab',
    title: "a second tab shows the conversation and receives the first tab's next message through its socket",
    screenshotOf: () => s.second,
    async run() {
      // Same browser profile, so the same saVid from localStorage: the same visitor, who may
      // open the conversation in the list.
      const second = await context.newPage();
      s.second = second;
      watch(second);
      await second.goto(SITE_URL, { waitUntil: 'load' });
      await second.locator('[data-testid="conversation-list"][data-state="ready"]').waitFor();
      equal(await second.evaluate(() => window.chatDemo?.saVid), s.saVid, "the second tab's saVid");
      await second.locator(`[data-testid="conversation-item"][data-conversation-id="${s.conversationId}"]`).click();
      await waitForMessages(4, second);
      await second.locator('[data-testid="chat"][data-status="ready"][data-live="open"]').waitFor();

      // the socket: on the API's own host, port and path prefix, with only the publishable key
      const opened = sockets.filter((socket) => socket.page === second);
      equal(
        opened.map((socket) => socket.url),
        [`${API.replace(/^http/, 'ws')}/v2/conversations/${s.conversationId}/ws?apiKey=${s.config.publishableKey}`],
        "the second tab's sockets",
      );

      // the first tab sends; the second must show it without reading the messages again
      await second.evaluate(() => {
        window.__e2eSameDocument = true;
      });
      await sendAndWait(THIRD_MESSAGE, 6);
      const pushed = await waitUntil(
        () => framesReceived(second, 'new_message').filter((f) => storedText(f.message ?? {}) === THIRD_MESSAGE),
        (frames) => frames.length > 0,
        'a new_message frame with the message on the second tab',
      );
      equal(pushed.length, 1, 'new_message frames with the message');
      const [frame] = pushed;
      equal([frame.chatId, frame.message.chatId, frame.message.role], [s.conversationId, s.conversationId, 'user'], 'the frame');
      check(UUID.test(frame.message.id ?? ''), `the pushed message has its stored id: ${frame.message.id}`);
      await waitForMessages(5, second);
      const shown = await pageMessages(second);
      equal(shown.map((m) => m.role), ['user', 'assistant', 'user', 'assistant', 'user'], 'the roles on the second tab (answers are not pushed)');
      equal([shown[4].id, shown[4].text, shown[4].author], [frame.message.id, THIRD_MESSAGE, 'You'], 'the pushed message on the second tab');
      equal(await second.evaluate(() => window.__e2eSameDocument ?? false), true, 'the second tab was not reloaded');
      equal((await calls('GET', /^\/v2\/conversations\/[^/]+\/messages$/, { of: second })).map((r) => r.path), [`/v2/conversations/${s.conversationId}/messages`], 'message reads by the second tab (opening it only)');
      equal(await errorLine(second), null, "the second tab's error line");

      // The first tab got the same frame: its own message now carries the stored id, once.
      const first = await waitUntil(() => pageMessages(), (m) => m[4]?.id === frame.message.id, "the first tab's copy of its message");
      equal(first.map((m) => m.role), ['user', 'assistant', 'user', 'assistant', 'user', 'assistant'], 'the roles on the first tab (no duplicate)');
      const stored = await apiOk('GET', `/conversations/${s.conversationId}/messages`, { token: (await demoState()).sessionToken });
      equal([stored.data[4].id, stored.data[5].id], [frame.message.id, first[5].id], 'the stored ids of the third turn');
      return `pushed ${frame.message.id} to the second tab over ${opened[0].url.replace(/\?.*/, '')}`;
    },
  },
  {
    name: 'human-agent',
    title: 'a person of the team takes the conversation over and writes: the tabs show it live',
    screenshotOf: () => s.second,
    async run() {
      const second = s.second;
      const handoff = await api('POST', `/conversations/${s.conversationId}/handoff`, {
        token: SECRET_KEY,
        body: { humanAgent: { name: AGENT_NAME, image: null } },
      });
      check(handoff.status === 200, `the handoff answered ${handoff.status} (is SECRET_KEY a secret key of the page's project?): ${handoff.text.slice(0, 300)}`);
      equal([handoff.json.isHumanHandled, handoff.json.humanAgent?.name], [true, AGENT_NAME], 'the conversation handed off');
      for (const [tab, of] of [['first', page], ['second', second]]) {
        const shown = of.getByTestId('notice');
        await shown.waitFor();
        equal(await shown.allTextContents(), [JOINED_NOTICE], `the notice on the ${tab} tab`);
      }
      equal(framesReceived(second, 'human_assigned'), [{ type: 'human_assigned', chatId: s.conversationId }], 'human_assigned frames on the second tab');

      const written = await api('POST', `/conversations/${s.conversationId}/agent-messages`, {
        token: SECRET_KEY,
        body: { content: AGENT_MESSAGE },
      });
      check(written.status === 201, `the agent message answered ${written.status}: ${written.text.slice(0, 300)}`);
      for (const [tab, of] of [['first', page], ['second', second]]) {
        const shown = await waitUntil(() => pageMessages(of), (m) => m.some((x) => x.id === written.json.id), `the agent's message on the ${tab} tab`);
        const agent = shown.at(-1);
        equal([agent.id, agent.role, agent.author, agent.text], [written.json.id, 'human_agent', AGENT_NAME, AGENT_MESSAGE], `the agent's message, last on the ${tab} tab`);
        // the notice stays where it happened: after the earlier messages, before the agent's
        const order = await of.$$eval('[data-testid="message-list"] > li:not([data-testid="welcome-message"])', (items) =>
          items.map((li) => li.dataset.testid),
        );
        equal(order.slice(-2), ['notice', 'message'], `the notice and the agent's message on the ${tab} tab`);
      }
      equal(await second.evaluate(() => window.__e2eSameDocument ?? false), true, 'the second tab was not reloaded');
      equal(await errorLine(second), null, "the second tab's error line");
    },
  },
  {
    name: 'cited-answer',
    title: 'an answer from the help pages shows citation pills and a Sources list linking to them',
    async run() {
      const started = page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/v2/conversations');
      await page.getByTestId('new-conversation').click();
      equal((await started).status(), 201, 'POST /v2/conversations status');
      await page.getByTestId('welcome-message').waitFor();
      await waitForChatReady();
      equal(await messageItems().count(), 0, 'messages in the new chat');
      await sendAndWait(CITED_QUESTION, 2);
      const [user, answer] = await pageMessages();
      equal([user.role, user.text, answer.role], ['user', CITED_QUESTION, 'assistant'], 'the question and its answer');

      // the pills, inside the answer's text, and the Sources list under it, in the same bubble
      const bubble = page.locator(`[data-testid="message"][data-message-id="${answer.id}"] .msg-bubble`);
      const pills = await bubble.locator('a.citation').evaluateAll((links) =>
        links.map((a) => ({
          n: a.textContent,
          href: a.getAttribute('href'),
          target: a.getAttribute('target'),
          rel: a.getAttribute('rel'),
          inText: a.closest('[data-testid="message-text"]') !== null,
        })),
      );
      const pill = pills.find((p) => (p.href ?? '').endsWith('/help/shipping.html'));
      check(pill, `a citation pill (a.citation) linking to …/help/shipping.html in the answer: ${JSON.stringify(pills)} in ${JSON.stringify(answer.text)}`);
      check(/^\d+$/.test(pill.n), `the pill shows its number: ${JSON.stringify(pill.n)}`);
      equal([pill.target, pill.rel, pill.inText], ['_blank', 'noopener noreferrer', true], "the pill's target, rel and place");
      equal(await bubble.locator('.msg-sources .sources-title').textContent(), 'Sources', 'the heading of the sources');
      const listed = await bubble.locator('ol.sources > li a').evaluateAll((links) =>
        links.map((a) => ({ n: a.closest('li').value, href: a.getAttribute('href'), text: a.textContent })),
      );
      const source = listed.find((l) => l.href === pill.href);
      check(source, `the Sources list (ol.sources) links to ${pill.href}: ${JSON.stringify(listed)}`);
      equal(source.n, Number(pill.n), "the source's number in the list is the pill's");
      check(source.text.trim().length > 0, 'the source shows its title or URL');

      // the source lines are not shown as text; the stored answer carries them (API.md §16)
      check(!/^\[\d+\]:/m.test(answer.text), `the answer shows its source lines as text: ${JSON.stringify(answer.text)}`);
      const conversationId = (await demoState()).conversationId;
      const stored = await apiOk('GET', `/conversations/${conversationId}/messages`, { token: (await demoState()).sessionToken });
      equal(stored.data.map((m) => m.role), ['user', 'assistant'], 'the stored roles');
      const raw = storedText(stored.data[1]);
      check(raw.includes(`[${pill.n}]: ${pill.href}`), `the stored answer has the source line [${pill.n}]: ${pill.href}: ${JSON.stringify(raw)}`);
      equal(answer.text, shownStoredText(stored.data[1]), 'the answer shown is the stored text without its source lines');
      return `${pills.length} pill(s), ${listed.length} source(s): ${listed.map((l) => `[${l.n}] ${l.href}`).join(', ')}`;
    },
  },
];

// ---------------------------------------------------------------------------------------
// the runner

const slug = (text) => text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');

async function screenshot(file, of = page) {
  if (!of) return;
  try {
    await of.screenshot({ path: file, fullPage: false });
  } catch (error) {
    console.log(`     (no screenshot: ${error.message})`);
  }
}

async function main() {
  await mkdir(SCREENSHOTS, { recursive: true });
  for (const file of await readdir(SCREENSHOTS)) {
    if (file.endsWith('.png')) await rm(path.join(SCREENSHOTS, file));
  }
  console.log(`browser test: SITE_URL=${SITE_URL} API_URL=${API} (Chromium ${CHROMIUM})`);

  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for (const [index, step] of steps.entries()) {
    stepTag = String(index + 1).padStart(2, '0');
    const label = `${stepTag} ${step.name}: ${step.title}`;
    if (failed > 0) {
      skipped += 1;
      console.log(`SKIP ${label}`);
      continue;
    }
    problems = [];
    allowed = step.allow ?? [];
    const started = Date.now();
    let error = null;
    let note = null;
    try {
      let timer;
      note = await Promise.race([
        step.run(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Failure(`timed out after ${STEP_TIMEOUT_MS} ms`)), STEP_TIMEOUT_MS);
          // a problem ends the step, after a moment for the messages that come with it
          onProblem = () => setTimeout(() => reject(new Failure('stopped at the first problem')), 500);
        }),
      ]).finally(() => {
        clearTimeout(timer);
        onProblem = () => {};
      });
      await sleep(150); // let late console messages and responses of this step arrive
    } catch (e) {
      error = e;
    }
    if (page) {
      const line = await errorLine().catch(() => null);
      if (!error && line) problems.push(`the page shows an error: ${line}`);
    }
    const file = path.join(SCREENSHOTS, `${stepTag}-${slug(step.name)}.png`);
    await screenshot(file, step.screenshotOf?.() ?? page);
    allowed = [];
    const ms = Date.now() - started;
    if (!error && problems.length === 0) {
      passed += 1;
      console.log(`PASS ${label} (${ms} ms)`);
      if (typeof note === 'string') console.log(`     ${note}`);
    } else {
      failed += 1;
      console.log(`FAIL ${label} (${ms} ms)`);
      // the test's own checks and Playwright's waits say enough; anything else is a bug here
      const expected = error instanceof Failure || error?.name === 'TimeoutError';
      if (error) console.log(`     ${expected ? error.message.split('\n')[0] : (error.stack ?? error)}`);
      for (const problem of problems) console.log(`     ${problem}`);
      const line = page ? await errorLine().catch(() => null) : null;
      if (line) console.log(`     the page's error line: ${line}`);
    }
    console.log(`     screenshot: ${path.relative(process.cwd(), file)}`);
  }

  await context?.close().catch(() => {});
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true }).catch(() => {});
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  async (error) => {
    console.log(`the test itself broke: ${error.stack ?? error}`);
    await context?.close().catch(() => {});
    console.log('0 passed, 1 failed');
    process.exit(1);
  },
);
