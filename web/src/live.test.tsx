// @vitest-environment happy-dom
import { act, cleanup, render } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { connectLiveFeed, LiveContext, useRefresh, type LiveFeed, type LiveMessage } from './live.js';

/** A stand-in socket the test drives by hand. */
class TestSocket {
  static last: TestSocket | null = null;
  onopen: (() => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: (() => void) | null = null;
  constructor(readonly url: string) {
    TestSocket.last = this;
  }
}

const JOB = '5b4db9f3-0000-4000-8000-000000000001';
const progress = (jobId: string) => ({
  type: 'job.progress',
  job_id: jobId,
  status: 'running',
  phase: 'scoring',
  rows_done: 10,
  rows_total: 100,
});

beforeEach(() => {
  vi.useFakeTimers();
  vi.stubGlobal('WebSocket', TestSocket);
});
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

describe('live feed', () => {
  it('opens /ws on the API, hands on contract events and ignores anything else', () => {
    const feed = connectLiveFeed('http://api.test:8080');
    const sock = TestSocket.last!;
    expect(sock.url).toBe('ws://api.test:8080/ws');
    const got: LiveMessage[] = [];
    const status: boolean[] = [];
    feed.subscribe((m) => got.push(m));
    feed.onStatus((c) => status.push(c));
    sock.onopen?.();
    sock.onmessage?.({
      data: JSON.stringify({
        type: 'hello',
        version: '0.1.0',
        topics: ['jobs'],
        server_time: '2024-01-01T00:00:00Z',
      }),
    });
    sock.onmessage?.({ data: 'not json' });
    sock.onmessage?.({ data: JSON.stringify({ type: 'job.progress', job_id: 'nope' }) });
    sock.onmessage?.({ data: JSON.stringify(progress(JOB)) });
    expect(got).toEqual([progress(JOB)]);
    expect(feed.connected()).toBe(true);
    sock.onclose?.();
    expect(status).toEqual([true, false]);
    // It reconnects after a pause
    vi.advanceTimersByTime(1000);
    expect(TestSocket.last).not.toBe(sock);
  });
});

describe('useRefresh', () => {
  function feedOf(connected: boolean) {
    const listeners = new Set<(m: LiveMessage) => void>();
    const feed: LiveFeed = {
      connected: () => connected,
      subscribe: (fn) => (listeners.add(fn), () => listeners.delete(fn)),
      onStatus: () => () => undefined,
    };
    return { feed, send: (m: LiveMessage) => listeners.forEach((fn) => fn(m)) };
  }

  function Probe(props: { onRefresh: () => void; active: boolean }) {
    useRefresh(props.onRefresh, {
      topics: ['jobs'],
      active: props.active,
      match: (e) => 'job_id' in e && e.job_id === JOB,
    });
    return null;
  }

  it('polls while work is unfinished and the socket is down, and not once it is done', () => {
    const { feed } = feedOf(false);
    const onRefresh = vi.fn();
    const view = render(
      <LiveContext.Provider value={feed}>
        <Probe onRefresh={onRefresh} active />
      </LiveContext.Provider>,
    );
    act(() => void vi.advanceTimersByTime(3000));
    expect(onRefresh).toHaveBeenCalledTimes(3);
    view.rerender(
      <LiveContext.Provider value={feed}>
        <Probe onRefresh={onRefresh} active={false} />
      </LiveContext.Provider>,
    );
    act(() => void vi.advanceTimersByTime(10_000));
    expect(onRefresh).toHaveBeenCalledTimes(3);
  });

  it('refreshes on matching events, once per burst', () => {
    const { feed, send } = feedOf(true);
    const onRefresh = vi.fn();
    render(
      <LiveContext.Provider value={feed}>
        <Probe onRefresh={onRefresh} active={false} />
      </LiveContext.Provider>,
    );
    act(() => {
      send(progress('5b4db9f3-0000-4000-8000-000000000002') as LiveMessage);
      vi.advanceTimersByTime(500);
    });
    expect(onRefresh).not.toHaveBeenCalled();
    act(() => {
      send(progress(JOB) as LiveMessage);
      send(progress(JOB) as LiveMessage);
      vi.advanceTimersByTime(500);
    });
    expect(onRefresh).toHaveBeenCalledTimes(1);
  });
});
