import { Fragment, useEffect, useRef, useState } from 'react';
import { useChat } from '@ai-sdk/react';
import { DefaultChatTransport } from 'ai';
import { canRate, messageText, notice, withStored } from './messages.js';
import { splitCitations } from './citations.js';
import { openLiveSocket } from './liveSocket.js';
import { fitBody, pageContext, pageUrl } from './pageContext.js';
import { Feedback } from './Feedback.jsx';

const MAX_CONTENT = 10000;

/** How a message is shown: still arriving, done, or failed. */
function messageState(message, index, messages, status) {
  const isLast = index === messages.length - 1;
  const meta = message.metadata ?? {};
  if (message.role === 'assistant') {
    if (isLast && status === 'streaming') return 'streaming';
    if (isLast && status === 'error') return 'error';
    if (meta.status === 'streaming') return 'streaming';
    if (meta.status === 'error') return 'error';
    return 'complete';
  }
  // a user message the API refused (the error came before any answer) was not stored
  if (isLast && status === 'error') return 'not-sent';
  return 'complete';
}

/**
 * A citation pill: the source's number, a link to it when its URL is http(s).
 * Inside the message text, so the text reads "… two working days 1." to a copy or a screen reader.
 */
function Citation({ n, url, title }) {
  const label = title ?? url;
  if (!url) {
    return (
      <span className="citation" title={label ?? undefined}>
        {n}
      </span>
    );
  }
  return (
    <a
      className="citation"
      href={url}
      target="_blank"
      rel="noopener noreferrer"
      title={label}
      aria-label={`Source ${n}: ${label}`}
    >
      {n}
    </a>
  );
}

/** The sources an answer cites, numbered as its pills are. */
function Sources({ sources }) {
  return (
    <div className="msg-sources" data-testid="message-sources">
      <p className="sources-title">Sources</p>
      <ol className="sources" aria-label="Sources">
        {sources.map((source) => (
          <li key={source.n} value={source.n}>
            {source.url ? (
              <a href={source.url} target="_blank" rel="noopener noreferrer">
                {source.title ?? source.url}
              </a>
            ) : (
              <span>{source.title ?? `Source ${source.n}`}</span>
            )}
          </li>
        ))}
      </ol>
    </div>
  );
}

function MessageItem({ message, state, client, onError }) {
  const meta = message.metadata ?? {};
  const text = messageText(message);
  // The assistant's answers carry their citations in the text (API.md §16); the visitor's
  // messages and the team's are shown as written.
  const cited =
    message.role === 'assistant' && meta.storedRole !== 'human_agent'
      ? splitCitations(text, { streaming: state === 'streaming' })
      : null;
  if (meta.notice) {
    return (
      <li className="notice" data-testid="notice" role="status">
        {text}
      </li>
    );
  }
  const author =
    meta.storedRole === 'human_agent'
      ? (meta.humanAgent?.name ?? 'Support agent')
      : message.role === 'user'
        ? 'You'
        : null;
  return (
    <li
      className={`msg msg-${message.role}${meta.storedRole === 'human_agent' ? ' msg-human-agent' : ''}`}
      data-testid="message"
      data-role={meta.storedRole ?? message.role}
      data-message-id={message.id}
      data-state={state}
      aria-busy={state === 'streaming' ? 'true' : undefined}
    >
      {author && (
        <span className="msg-author" data-testid="message-author">
          {author}
        </span>
      )}
      <div className="msg-bubble">
        <p className="msg-text" data-testid="message-text">
          {cited
            ? cited.body.map((segment, i) =>
                segment.cite === undefined ? (
                  <Fragment key={i}>{segment.text}</Fragment>
                ) : (
                  <Citation key={i} n={segment.cite} url={segment.url} title={segment.title} />
                ),
              )
            : text}
        </p>
        {cited && cited.sources.length > 0 && <Sources sources={cited.sources} />}
        {state === 'streaming' && text === '' && (
          <span className="typing" aria-label="The assistant is writing">
            <span />
            <span />
            <span />
          </span>
        )}
      </div>
      {state === 'error' && message.role === 'assistant' && (
        <span className="msg-note" data-testid="message-error">
          {meta.error ?? 'The answer stopped before it was complete.'}
        </span>
      )}
      {state === 'not-sent' && (
        <span className="msg-note" data-testid="message-not-sent">
          Not sent
        </span>
      )}
      {(state === 'complete' || state === 'error') && canRate(message) && (
        <Feedback messageId={message.id} initial={meta.feedback ?? null} client={client} onError={onError} />
      )}
    </li>
  );
}

/**
 * One conversation's chat: the Vercel AI SDK's useChat over its DefaultChatTransport,
 * shaped by prepareSendMessagesRequest into the widget's request:
 * `POST {apiBase}/v2/conversations/{id}/messages` with `{content, stream: true, pageContext}`.
 * With no conversation yet (a fresh page), the first send starts one.
 * Mounted anew (by key) for every conversation the visitor opens.
 */
export function ChatPanel({
  client,
  conversationId,
  closed,
  initialMessages,
  ui,
  selection,
  onConversationStarted,
  onAnswered,
  onError,
  onSend,
  onClearSelection,
}) {
  const conversationRef = useRef(conversationId);
  const latest = useRef({});
  latest.current = { onConversationStarted, onAnswered, onError };

  const [transport] = useState(
    () =>
      new DefaultChatTransport({
        credentials: 'omit',
        // renews the session on 401 and turns error envelopes into errors the page shows
        fetch: client.authedFetch,
        // `body` holds what send() passed along: the selection at the moment of sending
        prepareSendMessagesRequest: async ({ messages, body }) => {
          const content = messageText(messages[messages.length - 1]);
          if (!conversationRef.current) {
            const started = await client.startConversation(pageUrl());
            conversationRef.current = started.id;
            latest.current.onConversationStarted(started);
          }
          return {
            api: client.messagesUrl(conversationRef.current),
            headers: {
              authorization: `Bearer ${await client.getToken()}`,
              'content-type': 'application/json',
            },
            body: fitBody({ content, stream: true, pageContext: pageContext(body?.textSelection ?? null) }),
            credentials: 'omit',
          };
        },
      }),
  );

  const { messages, setMessages, sendMessage, status } = useChat({
    transport,
    messages: initialMessages,
    onFinish: ({ isError, isAbort }) => {
      if (!isError && !isAbort) latest.current.onAnswered(conversationRef.current);
    },
    onError: (error) => latest.current.onError(error),
  });

  // The conversation's live socket, while this panel shows it (a fresh page has none until
  // its first send): messages from the visitor's other tabs and the site's team, and the
  // moment a person takes over. Closed when the panel goes or moves to another conversation.
  const [live, setLive] = useState('off');
  useEffect(() => {
    if (!conversationId) return undefined;
    let wasOpen = false;
    const socket = openLiveSocket(client.socketUrl(conversationId), {
      onEvent: (frame) => {
        if (frame.chatId !== conversationId) return;
        if (frame.type === 'new_message' && frame.message) {
          setMessages((shown) => withStored(shown, frame.message));
        } else if (frame.type === 'human_assigned') {
          setMessages((shown) => [...shown, notice('A person from the team has joined the conversation.')]);
        }
      },
      onState: (state) => {
        setLive(state);
        // Nothing pushed while the socket was down is sent again: read what was missed.
        if (state === 'open' && wasOpen) {
          client.listMessages(conversationId).then(
            (page) => setMessages((shown) => (page?.data ?? []).reduce(withStored, shown)),
            () => {}, // the gap shows on the next reconnect or reload; the chat itself still works
          );
        }
        if (state === 'open') wasOpen = true;
      },
    });
    return () => {
      socket.close();
      setLive('off');
    };
  }, [client, conversationId, setMessages]);

  const [input, setInput] = useState('');
  const listRef = useRef(null);
  const inputRef = useRef(null);
  const busy = status === 'submitted' || status === 'streaming';

  useEffect(() => {
    const list = listRef.current;
    if (list) list.scrollTop = list.scrollHeight;
  }, [messages, status]);

  const send = (text) => {
    const content = text.trim();
    if (content === '' || busy || closed) return;
    onSend();
    sendMessage({ text: content }, { body: { textSelection: selection } });
    setInput('');
    onClearSelection();
    inputRef.current?.focus();
  };

  return (
    <section className="chat" aria-label="Chat" data-testid="chat" data-status={status} data-live={live}>
      <ol className="messages" ref={listRef} role="log" aria-live="polite" aria-label="Messages" data-testid="message-list">
        <li className="msg msg-assistant welcome" data-testid="welcome-message">
          <div className="msg-bubble">
            <p className="msg-text">{ui.welcomeMessage}</p>
          </div>
        </li>
        {messages.map((message, index) => (
          <MessageItem
            key={message.id}
            message={message}
            state={messageState(message, index, messages, status)}
            client={client}
            onError={onError}
          />
        ))}
        {status === 'submitted' && (
          <li className="msg msg-assistant" data-testid="typing-indicator">
            <div className="msg-bubble">
              <span className="typing" aria-label="The assistant is writing">
                <span />
                <span />
                <span />
              </span>
            </div>
          </li>
        )}
      </ol>

      {messages.length === 0 && ui.quickPrompts.length > 0 && !closed && (
        <div className="quick-prompts" role="group" aria-label="Suggested questions" data-testid="quick-prompts">
          {ui.quickPrompts.map((prompt) => (
            <button key={prompt.id} type="button" disabled={busy} onClick={() => send(prompt.prompt)}>
              {prompt.title}
            </button>
          ))}
        </div>
      )}

      {selection && (
        <p className="selection" data-testid="text-selection">
          <span>
            Sent along: “<q>{selection.length > 80 ? `${selection.slice(0, 80)}…` : selection}</q>”
          </span>
          <button type="button" aria-label="Do not send the selected text" onClick={onClearSelection}>
            ×
          </button>
        </p>
      )}

      {closed ? (
        <p className="closed-note" data-testid="conversation-closed">
          This conversation is closed. Start a new one to keep asking.
        </p>
      ) : (
        <form
          className="composer"
          aria-label="Send a message"
          onSubmit={(event) => {
            event.preventDefault();
            send(input);
          }}
        >
          <label htmlFor="chat-input" className="visually-hidden">
            Your message
          </label>
          <textarea
            id="chat-input"
            ref={inputRef}
            data-testid="message-input"
            rows={2}
            maxLength={MAX_CONTENT}
            placeholder={ui.inputPlaceholder}
            value={input}
            onChange={(event) => setInput(event.target.value)}
            onKeyDown={(event) => {
              if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
                event.preventDefault();
                send(input);
              }
            }}
          />
          <button type="submit" data-testid="send-button" disabled={busy || input.trim() === ''}>
            Send
          </button>
        </form>
      )}
    </section>
  );
}
