/** The API and the live-event feed the views use, handed down by context. */
import { createContext, useContext } from 'react';
import type { DashboardApi } from './api.js';
import type { LiveFeed } from './live.js';

export const ApiContext = createContext<DashboardApi | null>(null);

/** The dashboard's API (throws outside an {@link ApiContext} provider). */
export function useApi(): DashboardApi {
  const api = useContext(ApiContext);
  if (api === null) throw new Error('useApi must be used inside an ApiContext provider');
  return api;
}

/** A feed that is never connected and never sends: views then fall back to polling. */
export const OFFLINE_FEED: LiveFeed = {
  connected: () => false,
  subscribe: () => () => undefined,
  onStatus: () => () => undefined,
};

export const LiveContext = createContext<LiveFeed>(OFFLINE_FEED);
