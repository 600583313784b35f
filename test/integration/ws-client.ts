/**
 * A small WebSocket client over node:net for the tests (Node 20 has no global WebSocket): the
 * RFC 6455 handshake, masked text and binary frames out, unmasked text/close/ping frames in. It
 * can also stop reading, to make the server see a slow client.
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

/** One open test connection. */
export interface TestSocket {
  /** Text messages received so far, parsed as JSON. */
  readonly messages: unknown[];
  /** Resolves with the first received message (from now on or already received) matching `pred`. */
  next(pred: (m: unknown) => boolean, timeoutMs?: number): Promise<unknown>;
  /** Sends a text frame. */
  send(text: string): void;
  /** Sends a binary frame. */
  sendBinary(data: Uint8Array): void;
  /** Stops reading from the socket (the server's send buffer fills up). */
  pause(): void;
  resume(): void;
  /** Resolves with the close code once the server closes the connection. */
  readonly closed: Promise<number | null>;
  close(): void;
  /** The raw socket. */
  readonly socket: Socket;
}

/** The HTTP status line and headers of a refused upgrade. */
export class UpgradeRefused extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`upgrade refused with ${status}`);
  }
}

function frame(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const len = payload.length;
  const head =
    len < 126
      ? Buffer.from([0x80 | opcode, 0x80 | len])
      : len < 65536
        ? Buffer.from([0x80 | opcode, 0x80 | 126, len >> 8, len & 0xff])
        : (() => {
            const b = Buffer.alloc(10);
            b[0] = 0x80 | opcode;
            b[1] = 0x80 | 127;
            b.writeBigUInt64BE(BigInt(len), 2);
            return b;
          })();
  const body = Buffer.alloc(len);
  for (let i = 0; i < len; i++) body[i] = payload[i]! ^ mask[i % 4]!;
  return Buffer.concat([head, mask, body]);
}

/**
 * Opens a WebSocket to `url` (`http://host:port/ws`).
 *
 * @param headers - extra request headers (e.g. `origin`); a `host` replaces the URL's
 * @throws UpgradeRefused when the server answers the upgrade with an HTTP error
 */
export function openWebSocket(url: string, headers: Record<string, string> = {}): Promise<TestSocket> {
  const u = new URL(url);
  const key = randomBytes(16).toString('base64');
  const accept = createHash('sha1')
    .update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11')
    .digest('base64');
  return new Promise((resolve, reject) => {
    const socket = connect(Number(u.port), u.hostname);
    const messages: unknown[] = [];
    const waiters: { pred: (m: unknown) => boolean; resolve: (m: unknown) => void }[] = [];
    let buf = Buffer.alloc(0);
    let upgraded = false;
    let closeCode: number | null = null;
    let resolveClosed!: (c: number | null) => void;
    const closed = new Promise<number | null>((r) => (resolveClosed = r));

    const onMessage = (m: unknown) => {
      messages.push(m);
      for (const w of [...waiters]) {
        if (w.pred(m)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(m);
        }
      }
    };

    const parseFrames = () => {
      for (;;) {
        if (buf.length < 2) return;
        const opcode = buf[0]! & 0x0f;
        let len = buf[1]! & 0x7f;
        let off = 2;
        if (len === 126) {
          if (buf.length < 4) return;
          len = buf.readUInt16BE(2);
          off = 4;
        } else if (len === 127) {
          if (buf.length < 10) return;
          len = Number(buf.readBigUInt64BE(2));
          off = 10;
        }
        if (buf.length < off + len) return;
        const payload = buf.subarray(off, off + len);
        buf = buf.subarray(off + len);
        if (opcode === 0x1) onMessage(JSON.parse(payload.toString('utf8')));
        else if (opcode === 0x8) {
          closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : null;
          socket.end();
        } else if (opcode === 0x9) socket.write(frame(0xa, Buffer.from(payload)));
      }
    };

    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        const status = Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1] ?? 0);
        if (status !== 101) {
          // Collect the rest of the refusal's body, then fail.
          setTimeout(() => {
            reject(new UpgradeRefused(status, buf.subarray(end + 4).toString('utf8')));
            socket.destroy();
          }, 50);
          return;
        }
        if (!head.toLowerCase().includes(`sec-websocket-accept: ${accept.toLowerCase()}`)) {
          reject(new Error('bad Sec-WebSocket-Accept'));
          socket.destroy();
          return;
        }
        upgraded = true;
        buf = buf.subarray(end + 4);
        resolve({
          messages,
          socket,
          closed,
          next(pred, timeoutMs = 15_000) {
            const found = messages.find(pred);
            if (found !== undefined) return Promise.resolve(found);
            return new Promise((res, rej) => {
              const w = { pred, resolve: res };
              waiters.push(w);
              setTimeout(() => {
                const i = waiters.indexOf(w);
                if (i >= 0) {
                  waiters.splice(i, 1);
                  rej(
                    new Error(`no matching message within ${timeoutMs} ms; got ${JSON.stringify(messages)}`),
                  );
                }
              }, timeoutMs).unref();
            });
          },
          send(text) {
            socket.write(frame(0x1, Buffer.from(text, 'utf8')));
          },
          sendBinary(data) {
            socket.write(frame(0x2, Buffer.from(data)));
          },
          pause() {
            socket.pause();
          },
          resume() {
            socket.resume();
          },
          close() {
            if (!socket.destroyed) socket.write(frame(0x8, Buffer.from([0x03, 0xe8])));
            socket.end();
          },
        });
      }
      parseFrames();
    });
    socket.on('close', () => resolveClosed(closeCode));
    socket.on('error', (err) => {
      if (!upgraded) reject(err);
    });
    socket.on('connect', () => {
      const lines = [
        `GET ${u.pathname} HTTP/1.1`,
        `Host: ${headers.host ?? u.host}`,
        'Upgrade: websocket',
        'Connection: Upgrade',
        `Sec-WebSocket-Key: ${key}`,
        'Sec-WebSocket-Version: 13',
        ...Object.entries(headers)
          .filter(([k]) => k !== 'host')
          .map(([k, v]) => `${k}: ${v}`),
      ];
      socket.write(lines.join('\r\n') + '\r\n\r\n');
    });
  });
}
