import { useState } from 'react';

const Thumb = ({ down }) => (
  <svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true" focusable="false"
    style={down ? { transform: 'rotate(180deg)' } : undefined}>
    <path
      fill="currentColor"
      d="M2 10h4v11H2zM8 21V10l5.2-7.3c.6-.8 1.8-.9 2.5-.2.5.5.7 1.2.5 1.9L15 9h5.5c1.4 0 2.4 1.3 2 2.6l-2.4 8c-.3 .8-1.1 1.4-2 1.4z"
    />
  </svg>
);

/**
 * Thumbs up / down on one stored assistant answer: `POST /v2/messages/{id}/feedback`.
 * Clicking the active one again removes it (sends null). What is shown is what the API
 * answered it stored, not what was clicked.
 */
export function Feedback({ messageId, initial, client, onError }) {
  const [stored, setStored] = useState(initial);
  const [pending, setPending] = useState(false);

  const rate = async (choice) => {
    const next = stored === choice ? null : choice;
    setPending(true);
    try {
      const answer = await client.sendFeedback(messageId, next);
      setStored(answer?.feedback ?? null);
    } catch (error) {
      onError(error);
    } finally {
      setPending(false);
    }
  };

  return (
    <div
      className="feedback"
      role="group"
      aria-label="Rate this answer"
      data-testid="feedback"
      data-feedback={stored ?? 'none'}
      data-pending={pending ? 'true' : 'false'}
    >
      <button
        type="button"
        data-testid="feedback-like"
        aria-label="Helpful"
        title="Helpful"
        aria-pressed={stored === 'like'}
        disabled={pending}
        onClick={() => rate('like')}
      >
        <Thumb />
      </button>
      <button
        type="button"
        data-testid="feedback-dislike"
        aria-label="Not helpful"
        title="Not helpful"
        aria-pressed={stored === 'dislike'}
        disabled={pending}
        onClick={() => rate('dislike')}
      >
        <Thumb down />
      </button>
    </div>
  );
}
