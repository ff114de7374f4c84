// The chat API as a widget calls it (API.md, Part 2): the project's public settings and the
// visitor session from the publishable key, then everything else with the session token.
// Every call goes without credentials (no cookies); every error becomes an ApiError that
// carries the envelope's message and code, so the page can show it.

const SA_VID_KEY = 'chat-demo.saVid';

/** An error the page can show: the API's `{"error": {"message", "code"}}`, or a network failure. */
export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** Turns a non-2xx response into an ApiError, reading the JSON envelope when there is one. */
export async function errorFromResponse(response) {
  let text = '';
  try {
    text = await response.text();
  } catch {
    // the body could not be read: the status line is all there is
  }
  let message = null;
  let code = null;
  let details;
  try {
    const parsed = JSON.parse(text);
    if (parsed && typeof parsed.error === 'object' && parsed.error !== null) {
      if (typeof parsed.error.message === 'string') message = parsed.error.message;
      if (typeof parsed.error.code === 'string') code = parsed.error.code;
      details = parsed.error.details;
    }
  } catch {
    // not JSON
  }
  return new ApiError(
    response.status,
    code ?? `HTTP_${response.status}`,
    message ?? `The chat service answered ${response.status} ${response.statusText}`.trim(),
    details,
  );
}

function networkError(apiBase, cause) {
  const error = new ApiError(
    0,
    'NETWORK_ERROR',
    `Could not reach the chat service at ${apiBase} (${cause?.message ?? 'network error'}).`,
  );
  error.cause = cause;
  return error;
}

/** A UUID v4 from the CSPRNG (crypto.randomUUID exists only in secure contexts). */
export function uuidv4() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The device id init wants: made once per browser, kept in localStorage. */
function deviceId() {
  try {
    const kept = localStorage.getItem(SA_VID_KEY);
    if (kept && UUID_V4.test(kept)) return kept;
    const made = uuidv4();
    localStorage.setItem(SA_VID_KEY, made);
    return made;
  } catch {
    // storage disabled: a visitor for this page view only
    return uuidv4();
  }
}

/**
 * The API client of one page view. `apiBase` is the API's origin (and path prefix, if any)
 * without `/v2`; `publishableKey` is the project's `pk_...`.
 */
export function createApiClient({ apiBase, publishableKey }) {
  const base = apiBase.replace(/\/+$/, '');
  const saVid = deviceId();
  let sessionToken = null;
  let pendingInit = null;
  let inits = 0;

  const url = (path) => `${base}/v2${path}`;

  async function send(path, init) {
    let response;
    try {
      response = await fetch(url(path), { credentials: 'omit', ...init });
    } catch (cause) {
      if (cause?.name === 'AbortError') throw cause;
      throw networkError(base, cause);
    }
    return response;
  }

  async function readJson(response) {
    if (!response.ok) throw await errorFromResponse(response);
    return response.json();
  }

  /** POST /v2/identity/init: one call at a time, shared by everyone waiting for a token. */
  function init() {
    if (!pendingInit) {
      pendingInit = (async () => {
        const response = await send('/identity/init', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ apiKey: publishableKey, saVid }),
        });
        const body = await readJson(response);
        if (typeof body?.sessionToken !== 'string' || body.sessionToken === '') {
          throw new ApiError(response.status, 'INVALID_RESPONSE', 'The chat service sent no session token.');
        }
        sessionToken = body.sessionToken;
        inits += 1;
        return body;
      })().finally(() => {
        pendingInit = null;
      });
    }
    return pendingInit;
  }

  async function token() {
    if (sessionToken) return sessionToken;
    await init();
    return sessionToken;
  }

  /**
   * fetch with the session token; a 401 means the token expired or was refused, and nothing
   * was read or written for it, so the page gets a fresh token from init and tries once more.
   * Non-2xx answers become ApiErrors. This is also the chat transport's fetch.
   */
  async function authedFetch(input, init_ = {}) {
    const attempt = async (renewed) => {
      // The chat transport sets the header itself (prepareSendMessagesRequest); a retry after
      // a renewal replaces it with the new token.
      const headers = new Headers(init_.headers);
      if (renewed || !headers.has('authorization')) headers.set('authorization', `Bearer ${await token()}`);
      let response;
      try {
        response = await fetch(input, { ...init_, headers, credentials: 'omit' });
      } catch (cause) {
        if (cause?.name === 'AbortError') throw cause;
        throw networkError(base, cause);
      }
      return response;
    };
    let response = await attempt(false);
    if (response.status === 401) {
      // drain the refused answer, then renew the session once
      await response.text().catch(() => {});
      sessionToken = null;
      await init();
      response = await attempt(true);
    }
    if (!response.ok) throw await errorFromResponse(response);
    return response;
  }

  const authedJson = async (path, { method = 'GET', body, signal } = {}) => {
    const headers = body === undefined ? {} : { 'content-type': 'application/json' };
    const response = await authedFetch(url(path), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
    return response.json();
  };

  return {
    apiBase: base,
    saVid,
    get sessionToken() {
      return sessionToken;
    },
    /** How many times init has answered (the first, plus one per renewal). */
    get initCount() {
      return inits;
    },
    /** For the browser test: spoil the token so the next call answers 401 and renews it. */
    spoilSessionToken() {
      sessionToken = 'invalid.session.token';
    },
    init,
    /** The current session token, after init if there is none yet. */
    getToken: token,
    authedFetch,
    messagesUrl: (conversationId) => url(`/conversations/${encodeURIComponent(conversationId)}/messages`),
    /**
     * The conversation's live socket (API.md §12): the API's own URL with ws: or wss:, so it
     * reaches the same host, port and path prefix as every other call. It carries only the
     * publishable key: the conversation id is the capability, and there is no way to send a
     * header with a browser's WebSocket.
     */
    socketUrl(conversationId) {
      const socket = new URL(url(`/conversations/${encodeURIComponent(conversationId)}/ws`));
      socket.protocol = socket.protocol === 'https:' ? 'wss:' : 'ws:';
      socket.search = new URLSearchParams({ apiKey: publishableKey }).toString();
      return socket.href;
    },

    /** GET /v2/projects/current?apiKey=<pk>: public settings, no Authorization header. */
    async getProject() {
      const response = await send(`/projects/current?apiKey=${encodeURIComponent(publishableKey)}`, {
        method: 'GET',
      });
      return readJson(response);
    },
    /** GET /v2/conversations?limit=N: the visitor's conversations, most recent first. */
    listConversations: ({ limit = 20, signal } = {}) => authedJson(`/conversations?limit=${limit}`, { signal }),
    /** POST /v2/conversations: 201 with the new, empty conversation. */
    startConversation: (pageUrl) =>
      authedJson('/conversations', { method: 'POST', body: { context: { pageUrl } } }),
    /** GET /v2/conversations/{id}/messages: every stored message, oldest first. */
    listMessages: (conversationId, { signal } = {}) =>
      authedJson(`/conversations/${encodeURIComponent(conversationId)}/messages`, { signal }),
    /** POST /v2/messages/{id}/feedback: answers with the stored value. */
    sendFeedback: (messageId, feedback) =>
      authedJson(`/messages/${encodeURIComponent(messageId)}/feedback`, {
        method: 'POST',
        body: { feedback },
      }),
  };
}
