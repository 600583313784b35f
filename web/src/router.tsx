/**
 * A small history-API router: the dashboard's six tabs live under the app's base path
 * (`/app/control` …), and their state that is worth linking to lives in the query string.
 */
import { useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent, type ReactNode } from 'react';

/** The tabs, in header order. */
export const TABS = [
  { id: 'control', label: 'Control' },
  { id: 'runs', label: 'Runs' },
  { id: 'analytics', label: 'Dataset Analytics' },
  { id: 'models', label: 'Models' },
  { id: 'inference', label: 'Inference History' },
  { id: 'alerts', label: 'Alerts' },
] as const;
export type TabId = (typeof TABS)[number]['id'];

/** The app's base path, ending in '/' (`/app/` when built). */
export const BASE = import.meta.env.BASE_URL.endsWith('/')
  ? import.meta.env.BASE_URL
  : `${import.meta.env.BASE_URL}/`;

const NAV_EVENT = 'tads:navigate';

function subscribe(onChange: () => void): () => void {
  window.addEventListener('popstate', onChange);
  window.addEventListener(NAV_EVENT, onChange);
  return () => {
    window.removeEventListener('popstate', onChange);
    window.removeEventListener(NAV_EVENT, onChange);
  };
}

const snapshot = () => window.location.pathname + window.location.search;

/** The current path and query, re-rendering on navigation. */
export function useLocation(): { tab: TabId | null; params: URLSearchParams } {
  const loc = useSyncExternalStore(subscribe, snapshot, snapshot);
  const url = new URL(loc, 'http://x');
  return { tab: tabOf(url.pathname), params: url.searchParams };
}

/** The tab a path shows, or null for a path that is no tab. */
export function tabOf(pathname: string): TabId | null {
  if (!pathname.startsWith(BASE) && `${pathname}/` !== BASE) return null;
  const rest = pathname.slice(BASE.length).replace(/\/+$/, '');
  if (rest === '') return 'control';
  return TABS.find((t) => t.id === rest)?.id ?? null;
}

/** The URL of a tab, with optional query parameters (undefined and '' are left out). */
export function hrefOf(tab: TabId, params: Record<string, string | undefined> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, v);
  const s = q.toString();
  return `${BASE}${tab}${s ? `?${s}` : ''}`;
}

/** Goes to `href` within the app (replace: without a new history entry). */
export function navigate(href: string, replace = false): void {
  if (replace) window.history.replaceState(null, '', href);
  else window.history.pushState(null, '', href);
  window.dispatchEvent(new Event(NAV_EVENT));
}

/** Sets query parameters of the current tab in place (undefined or '' removes one). */
export function setParams(changes: Record<string, string | undefined>): void {
  const url = new URL(window.location.href);
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined || v === '') url.searchParams.delete(k);
    else url.searchParams.set(k, v);
  }
  navigate(url.pathname + url.search, true);
}

/** A link within the app: a plain anchor that navigates without reloading the page. */
export function Link(props: AnchorHTMLAttributes<HTMLAnchorElement> & { href: string; children: ReactNode }) {
  const { href, onClick, ...rest } = props;
  const click = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(href);
  };
  return <a href={href} onClick={click} {...rest} />;
}
