/**
 * Entry point: builds the API (base URL from VITE_API_BASE_URL at build time, default the page's
 * own origin) and the live feed, and renders the dashboard.
 */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { createApi } from './api.js';
import { ApiContext, LiveContext } from './api-context.js';
import { App } from './app.js';
import { connectLiveFeed } from './live.js';
import './styles.css';

const baseUrl = (import.meta.env.VITE_API_BASE_URL ?? '').replace(/\/+$/, '');
const api = createApi(baseUrl);
const feed = connectLiveFeed(baseUrl);

const root = document.getElementById('root');
if (root === null) throw new Error('the page has no #root element');
createRoot(root).render(
  <StrictMode>
    <ApiContext.Provider value={api}>
      <LiveContext.Provider value={feed}>
        <App />
      </LiveContext.Provider>
    </ApiContext.Provider>
  </StrictMode>,
);
