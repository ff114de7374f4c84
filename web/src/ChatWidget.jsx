import { useCallback, useEffect, useRef, useState } from 'react';
import { ChatPanel } from './ChatPanel.jsx';
import { toUIMessage } from './messages.js';
import { pageUrl, trackHostSelection } from './pageContext.js';

const LIST_LIMIT = 20;

const DEFAULT_UI = {
  displayName: 'Assistant',
  brandColor: '#2563eb',
  userMessageBubbleColor: '#2563eb',
  baseFontSize: 14,
  welcomeMessage: 'Hi! How can I help you today?',
  inputPlaceholder: 'Ask a question…',
  quickPrompts: [],
};

const HEX = /^#[0-9a-fA-F]{6}$/;

/** The parts of chatWidgetConfig the demo applies, each checked before it reaches the page. */
export function widgetUi(project) {
  const c = project?.chatWidgetConfig ?? {};
  const text = (value, fallback) => (typeof value === 'string' && value.trim() !== '' ? value : fallback);
  return {
    displayName: text(c.displayName, text(project?.name, DEFAULT_UI.displayName)),
    brandColor: HEX.test(c.brandColor ?? '') ? c.brandColor : DEFAULT_UI.brandColor,
    userMessageBubbleColor: HEX.test(c.userMessageBubbleColor ?? '')
      ? c.userMessageBubbleColor
      : DEFAULT_UI.userMessageBubbleColor,
    baseFontSize:
      Number.isFinite(c.baseFontSize) && c.baseFontSize >= 10 && c.baseFontSize <= 24
        ? c.baseFontSize
        : DEFAULT_UI.baseFontSize,
    welcomeMessage: text(c.welcomeMessage, DEFAULT_UI.welcomeMessage),
    inputPlaceholder: text(c.inputPlaceholder, DEFAULT_UI.inputPlaceholder),
    quickPrompts: Array.isArray(c.quickPrompts)
      ? c.quickPrompts.filter(
          (p) => p && typeof p.title === 'string' && typeof p.prompt === 'string' && p.prompt.trim() !== '',
        )
      : [],
  };
}

/** Black or white text, whichever reads better on a #rrggbb background. */
function textOn(hex) {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255);
  const lin = (v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
  const luminance = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  return luminance > 0.4 ? '#111827' : '#ffffff';
}

function describe(error) {
  if (!error) return null;
  let message = typeof error.message === 'string' && error.message !== '' ? error.message : String(error);
  const retryAfter = error.details?.retryAfter;
  if (Number.isFinite(retryAfter)) message += ` Try again in ${retryAfter} s.`;
  return { message, code: typeof error.code === 'string' ? error.code : null };
}

const when = (timestamp) => {
  const date = new Date(timestamp);
  return Number.isNaN(date.getTime())
    ? ''
    : date.toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
};

let draftCounter = 0;
const draft = () => ({
  key: `draft-${++draftCounter}`,
  conversationId: null,
  status: 'open',
  messages: [],
  state: 'ready',
});

/**
 * The widget: the project's look (GET /v2/projects/current), a visitor session
 * (POST /v2/identity/init), the visitor's conversations (GET /v2/conversations), one open
 * conversation at a time (GET …/messages, POST …/messages through ChatPanel), and a new one
 * on request (POST /v2/conversations).
 */
export function ChatWidget({ client, configError }) {
  const [ui, setUi] = useState(DEFAULT_UI);
  const [projectState, setProjectState] = useState('loading');
  const [session, setSession] = useState(configError ? 'error' : 'pending');
  const [list, setList] = useState({ state: 'idle', data: [], total: 0 });
  const [active, setActive] = useState(draft);
  const [error, setError] = useState(() => describe(configError));
  const [selection, setSelection] = useState(null);
  const [starting, setStarting] = useState(false);
  const activeRef = useRef(active);
  activeRef.current = active;
  const listSeq = useRef(0);
  const openSeq = useRef(0);
  const started = useRef(false);

  const report = useCallback((e) => setError(describe(e)), []);
  // A send refused because the conversation is closed: show it closed, not just the error.
  const reportChatError = useCallback((e) => {
    setError(describe(e));
    if (e?.code === 'CONFLICT' && e?.details?.conflictingField === 'status') {
      setActive((a) => ({ ...a, status: 'closed' }));
    }
  }, []);
  const clearError = useCallback(() => setError(null), []);

  const refreshList = useCallback(async () => {
    const seq = ++listSeq.current;
    setList((l) => ({ ...l, state: l.state === 'idle' ? 'loading' : 'refreshing' }));
    try {
      const page = await client.listConversations({ limit: LIST_LIMIT });
      if (seq !== listSeq.current) return;
      setList({
        state: 'ready',
        data: Array.isArray(page?.data) ? page.data : [],
        total: Number.isFinite(page?.total) ? page.total : 0,
      });
    } catch (e) {
      if (seq !== listSeq.current) return;
      setList((l) => ({ ...l, state: 'error' }));
      report(e);
    }
  }, [client, report]);

  // On load: the project's settings and the session together, then the conversation list.
  useEffect(() => {
    if (!client || started.current) return;
    started.current = true;
    window.chatDemo = {
      get sessionToken() {
        return client.sessionToken;
      },
      get saVid() {
        return client.saVid;
      },
      get apiBase() {
        return client.apiBase;
      },
      get conversationId() {
        return activeRef.current.conversationId;
      },
      get initCount() {
        return client.initCount;
      },
      spoilSessionToken: () => client.spoilSessionToken(),
    };
    client.getProject().then(
      (project) => {
        setUi(widgetUi(project));
        setProjectState('ready');
      },
      (e) => {
        setProjectState('error');
        report(e);
      },
    );
    client.init().then(
      () => {
        setSession('ready');
        refreshList();
      },
      (e) => {
        setSession('error');
        report(e);
      },
    );
  }, [client, refreshList, report]);

  useEffect(() => trackHostSelection(setSelection), []);

  const openConversation = async (conversation) => {
    if (conversation.id === active.conversationId && active.state === 'ready') return;
    const seq = ++openSeq.current;
    clearError();
    setActive({
      key: `${conversation.id}#${seq}`,
      conversationId: conversation.id,
      status: conversation.status,
      messages: [],
      state: 'loading',
    });
    try {
      const page = await client.listMessages(conversation.id);
      if (seq !== openSeq.current) return;
      const messages = (Array.isArray(page?.data) ? page.data : []).map(toUIMessage);
      setActive((a) => ({ ...a, messages, state: 'ready' }));
    } catch (e) {
      if (seq !== openSeq.current) return;
      setActive((a) => ({ ...a, state: 'error' }));
      report(e);
    }
  };

  const addToList = useCallback((conversation) => {
    setList((l) => ({
      ...l,
      data: [conversation, ...l.data.filter((c) => c.id !== conversation.id)],
      total: l.data.some((c) => c.id === conversation.id) ? l.total : l.total + 1,
    }));
  }, []);

  const newConversation = async () => {
    clearError();
    setStarting(true);
    ++openSeq.current;
    try {
      const conversation = await client.startConversation(pageUrl());
      setActive({
        key: conversation.id,
        conversationId: conversation.id,
        status: conversation.status ?? 'open',
        messages: [],
        state: 'ready',
      });
      addToList(conversation);
    } catch (e) {
      report(e);
    } finally {
      setStarting(false);
    }
  };

  // The first send of a fresh page starts a conversation: same panel, now with an id.
  const onConversationStarted = useCallback(
    (conversation) => {
      setActive((a) => ({ ...a, conversationId: conversation.id }));
      addToList(conversation);
    },
    [addToList],
  );

  const style = {
    '--brand': ui.brandColor,
    '--on-brand': textOn(ui.brandColor),
    '--user-bubble': ui.userMessageBubbleColor,
    '--on-user-bubble': textOn(ui.userMessageBubbleColor),
    fontSize: `${ui.baseFontSize}px`,
  };
  const sessionLabel = { pending: 'Connecting…', ready: 'Online', error: 'Offline' }[session];
  const ready = session === 'ready';

  return (
    <aside
      className="widget"
      style={style}
      aria-label={`Chat with ${ui.displayName}`}
      data-testid="chat-widget"
      data-project={projectState}
    >
      <header className="widget-header">
        <h2 className="widget-title" data-testid="widget-title">
          {ui.displayName}
        </h2>
        <span className="session" data-testid="session-status" data-state={session} role="status">
          <span className="session-dot" aria-hidden="true" />
          {sessionLabel}
        </span>
      </header>

      <p className="error-line" role="alert" data-testid="error-line" hidden={!error}>
        {error && (
          <>
            <span data-testid="error-message">{error.message}</span>
            {error.code && <span className="error-code"> ({error.code})</span>}
            <button type="button" aria-label="Dismiss the error" onClick={clearError}>
              ×
            </button>
          </>
        )}
      </p>

      <div className="widget-body">
        <nav className="sidebar" aria-label="Conversations" data-testid="conversation-list" data-state={list.state}>
          <button
            type="button"
            className="new-conversation"
            data-testid="new-conversation"
            disabled={!ready || starting}
            onClick={newConversation}
          >
            New conversation
          </button>
          <h3 className="sidebar-title" id="conversations-title">
            Your conversations
          </h3>
          {list.state === 'ready' && list.data.length === 0 && <p className="sidebar-empty">None yet.</p>}
          <ul aria-labelledby="conversations-title">
            {list.data.map((conversation) => (
              <li key={conversation.id}>
                <button
                  type="button"
                  className="conversation"
                  data-testid="conversation-item"
                  data-conversation-id={conversation.id}
                  aria-current={conversation.id === active.conversationId ? 'true' : undefined}
                  onClick={() => openConversation(conversation)}
                >
                  <span className="conversation-title" data-testid="conversation-title">
                    {conversation.title ?? 'New conversation'}
                  </span>
                  <span className="conversation-meta">
                    {conversation.status === 'closed' ? 'Closed · ' : ''}
                    {when(conversation.lastInteractionAt)}
                  </span>
                </button>
              </li>
            ))}
          </ul>
          {list.total > list.data.length && (
            <p className="sidebar-more">
              The {list.data.length} most recent of {list.total}.
            </p>
          )}
        </nav>

        {active.state === 'ready' && ready ? (
          <ChatPanel
            key={active.key}
            client={client}
            conversationId={active.conversationId}
            closed={active.status === 'closed'}
            initialMessages={active.messages}
            ui={ui}
            selection={selection}
            onConversationStarted={onConversationStarted}
            onAnswered={refreshList}
            onError={reportChatError}
            onSend={clearError}
            onClearSelection={() => setSelection(null)}
          />
        ) : (
          <section className="chat chat-placeholder" aria-label="Chat" data-testid="chat" data-status="unavailable">
            <p>{active.state === 'loading' ? 'Loading the conversation…' : ready ? 'This conversation could not be loaded.' : session === 'pending' ? 'Connecting…' : 'The chat is unavailable.'}</p>
          </section>
        )}
      </div>
    </aside>
  );
}
