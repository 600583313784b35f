/**
 * Live updates over the API's WebSocket `/ws`: job progress, dataset and model status changes,
 * alerts opened and closed. The socket only makes the dashboard quicker: every view also polls
 * while it shows unfinished work (fast while the socket is down), so it stays correct without it.
 */
import { createContext, useContext, useEffect, useRef, useState } from 'react';
import {
  WS_EVENT_TOPIC,
  WsServerMessageSchema,
  type WsEvent,
  type WsServerMessage,
  type WsTopic,
} from '../../src/contract/ws.js';

/** A live event (a status change, progress, an alert) as the contract describes it. */
export type LiveMessage = WsEvent;

/** Topics a view may follow (the socket's topics). */
export type LiveTopic = WsTopic;

/** The topic of a server message, or null for one that is no event (`hello`, `subscribed`, `error`). */
export function topicOf(msg: WsServerMessage): LiveTopic | null {
  return msg.type in WS_EVENT_TOPIC ? WS_EVENT_TOPIC[msg.type as keyof typeof WS_EVENT_TOPIC] : null;
}

/** A feed of live messages. */
export interface LiveFeed {
  /** Whether the socket is open now. */
  connected(): boolean;
  /** Calls `fn` with every message; returns the unsubscribe function. */
  subscribe(fn: (msg: LiveMessage) => void): () => void;
  /** Calls `fn` when the socket opens or closes; returns the unsubscribe function. */
  onStatus(fn: (connected: boolean) => void): () => void;
}

/** A feed that is never connected and never sends: views then fall back to polling. */
export const OFFLINE_FEED: LiveFeed = {
  connected: () => false,
  subscribe: () => () => undefined,
  onStatus: () => () => undefined,
};

/** The live feed the views follow, handed down by context ({@link OFFLINE_FEED} outside a provider). */
export const LiveContext = createContext<LiveFeed>(OFFLINE_FEED);

/**
 * Opens the API's WebSocket and keeps it open, reconnecting with back-off (1 s doubling to 30 s)
 * while the page lives. The socket subscribes to every topic on connecting; messages that break
 * the contract are ignored.
 *
 * @param apiBaseUrl - the API's base URL; '' for the page's own origin
 */
export function connectLiveFeed(apiBaseUrl: string): LiveFeed {
  const listeners = new Set<(msg: LiveMessage) => void>();
  const statusListeners = new Set<(connected: boolean) => void>();
  const http = new URL(apiBaseUrl === '' ? window.location.origin : apiBaseUrl);
  const url = `${http.protocol === 'https:' ? 'wss:' : 'ws:'}//${http.host}${http.pathname.replace(/\/+$/, '')}/ws`;
  let open = false;
  let delay = 1000;

  const setOpen = (v: boolean) => {
    if (open === v) return;
    open = v;
    for (const fn of statusListeners) fn(v);
  };

  const connect = () => {
    let ws: WebSocket;
    try {
      ws = new WebSocket(url);
    } catch {
      window.setTimeout(connect, delay);
      return;
    }
    ws.onopen = () => {
      delay = 1000;
      setOpen(true);
    };
    ws.onmessage = (ev: MessageEvent) => {
      if (typeof ev.data !== 'string') return;
      let json: unknown;
      try {
        json = JSON.parse(ev.data);
      } catch {
        return;
      }
      const parsed = WsServerMessageSchema.safeParse(json);
      if (!parsed.success || topicOf(parsed.data) === null) return;
      const event = parsed.data as WsEvent;
      for (const fn of listeners) fn(event);
    };
    ws.onclose = () => {
      setOpen(false);
      window.setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30_000);
    };
  };
  connect();

  return {
    connected: () => open,
    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    onStatus(fn) {
      statusListeners.add(fn);
      return () => statusListeners.delete(fn);
    },
  };
}

/** Whether the live feed is connected, re-rendering when that changes. */
export function useLiveStatus(): boolean {
  const feed = useContext(LiveContext);
  const [connected, setConnected] = useState(feed.connected());
  useEffect(() => {
    setConnected(feed.connected());
    return feed.onStatus(setConnected);
  }, [feed]);
  return connected;
}

/** Calls `handler` with each live message of the given topics. */
export function useLiveEvents(topics: readonly LiveTopic[], handler: (msg: LiveMessage) => void): void {
  const feed = useContext(LiveContext);
  const ref = useRef(handler);
  ref.current = handler;
  const key = topics.join(',');
  useEffect(() => {
    const wanted = new Set(key.split(','));
    return feed.subscribe((msg) => {
      const t = topicOf(msg);
      if (t !== null && wanted.has(t)) ref.current(msg);
    });
  }, [feed, key]);
}

/** Options of {@link useRefresh}. */
export interface RefreshOptions {
  /** Topics whose live messages trigger a refresh. */
  topics: readonly LiveTopic[];
  /** Whether there is unfinished work to follow (polling happens only then). */
  active: boolean;
  /** Poll period while the socket is down, ms (default 1000). */
  fastMs?: number;
  /** Poll period while the socket is up, a safety net (default 5000). */
  slowMs?: number;
  /** Only events this accepts trigger a refresh (default: every event of the topics). */
  match?: (event: LiveMessage) => boolean;
}

/**
 * Keeps data fresh: calls `refresh` on each live message of `topics` (at most one call per
 * animation frame's worth of messages) and, while `active`, on a timer — fast when the socket is
 * down, slow when it is up.
 */
export function useRefresh(refresh: () => void, options: RefreshOptions): void {
  const connected = useLiveStatus();
  const ref = useRef(refresh);
  ref.current = refresh;
  const pending = useRef(false);
  const match = useRef(options.match);
  match.current = options.match;
  useLiveEvents(options.topics, (event) => {
    if (match.current && !match.current(event)) return;
    if (pending.current) return;
    pending.current = true;
    window.setTimeout(() => {
      pending.current = false;
      ref.current();
    }, 100);
  });
  const period = connected ? (options.slowMs ?? 5000) : (options.fastMs ?? 1000);
  useEffect(() => {
    if (!options.active) return;
    const t = window.setInterval(() => ref.current(), period);
    return () => window.clearInterval(t);
  }, [options.active, period]);
}
