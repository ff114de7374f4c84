import { createRoot } from 'react-dom/client';
import { createApiClient } from './api.js';
import { ChatWidget } from './ChatWidget.jsx';
import './styles.css';

/**
 * The configuration comes at run time from ./config.json on the page's own origin (the
 * local server writes it; see public/config.example.json), so one build serves any API.
 */
async function loadConfig() {
  let response;
  try {
    response = await fetch('./config.json', { cache: 'no-store', credentials: 'same-origin' });
  } catch (cause) {
    throw new Error(`The demo could not load ./config.json (${cause.message}).`);
  }
  if (!response.ok) {
    throw new Error(`The demo could not load ./config.json (${response.status}); see config.example.json.`);
  }
  const config = await response.json().catch(() => {
    throw new Error('The demo could not read ./config.json: it is not JSON (see config.example.json).');
  });
  const apiBase = config?.apiBase;
  const publishableKey = config?.publishableKey;
  if (typeof apiBase !== 'string' || !/^https?:\/\/[^/]/.test(apiBase)) {
    throw new Error('config.json needs "apiBase", the API\'s http(s) URL without /v2.');
  }
  if (typeof publishableKey !== 'string' || publishableKey === '') {
    throw new Error('config.json needs "publishableKey", the project\'s pk_… key.');
  }
  return { apiBase, publishableKey };
}

const root = createRoot(document.getElementById('chat-widget-root'));
loadConfig().then(
  (config) => root.render(<ChatWidget client={createApiClient(config)} />),
  (error) => root.render(<ChatWidget client={null} configError={error} />),
);
