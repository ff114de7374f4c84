// The live socket of the conversation on screen (API.md §12): what the visitor's other tabs
// and the site's team write into it arrives here while it is shown, with no polling.
// The server sends `{"type": "new_message", …}` and `{"type": "human_assigned", …}` frames and
// answers a text `ping` with `pong`; it pushes nothing else (assistant answers are streamed
// to the tab that asked).

/** Silence after which we ping: a pong proves the path is still open end to end. */
const PING_AFTER_MS = 30_000;
/**
 * Silence after which the socket is taken for dead. A sleeping laptop or a proxy that forgot
 * the connection never fires `close`, so only the missing pong tells.
 */
const DEAD_AFTER_MS = 60_000;
/** The wait before reconnecting: doubled after each failure, up to the maximum. */
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 30_000;

/**
 * Keeps a socket to `url` open until `close()` is called, reconnecting after every drop.
 * `onEvent(frame)` gets each JSON frame; `onState(state)` hears 'connecting', 'open' and
 * 'closed' (dropped, waiting to reconnect).
 */
export function openLiveSocket(url, { onEvent, onState = () => {} }) {
  let socket = null;
  let stopped = false;
  let failures = 0;
  let pingTimer;
  let deadTimer;
  let retryTimer;

  // Any frame, a pong included, shows the connection is alive: both clocks start again.
  const heard = () => {
    clearTimeout(pingTimer);
    clearTimeout(deadTimer);
    pingTimer = setTimeout(() => socket?.readyState === WebSocket.OPEN && socket.send('ping'), PING_AFTER_MS);
    deadTimer = setTimeout(drop, DEAD_AFTER_MS);
  };

  function connect() {
    onState('connecting');
    const ws = new WebSocket(url);
    socket = ws;
    heard(); // a handshake that hangs is dropped like a silent socket
    ws.onopen = () => {
      failures = 0;
      heard();
      onState('open');
    };
    ws.onmessage = (event) => {
      heard();
      if (typeof event.data !== 'string' || event.data === 'pong') return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return; // not a frame of the contract: nothing to show
      }
      if (frame && typeof frame.type === 'string') onEvent(frame);
    };
    // `error` is always followed by `close`, which is where a drop is handled
    ws.onclose = drop;
  }

  /** Forgets the current socket (its late events are ignored) and, unless stopped, reconnects after a pause. */
  function drop() {
    clearTimeout(pingTimer);
    clearTimeout(deadTimer);
    const ws = socket;
    socket = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = null;
      // Closing a socket that is still connecting makes the browser log an error: let it open first.
      if (ws.readyState === WebSocket.CONNECTING) ws.onopen = () => ws.close();
      else ws.close();
    }
    if (stopped) return;
    onState('closed');
    // Jittered, so that many widgets cut off at once (a server restart) do not return at once.
    const wait = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** failures);
    failures += 1;
    retryTimer = setTimeout(connect, wait * (0.5 + Math.random() / 2));
  }

  connect();
  return {
    close() {
      stopped = true;
      clearTimeout(retryTimer);
      drop();
    },
  };
}
