/**
 * WebSocket `/ws`: live events of jobs, datasets, models and alerts (messages of
 * src/contract/ws.ts), from every TADS process through the database's LISTEN/NOTIFY
 * (src/db/events.ts).
 *
 * Topics are uWS pub/sub topics: a connection starts subscribed to all of them and may change
 * that with `subscribe` / `unsubscribe` messages (JSON text frames, validated; a bad one, or a
 * binary frame, is answered with an `error` message and the connection stays open).
 *
 * Backpressure: a client that does not read fast enough first loses progress events
 * (`*.progress`, droppable by contract: the next one or the status event supersedes them) once
 * more than {@link PROGRESS_DROP_BYTES} wait in its send buffer. Status and alert events are
 * never dropped: if {@link MAX_BACKPRESSURE_BYTES} pile up even so, the connection is closed
 * (uWS `closeOnBackpressureLimit`), and the client reconnects to a fresh `hello` and refetches
 * over HTTP — nothing is lost silently.
 *
 * Origin check: browsers do not apply CORS to WebSockets, so the upgrade itself refuses (403) a
 * browser page whose origin's host is not one the server answers to (`TADS_ALLOWED_HOSTS`),
 * unless the origin is one of the configured CORS origins. (An upgrade naming another host in
 * `Host` is refused before that, with 421, as every request is: see `Router.guard`.)
 */
import {
  isDroppableEvent,
  topicOfEvent,
  WS_MAX_CLIENT_MESSAGE,
  WS_TOPICS,
  WsClientMessageSchema,
  WsServerMessageSchema,
  type WsEvent,
  type WsServerMessage,
  type WsTopic,
} from '../contract/ws.js';
import type { EventFeed } from '../db/events.js';
import type { ApiDeps } from './deps.js';
import { statusLine, type HttpRequest, type HttpResponse } from './http.js';
import type { Router } from './router.js';
import type { WebSocket, us_socket_context_t } from '@trufflesuite/uws-js-unofficial';

/** Send-buffer size above which a client's progress events are dropped (64 KiB). */
export const PROGRESS_DROP_BYTES = 64 * 1024;

/** Send-buffer size at which a client is disconnected (1 MiB). */
export const MAX_BACKPRESSURE_BYTES = 1024 * 1024;

/** Seconds of silence before a connection is closed (pings are sent automatically before). */
export const IDLE_TIMEOUT_S = 120;

/** What each connection keeps. */
interface Connection {
  topics: Set<WsTopic>;
}

/** Counters of the live feed of one server (for tests and diagnostics). */
export interface LiveStats {
  /** Open connections. */
  connections: number;
  /** Events published to clients. */
  published: number;
  /** Progress messages not sent to a client because its send buffer was full. */
  droppedProgress: number;
}

/**
 * Whether an event goes to a client whose send buffer holds `bufferedBytes`: progress events
 * only below {@link PROGRESS_DROP_BYTES}, every other event always.
 */
export function shouldSend(event: Pick<WsEvent, 'type'>, bufferedBytes: number): boolean {
  return !isDroppableEvent(event) || bufferedBytes < PROGRESS_DROP_BYTES;
}

/**
 * True when a WebSocket upgrade from `origin` may proceed: no Origin header (not a browser), an
 * origin whose host name (port aside) `allowsHost` accepts, or an origin allowed by the CORS
 * policy. The request's own `Host` proves nothing: a rebound name sends the same in both.
 */
export function originAllowed(
  origin: string | undefined,
  allowsHost: (name: string) => boolean,
  cors: readonly string[],
): boolean {
  if (!origin) return true;
  if (cors.includes('*') || cors.includes(origin)) return true;
  try {
    return allowsHost(new URL(origin).hostname);
  } catch {
    return false;
  }
}

/** The live feed of one API: its connections and the fan-out of events to them. */
export class LiveHub {
  readonly #router: Router;
  readonly #sockets = new Set<WebSocket<Connection>>();
  readonly #stats = { published: 0, droppedProgress: 0 };

  constructor(router: Router) {
    this.#router = router;
  }

  /** Counters since start. */
  stats(): LiveStats {
    return { connections: this.#sockets.size, ...this.#stats };
  }

  /**
   * Sends an event to every connection subscribed to its topic (status and alert events through
   * uWS pub/sub; progress events per connection, skipping backed-up ones).
   */
  publish(event: WsEvent): void {
    const topic = topicOfEvent(event);
    const text = JSON.stringify(event);
    this.#stats.published += 1;
    if (!isDroppableEvent(event)) {
      this.#router.app.publish(topic, text, false, false);
      return;
    }
    for (const ws of this.#sockets) {
      if (!ws.getUserData().topics.has(topic)) continue;
      if (!shouldSend(event, ws.getBufferedAmount())) {
        this.#stats.droppedProgress += 1;
        continue;
      }
      ws.cork(() => ws.send(text, false, false));
    }
  }

  /** Registers `/ws` on the router's app. */
  attach(version: string): void {
    const cors = this.#router.cors.origins;
    this.#router.ws<Connection>('/ws', {
      maxPayloadLength: WS_MAX_CLIENT_MESSAGE,
      maxBackpressure: MAX_BACKPRESSURE_BYTES,
      closeOnBackpressureLimit: 1,
      idleTimeout: IDLE_TIMEOUT_S,
      sendPingsAutomatically: true,
      upgrade: (res: HttpResponse, req: HttpRequest, context: us_socket_context_t) => {
        // Read everything synchronously: the request is gone after this function returns.
        const key = req.getHeader('sec-websocket-key');
        const protocol = req.getHeader('sec-websocket-protocol');
        const extensions = req.getHeader('sec-websocket-extensions');
        const origin = req.getHeader('origin') || undefined;
        if (!originAllowed(origin, (name) => this.#router.allowsHostName(name), cors)) {
          res.cork(() => {
            res.writeStatus(statusLine(403));
            res.writeHeader('content-type', 'application/json; charset=utf-8');
            res.end(
              JSON.stringify({
                error: {
                  code: 'forbidden',
                  message: `origin must name a host of TADS_ALLOWED_HOSTS or be one of CORS_ORIGINS to open /ws; got ${origin}`,
                  details: { origin },
                },
              }),
            );
          });
          return;
        }
        const data: Connection = { topics: new Set(WS_TOPICS) };
        res.upgrade(data, key, protocol, extensions, context);
      },
      open: (ws) => {
        this.#sockets.add(ws);
        const { topics } = ws.getUserData();
        for (const t of topics) ws.subscribe(t);
        send(ws, {
          type: 'hello',
          version,
          topics: [...topics],
          server_time: new Date().toISOString(),
        });
      },
      message: (ws, message, isBinary) => {
        // Messages are JSON text frames: a binary frame is refused, never read as text.
        if (isBinary) {
          sendError(
            ws,
            `message must be a JSON text frame; got a binary frame of ${message.byteLength} bytes`,
            [{ path: 'frame', message: 'binary frame' }],
          );
          return;
        }
        // Copy out of the ArrayBuffer now: it is neutered when this callback returns.
        const text = Buffer.from(message).toString('utf8');
        let raw: unknown;
        try {
          raw = JSON.parse(text) as unknown;
        } catch (err) {
          const reason = err instanceof Error ? err.message : String(err);
          sendError(ws, `message must be valid JSON; got a parse error: ${reason}`, null);
          return;
        }
        const parsed = WsClientMessageSchema.safeParse(raw);
        if (!parsed.success) {
          const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
          sendError(ws, issues[0]?.message ?? 'invalid message', issues);
          return;
        }
        const conn = ws.getUserData();
        const asked = new Set(parsed.data.topics);
        const next =
          parsed.data.type === 'subscribe' ? asked : new Set([...conn.topics].filter((t) => !asked.has(t)));
        for (const t of conn.topics) if (!next.has(t)) ws.unsubscribe(t);
        for (const t of next) if (!conn.topics.has(t)) ws.subscribe(t);
        conn.topics = next;
        send(ws, { type: 'subscribed', topics: WS_TOPICS.filter((t) => next.has(t)) });
      },
      close: (ws) => {
        this.#sockets.delete(ws);
      },
    });
  }

  /** Feeds this hub from `feed`; returns the unsubscribe function. */
  listen(feed: EventFeed): () => void {
    return feed.subscribe((event) => this.publish(event));
  }
}

function send(ws: WebSocket<Connection>, message: WsServerMessage): void {
  const checked = WsServerMessageSchema.parse(message);
  ws.cork(() => ws.send(JSON.stringify(checked), false, false));
}

function sendError(ws: WebSocket<Connection>, message: string, details: unknown): void {
  send(ws, { type: 'error', error: { code: 'invalid_input', message, details } });
}

const hubs = new WeakMap<Router, LiveHub>();

/** The live hub registered on `router`, if any (for tests and diagnostics). */
export function liveHubOf(router: Router): LiveHub | undefined {
  return hubs.get(router);
}

/**
 * Route group of `/ws`: registers the WebSocket route and feeds it from `deps.events` when the
 * server has a listener (without one, clients connect and get `hello`, and no events).
 */
export function register(router: Router, deps: ApiDeps): void {
  const hub = new LiveHub(router);
  hub.attach(deps.version);
  if (deps.events) hub.listen(deps.events);
  hubs.set(router, hub);
}
