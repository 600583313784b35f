/**
 * Fault 15b: `/ws` read a binary frame's bytes as text, so `{"type":"subscribe",...}` sent as
 * binary was obeyed and any other bytes were reported as bad JSON. Client messages are JSON text
 * frames: a binary frame is answered with an `error` message (the contract's answer to a message
 * the server cannot accept) and changes nothing; the connection stays open.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveHub } from '../../src/api/ws.js';
import { WsServerMessageSchema, type WsServerMessage } from '../../src/contract/ws.js';
import { openWebSocket, type TestSocket } from '../integration/ws-client.js';
import { startRouterApp, type RouterApp } from '../helpers/router-app.js';

let server: RouterApp;
let socket: TestSocket;

beforeAll(async () => {
  server = await startRouterApp((router) => new LiveHub(router).attach('0.0.0-test'));
  socket = await openWebSocket(`${server.url}/ws`);
  await socket.next((m) => (m as WsServerMessage).type === 'hello');
});
afterAll(() => {
  socket?.close();
  server?.close();
});

describe('fault 15b: binary WebSocket frames', () => {
  it('are answered with an error naming the frame, and are not obeyed', async () => {
    const frame = Buffer.from(JSON.stringify({ type: 'subscribe', topics: ['alerts'] }));
    socket.sendBinary(frame);
    const err = WsServerMessageSchema.parse(
      await socket.next((m) => (m as WsServerMessage).type === 'error'),
    );
    expect(err).toMatchObject({
      type: 'error',
      error: {
        code: 'invalid_input',
        message: `message must be a JSON text frame; got a binary frame of ${frame.length} bytes`,
      },
    });
    expect(socket.messages.some((m) => (m as WsServerMessage).type === 'subscribed')).toBe(false);
  });

  it('leave the connection open: a text message is still served', async () => {
    socket.send(JSON.stringify({ type: 'subscribe', topics: ['jobs'] }));
    const sub = await socket.next((m) => (m as WsServerMessage).type === 'subscribed');
    expect(sub).toEqual({ type: 'subscribed', topics: ['jobs'] });
  });
});
