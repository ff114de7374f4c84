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
