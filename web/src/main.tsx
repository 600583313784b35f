/**
 * Entry point: builds the API client (base URL from VITE_API_BASE_URL at build time, default the
 * page's own origin) and the live feed, and renders the dashboard.
 */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { TadsClient } from '../../src/client/index.js';
import { ApiContext } from './api-context.js';
import { App } from './app.js';
import { connectLiveFeed, LiveContext } from './live.js';
import './styles.css';

const baseUrl = (import.meta.env.VITE_API_BASE_URL ?? '').replace(/\/+$/, '');
const api = new TadsClient(baseUrl === '' ? window.location.origin : baseUrl);
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
