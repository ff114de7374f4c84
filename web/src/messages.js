// Stored Messages (API.md §2) as the AI SDK's UI messages, so that the history a conversation
// opens with and the answers streamed into it render the same way.

/** The text of a message's parts (text parts only; other part types are not shown). */
export function messageText(message) {
  return (message.parts ?? [])
    .filter((part) => part?.type === 'text' && typeof part.text === 'string')
    .map((part) => part.text)
    .join('');
}

/**
 * A stored Message → a UIMessage `{id, role, parts, metadata}`. The id stays the stored id
 * (feedback is sent with it). A human agent's message is shown on the assistant's side, with
 * the agent's name. `metadata.stored` marks the message as known to the server.
 */
export function toUIMessage(stored) {
  const text = (stored.parts ?? []).filter((part) => part?.type === 'text' && typeof part.text === 'string');
  return {
    id: stored.id,
    role: stored.role === 'user' ? 'user' : 'assistant',
    parts: text.map((part) => ({ type: 'text', text: part.text, state: 'done' })),
    metadata: {
      stored: true,
      storedRole: stored.role,
      status: stored.status ?? null,
      error: stored.error ?? null,
      feedback: stored.feedback ?? null,
      humanAgent: stored.humanAgent ?? null,
      createdAt: stored.createdAt ?? null,
    },
  };
}

/**
 * Whether a UI message is an assistant answer the server stored under this id: a stored
 * one, or a streamed one whose `start` chunk named it (messageId + conversationId).
 */
export function canRate(message) {
  if (message.role !== 'assistant') return false;
  const meta = message.metadata ?? {};
  if (meta.stored) return meta.storedRole === 'assistant';
  return typeof meta.conversationId === 'string';
}

/**
 * `shown` with a stored Message (one the live socket pushed, or a read) added at the end,
 * unless it is shown already. The API does not answer a sent message's id, so the visitor's
 * own message shows under the id the AI SDK gave it until its stored copy arrives: that
 * copy takes its place (and id) instead of showing twice.
 */
export function withStored(shown, stored) {
  if (typeof stored?.id !== 'string' || shown.some((m) => m.id === stored.id)) return shown;
  const message = toUIMessage(stored);
  if (message.role === 'user') {
    const text = messageText(message).trim();
    const own = shown.findIndex((m) => m.role === 'user' && !m.metadata?.stored && messageText(m).trim() === text);
    if (own !== -1) return shown.map((m, i) => (i === own ? message : m));
  }
  return [...shown, message];
}

let noticeCounter = 0;
/**
 * A line of the chat that is no one's message (a person joined). It lives in the message list
 * so that it stays where it happened among the messages; the transport sends only the last
 * message's text, so it never reaches the API.
 */
export function notice(text) {
  return { id: `notice-${++noticeCounter}`, role: 'system', parts: [{ type: 'text', text }], metadata: { notice: true } };
}
