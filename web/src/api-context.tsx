/** The API client the views use, handed down by context so tests can give them test data. */
import { createContext, useContext } from 'react';
import type { TadsClient } from '../../src/client/index.js';

export const ApiContext = createContext<TadsClient | null>(null);

/** The dashboard's API client (throws outside an {@link ApiContext} provider). */
export function useApi(): TadsClient {
  const api = useContext(ApiContext);
  if (api === null) throw new Error('useApi must be used inside an ApiContext provider');
  return api;
}
