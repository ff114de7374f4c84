#!/usr/bin/env node
// A developer's check of the peers, not a test suite: it runs each peer under its
// runtime interface client against a minimal Lambda Runtime API on 127.0.0.1, with
// DynamoDB served by `chat-local`'s embedded engine, feeds it the sample events of
// events/, and compares what comes back with what `chat-local` itself answers to the
// same requests over HTTP.
//
//   node bench/peers/smoke.mjs [path/to/chat-local]    (default: $CHAT_LOCAL, else
//                                                      target/release/chat-local)
// Run bench/peers/install.sh first. Ports: $ENGINE_PORT (8000), $SERVER_PORT (3999).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');
const chatLocal = process.argv[2] ?? process.env.CHAT_LOCAL ?? join(repo, 'target/release/chat-local');
const enginePort = process.env.ENGINE_PORT ?? '8000';
const serverPort = process.env.SERVER_PORT ?? '3999';
const server = `http://127.0.0.1:${serverPort}`;
const DEMO = '0192f0a0-0000-7000-8000-00000000d003';
const SIGNING_KEYS = 'local:local-development-signing-key-do-not-deploy';

// How each peer is started: the runtime interface client, the handler, the folder.
const PEERS = {
  'node-get': {
    cwd: join(here, 'node/dist'),
    argv: [process.execPath, join(here, 'node/node_modules/aws-lambda-ric/bin/index.mjs'), 'get.handler'],
  },
  'node-completion': {
    cwd: join(here, 'node/dist'),
    argv: [process.execPath, join(here, 'node/node_modules/aws-lambda-ric/bin/index.mjs'), 'completion.handler'],
  },
  'python-get': {
    cwd: join(here, 'python'),
    argv: [join(here, 'python/.venv/bin/python'), '-m', 'awslambdaric', 'get.lambda_handler'],
  },
};

// --- A minimal Lambda Runtime API --------------------------------------------------
class RuntimeApi {
  constructor() {
    this.queue = [];
    this.waiting = [];
    this.pending = new Map();
    this.delivered = new Map();
    this.firstPoll = undefined;
    this.server = createServer((req, res) => this.serve(req, res));
  }

  async start() {
    await new Promise((ok) => this.server.listen(0, '127.0.0.1', ok));
    return `127.0.0.1:${this.server.address().port}`;
  }

  stop() {
    this.server.closeAllConnections();
    this.server.close();
  }

  // Queues `event` and resolves with what the function posted back for it.
  invoke(id, event) {
    const result = new Promise((ok) => this.pending.set(id, ok));
    const next = this.waiting.shift();
    if (next) next([id, event]);
    else this.queue.push([id, event]);
    return result;
  }

  serve(req, res) {
    const path = req.url;
    if (req.method === 'GET' && path === '/2018-06-01/runtime/invocation/next') {
      this.firstPoll ??= performance.now();
      const send = ([id, event]) => {
        this.delivered.set(id, performance.now());
        res.writeHead(200, {
          'content-type': 'application/json',
          'lambda-runtime-aws-request-id': id,
          'lambda-runtime-deadline-ms': String(Date.now() + 900_000),
          'lambda-runtime-invoked-function-arn': 'arn:aws:lambda:us-east-1:123456789012:function:peer',
          'lambda-runtime-trace-id': 'Root=1-00000000-000000000000000000000000;Sampled=0',
        });
        res.end(event);
      };
      const queued = this.queue.shift();
      if (queued) send(queued);
      else this.waiting.push(send);
      return;
    }
    const match = path.match(/^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/);
    const started = performance.now();
    const frames = [];
    req.on('data', (chunk) => frames.push([performance.now() - started, chunk]));
    req.on('end', () => {
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end('{"status":"OK"}');
      const body = Buffer.concat(frames.map(([, chunk]) => chunk));
      if (!match) {
        console.log(`  runtime API: ${req.method} ${path}: ${body.toString().slice(0, 300)}`);
        return;
      }
      const id = decodeURIComponent(match[1]);
      this.pending.get(id)?.({
        error: match[2] === 'error',
        streaming: req.headers['lambda-runtime-function-response-mode'] === 'streaming',
        body,
        // Each frame's arrival, in ms after the event was handed out.
        frames: frames.map(([at, chunk]) => [at + started - this.delivered.get(id), chunk]),
        trailers: req.trailers,
      });
    });
  }
}

// A streamed response: the JSON prelude, 8 NUL bytes, then the HTTP body.
function splitPrelude(body) {
  const at = body.indexOf(Buffer.alloc(8));
  return { prelude: JSON.parse(body.subarray(0, at)), body: body.subarray(at + 8) };
}

// What a function answered, as status, headers and body text.
function httpOf(invocation) {
  if (invocation.error) return { status: 'error', headers: {}, body: invocation.body.toString() };
  if (invocation.streaming) {
    const { prelude, body } = splitPrelude(invocation.body);
    return { status: prelude.statusCode, headers: prelude.headers ?? {}, body: body.toString() };
  }
  const response = JSON.parse(invocation.body);
  const headers = Object.fromEntries(
    Object.entries(response.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
  );
  return { status: response.statusCode, headers, body: response.body ?? '' };
}

// The same request, sent to chat-local over HTTP.
async function viaServer(event) {
  const headers = { ...event.headers };
  delete headers.Host;
  const response = await fetch(server + event.path, {
    method: event.httpMethod,
    headers,
    body: event.body ?? undefined,
  });
  return {
    status: response.status,
    headers: Object.fromEntries(response.headers),
    body: await response.text(),
  };
}

const events = (name) => readFileSync(join(repo, 'events', name), 'utf8');

// A UI message stream as its chunks; `[DONE]` as the string.
const chunksOf = (sse) => sse.split('\n\n').filter(Boolean).map((line) => {
  if (!line.startsWith('data: ')) return line;
  const data = line.slice(6);
  return data === '[DONE]' ? data : JSON.parse(data);
});

// Chunks with their server-made ids replaced by placeholders, to compare two streams.
function normalised(chunks) {
  const names = new Map();
  const name = (value, kind) => {
    if (!names.has(value)) names.set(value, `<${kind}${names.size}>`);
    return names.get(value);
  };
  return chunks.map((chunk) => {
    if (typeof chunk !== 'object') return chunk;
    const copy = structuredClone(chunk);
    if (copy.messageId) copy.messageId = name(copy.messageId, 'message');
    if (copy.id) copy.id = name(copy.id, 'text');
    if (copy.messageMetadata?.conversationId) {
      copy.messageMetadata.conversationId = name(copy.messageMetadata.conversationId, 'conversation');
    }
    return copy;
  });
}

const summary = (text) => (text.length > 160 ? `${text.slice(0, 160)}… (${text.length} bytes)` : text);
let failures = 0;
function check(label, ok, detail = '') {
  console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${label}${detail ? `: ${detail}` : ''}`);
  if (!ok) failures += 1;
}

// --- Run ---------------------------------------------------------------------------
const children = [];
const stopAll = () => children.forEach((child) => child.kill('SIGKILL'));
process.on('exit', stopAll);

console.log(`chat-local: ${chatLocal} serve --engine-addr 127.0.0.1:${enginePort} --addr 127.0.0.1:${serverPort}`);
const local = spawn(chatLocal, ['serve', '--engine-addr', `127.0.0.1:${enginePort}`, '--addr', `127.0.0.1:${serverPort}`], {
  env: { PATH: process.env.PATH, RATE_LIMITS_ENABLED: 'false', LOG_LEVEL: 'warn' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
children.push(local);
const token = await new Promise((ok, fail) => {
  let out = '';
  local.stdout.on('data', (chunk) => {
    out += chunk;
    const found = out.match(/export TOKEN=(\S+)/);
    if (found) ok(found[1]);
  });
  local.on('exit', (code) => fail(new Error(`chat-local exited (${code}): ${out}`)));
  setTimeout(() => fail(new Error(`no token from chat-local within 30 s: ${out}`)), 30_000);
});
console.log(`  token: ${token.slice(0, 24)}…`);

const peers = {};
for (const [name, { cwd, argv }] of Object.entries(PEERS)) {
  const runtime = new RuntimeApi();
  const address = await runtime.start();
  const spawned = performance.now();
  const child = spawn(argv[0], argv.slice(1), {
    cwd,
    // As Lambda gives it, and nothing else from this shell (bench/src/cold.rs does the same).
    env: {
      AWS_LAMBDA_RUNTIME_API: address,
      AWS_LAMBDA_FUNCTION_NAME: name,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${name}`,
      AWS_LAMBDA_LOG_STREAM_NAME: '2026/01/01/[$LATEST]0000',
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      LAMBDA_TASK_ROOT: cwd,
      _HANDLER: argv.at(-1),
      AWS_REGION: 'us-east-1',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'ASIABENCHMARKLOCAL00',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_SESSION_TOKEN: 'local',
      TZ: ':UTC',
      PATH: '/usr/local/bin:/usr/bin:/bin',
      TABLE_NAME: 'chat-local',
      SESSION_SIGNING_KEYS: SIGNING_KEYS,
      DYNAMODB_ENDPOINT: `http://127.0.0.1:${enginePort}`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const log = [];
  child.stdout.on('data', (chunk) => log.push(chunk.toString()));
  child.stderr.on('data', (chunk) => log.push(chunk.toString()));
  child.on('exit', (code, signal) => {
    if (signal !== 'SIGKILL') console.log(`  ${name} exited (${code ?? signal}): ${log.join('')}`);
  });
  // One at a time, so that each start has the machine to itself.
  while (runtime.firstPoll === undefined && child.exitCode === null) {
    await new Promise((ok) => setTimeout(ok, 2));
  }
  let count = 0;
  peers[name] = {
    runtime,
    log,
    spawned,
    async invoke(event) {
      count += 1;
      const started = performance.now();
      const invocation = await runtime.invoke(`${name}-${count}`, event);
      return { ...httpOf(invocation), ms: performance.now() - started, invocation };
    },
    stop() {
      child.kill('SIGKILL');
      runtime.stop();
    },
  };
}

// How long each took from its spawn to its first poll of the Runtime API (Lambda's
// "init duration"): one start each, so indicative only (the benchmark measures it).
for (const [name, peer] of Object.entries(peers)) {
  console.log(`${name}: first poll ${(peer.runtime.firstPoll - peer.spawned).toFixed(1)} ms after its spawn`);
}

// 1. get: each peer and chat-local on the same requests.
// An expired token: get-conversation.json with close-conversation-expired-token.json's token.
const expired = JSON.parse(events('get-conversation.json'));
expired.headers.Authorization = JSON.parse(events('close-conversation-expired-token.json')).headers.Authorization;
const getEvents = [
  'get-conversation.json', 'get-conversation-no-token.json', 'get-conversation-bad-id.json',
  'get-conversation-not-found.json', 'get-conversation-other-visitor.json',
  ['get-conversation.json with an expired token', JSON.stringify(expired)],
];
for (const entry of getEvents) {
  const [file, event] = Array.isArray(entry) ? entry : [entry, events(entry)];
  const expected = await viaServer(JSON.parse(event));
  console.log(`${file}: chat-local ${expected.status} ${summary(expected.body)}`);
  for (const name of ['node-get', 'python-get']) {
    const got = await peers[name].invoke(event);
    console.log(`  ${name}: ${got.status} in ${got.ms.toFixed(1)} ms ${summary(got.body)}`);
    check(`${name} status`, got.status === expected.status, `${got.status} vs ${expected.status}`);
    check(`${name} body (parsed JSON)`, isDeepStrictEqual(JSON.parse(got.body), JSON.parse(expected.body)));
    for (const header of ['content-type', 'www-authenticate']) {
      if (header in expected.headers || header in got.headers) {
        check(`${name} ${header}`, got.headers[header] === expected.headers[header],
          `${got.headers[header]} vs ${expected.headers[header]}`);
      }
    }
  }
}

// 2. completion: the stream into the demo conversation, then the other cases.
const completion = peers['node-completion'];
{
  const event = events('chat-completion-stream.json');
  const got = await completion.invoke(event);
  const chunks = chunksOf(got.body);
  console.log(`chat-completion-stream.json: node-completion ${got.status} in ${got.ms.toFixed(1)} ms, ${chunks.length} events`);
  console.log(`  prelude: ${JSON.stringify(splitPrelude(got.invocation.body).prelude)}`);
  for (const chunk of [...chunks.slice(0, 4), '…', ...chunks.slice(-4)]) {
    console.log(`    ${typeof chunk === 'string' ? chunk : JSON.stringify(chunk)}`);
  }
  const frames = got.invocation.frames.map(([at]) => at);
  console.log(`  ${frames.length} frames posted, the first (the prelude) ${frames[0]?.toFixed(1)} ms and the last ${frames.at(-1)?.toFixed(1)} ms after the event was handed out`);
  const types = chunks.map((chunk) => (typeof chunk === 'string' ? chunk : chunk.type));
  const deltas = types.filter((type) => type === 'text-delta').length;
  // The turn is stored: read back through chat-local's get.
  const { messageId } = chunks[0];
  const text = chunks.filter((chunk) => chunk.type === 'text-delta').map((chunk) => chunk.delta).join('');
  const stored = JSON.parse((await viaServer(JSON.parse(events('get-conversation.json')))).body);
  const expected = await viaServer(JSON.parse(event));
  check('status 200', got.status === 200);
  check('chunk sequence', isDeepStrictEqual(types, [
    'start', 'start-step', 'text-start', ...Array(deltas).fill('text-delta'),
    'text-end', 'finish-step', 'finish', '[DONE]',
  ]) && deltas > 0, types.join(' '));
  check('chunks equal chat-local\'s (ids aside)',
    isDeepStrictEqual(normalised(chunks), normalised(chunksOf(expected.body))));
  check('body ends with data: [DONE]', got.body.endsWith('data: [DONE]\n\n'));
  for (const header of ['content-type', 'cache-control', 'connection', 'x-vercel-ai-ui-message-stream', 'x-accel-buffering']) {
    check(`header ${header}`, got.headers[header] === expected.headers[header], got.headers[header]);
  }
  check('x-conversation-id', got.headers['x-conversation-id'] === DEMO);

  const at = stored.messages.findIndex((message) => message.id === messageId);
  const assistant = stored.messages[at];
  const user = stored.messages[at - 1];
  console.log(`  stored assistant message: ${JSON.stringify(assistant)}`);
  check('assistant message stored complete', assistant?.status === 'complete'
    && isDeepStrictEqual(assistant.parts, [{ type: 'text', text }]));
  check('its metadata', isDeepStrictEqual(assistant?.metadata,
    { model: 'offline', finishReason: 'stop', usage: chunks.at(-2).messageMetadata.usage }));
  check('user message stored before it', user?.role === 'user' && user.status === 'complete'
    && user.parts[0].text === 'Do you ship to Canada?' && user.createdAt === assistant.createdAt);
  check('conversation moved on', stored.lastInteractionAt === assistant?.createdAt
    && stored.updatedAt === assistant?.createdAt);
}

for (const file of [
  'chat-completion.json', 'chat-completion-new-conversation.json', 'chat-completion-no-token.json',
  'chat-completion-other-visitor.json', 'chat-completion-unknown-assistant.json',
  'chat-completion-advanced-on-free-plan.json', 'chat-completion-last-message-not-user.json',
]) {
  const event = events(file);
  const got = await completion.invoke(event);
  const expected = await viaServer(JSON.parse(event));
  console.log(`${file}: node-completion ${got.status} in ${got.ms.toFixed(1)} ms ${summary(got.body)}`);
  check('status', got.status === expected.status, `${got.status} vs chat-local ${expected.status}`);
  if (expected.headers['content-type'] === 'text/event-stream') {
    check('stream equals chat-local\'s (ids aside)',
      isDeepStrictEqual(normalised(chunksOf(got.body)), normalised(chunksOf(expected.body))));
  } else {
    const [a, b] = [JSON.parse(got.body), JSON.parse(expected.body)];
    for (const body of [a, b]) {
      if (body.messageId) body.messageId = '<message>';
      if (body.conversationId) body.conversationId = '<conversation>';
    }
    check('body equals chat-local\'s (ids aside)', isDeepStrictEqual(a, b), JSON.stringify(b));
  }
}

// 3. The demo conversation after all those turns, read by the peers and by chat-local.
{
  const event = events('get-conversation.json');
  const expected = await viaServer(JSON.parse(event));
  const count = JSON.parse(expected.body).messages.length;
  console.log(`get-conversation.json after the turns: chat-local ${expected.status}, ${count} messages`);
  for (const name of ['node-get', 'python-get']) {
    const got = await peers[name].invoke(event);
    check(`${name} equals chat-local (parsed JSON)`, isDeepStrictEqual(JSON.parse(got.body), JSON.parse(expected.body)));
  }
}

for (const peer of Object.values(peers)) peer.stop();
local.kill('SIGTERM');
console.log(failures ? `${failures} checks failed` : 'all checks passed');
process.exit(failures ? 1 : 0);
