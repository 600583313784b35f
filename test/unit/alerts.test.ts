import { describe, expect, it } from 'vitest';
import {
  AlertManager,
  type AlertEvent,
  type AlertManagerOptions,
  type AlertManagerState,
} from '../../src/core/alerts.js';
import { mulberry32 } from '../../scripts/make-pca-fixture.mjs';

const T0 = Date.UTC(2024, 0, 1); // minute-aligned
const MIN = 60_000;

/** Feeds one host's fused values at a fixed step and returns the events. */
function runHost(
  values: number[],
  options: AlertManagerOptions = {},
  { stepMs = MIN, start = T0, hostId = 'h1' } = {},
): AlertEvent[] {
  const m = new AlertManager({ intervalS: stepMs / 1000, ...options });
  values.forEach((fused, i) => m.process({ ts: start + i * stepMs, hostId, fused, topMetric: i % 8 }));
  return m.drainEvents();
}

const kinds = (events: AlertEvent[]) => events.map((e) => e.kind);
const atRow = (ts: number | null, start = T0, stepMs = MIN) => (ts === null ? null : (ts - start) / stepMs);

interface Row {
  ts: number;
  hostId: string;
  fused: number;
  topMetric: number;
  valid: boolean;
}

/** Many hosts over time, in (ts, host_id) order, with anomalous stretches, noise and invalid rows. */
function fleet(seed: number, hosts: number, steps: number): Row[] {
  const r = mulberry32(seed);
  const ids = Array.from({ length: hosts }, (_, i) => `host-${String(i).padStart(3, '0')}`);
  const remaining = new Array<number>(hosts).fill(0);
  const rows: Row[] = [];
  for (let s = 0; s < steps; s++) {
    for (let h = 0; h < hosts; h++) {
      // Occasional host outage: no record at all for this step.
      if (r() < 0.01) continue;
      if (remaining[h] === 0 && r() < 0.02) remaining[h] = 3 + Math.floor(r() * 25);
      const anomalous = remaining[h]! > 0;
      if (anomalous) remaining[h]! -= 1;
      const fused = anomalous ? 0.7 + r() * 3 : r() * 1.1;
      const invalid = r() < 0.01;
      rows.push({
        ts: T0 + s * 30_000,
        hostId: ids[h]!,
        fused: invalid && r() < 0.5 ? NaN : fused,
        topMetric: Math.floor(r() * 9) - 1,
        valid: !invalid || r() < 0.5,
      });
    }
  }
  return rows;
}

function feed(m: AlertManager, rows: Row[]): void {
  for (const row of rows) m.process(row);
}

function feedBatch(m: AlertManager, rows: Row[]): void {
  m.processBatch(
    {
      ts: Float64Array.from(rows, (x) => x.ts),
      hostIds: (i) => rows[i]!.hostId,
      fused: Float64Array.from(rows, (x) => x.fused),
      topMetric: Int32Array.from(rows, (x) => x.topMetric),
      valid: Uint8Array.from(rows, (x) => (x.valid ? 1 : 0)),
    },
    rows.length,
  );
}

describe('AlertManager options and input', () => {
  it('rejects bad options, naming them', () => {
    expect(() => new AlertManager({ raiseAfter: 0 })).toThrow(
      new RangeError('raiseAfter must be an integer ≥ 1; got 0'),
    );
    expect(() => new AlertManager({ clearAfter: 2.5 })).toThrow(
      new RangeError('clearAfter must be an integer ≥ 1; got 2.5'),
    );
    expect(() => new AlertManager({ cooldownS: -1 })).toThrow(
      new RangeError('cooldownS must be finite and ≥ 0; got -1'),
    );
    expect(() => new AlertManager({ maxGapS: 0 })).toThrow(
      new RangeError('maxGapS must be finite and > 0; got 0'),
    );
    expect(() => new AlertManager({ intervalS: Infinity })).toThrow(
      new RangeError('intervalS must be finite and > 0; got Infinity'),
    );
    expect(() => new AlertManager({ raiseThreshold: '1' as unknown as number })).toThrow(
      new TypeError('raiseThreshold must be a number; got "1"'),
    );
    expect(() => new AlertManager({ clearBelow: 1.2 })).toThrow(
      new RangeError('clearBelow must be ≤ raiseThreshold (1); got 1.2'),
    );
    expect(() => new AlertManager({ maxAlertsPerMinute: -1 })).toThrow(
      new RangeError('maxAlertsPerMinute must be an integer ≥ 0; got -1'),
    );
    expect(() => new AlertManager({ onEvent: 3 as unknown as () => void })).toThrow(
      new TypeError('onEvent must be a function; got 3'),
    );
    expect(() => new AlertManager({ raise_after: 3 } as AlertManagerOptions)).toThrow(
      /options\.raise_after is not an option; expected one of raiseAfter, /,
    );
  });

  it('applies the defaults and derives the gap threshold', () => {
    const o = new AlertManager().options;
    expect(o).toMatchObject({
      raiseAfter: 3,
      clearAfter: 5,
      cooldownS: 300,
      maxGapS: 300,
      intervalS: null,
      raiseThreshold: 1,
      clearBelow: 0.8,
      maxAlertsPerMinute: 20,
      gapMs: 300_000,
    });
    expect(new AlertManager({ intervalS: 120 }).options.gapMs).toBe(600_000);
    expect(new AlertManager({ intervalS: 10 }).options.gapMs).toBe(300_000);
  });

  it('rejects malformed records', () => {
    const m = new AlertManager();
    expect(() => m.process({ ts: NaN, hostId: 'h', fused: 1, topMetric: 0 })).toThrow(
      new RangeError('rec.ts must be a finite number of ms; got NaN'),
    );
    expect(() => m.process({ ts: 1, hostId: '', fused: 1, topMetric: 0 })).toThrow(
      new TypeError('rec.hostId must be a non-empty string; got ""'),
    );
    expect(() => m.process({ ts: 1, hostId: 'h', fused: 1, topMetric: -2 })).toThrow(
      new RangeError('rec.topMetric must be an integer ≥ -1; got -2'),
    );
    expect(() =>
      m.process({ ts: 1, hostId: 'h', fused: 1, topMetric: 0, valid: 1 as unknown as boolean }),
    ).toThrow(new TypeError('rec.valid must be a boolean or undefined; got 1'));
    const cols = {
      ts: new Float64Array(3),
      hostIds: ['a', 'b', 'c'],
      fused: new Float64Array(3),
      topMetric: new Int32Array(2),
    };
    expect(() => m.processBatch(cols, 3)).toThrow(
      new RangeError('cols.topMetric must have at least 3 entries; got 2'),
    );
    expect(() => m.processBatch({ ...cols, ts: [1, 2, 3] as unknown as Float64Array }, 2)).toThrow(
      new TypeError('cols.ts must be a Float64Array; got an array'),
    );
    expect(() => m.processBatch(cols, -1)).toThrow(new RangeError('length must be an integer ≥ 0; got -1'));
  });

  it('rejects out-of-order records, naming ts and host_id, and changes nothing', () => {
    const m = new AlertManager();
    m.process({ ts: T0 + MIN, hostId: 'h2', fused: 2, topMetric: 0 });
    expect(() => m.process({ ts: T0, hostId: 'h1', fused: 2, topMetric: 0 })).toThrow(
      new RangeError(
        `records must come in strictly increasing (ts, host_id) order; got ts=${T0} host_id="h1" after ts=${T0 + MIN} host_id="h2"`,
      ),
    );
    // Same ts: host ids must increase; a repeated (ts, host_id) is out of order too.
    expect(() => m.process({ ts: T0 + MIN, hostId: 'h1', fused: 2, topMetric: 0 })).toThrow(
      /order; got ts=\d+ host_id="h1" after ts=\d+ host_id="h2"/,
    );
    expect(() => m.process({ ts: T0 + MIN, hostId: 'h2', fused: 2, topMetric: 0 })).toThrow(RangeError);
    expect(m.accepts(T0 + MIN, 'h3')).toBe(true);
    expect(m.accepts(T0 + MIN, 'h2')).toBe(false);

    // A batch with one record out of order is rejected whole, before any record is taken.
    const batch = {
      ts: Float64Array.from([T0 + 2 * MIN, T0 + 3 * MIN, T0 + 4 * MIN, T0 + 3 * MIN]),
      hostIds: ['h2', 'h2', 'h2', 'h2'],
      fused: Float64Array.from([2, 2, 2, 2]),
      topMetric: new Int32Array(4),
    };
    expect(() => m.processBatch(batch, 4)).toThrow(/order at row 3; got ts=/);
    expect(m.drainEvents()).toEqual([]);
    expect(m.snapshot().last).toEqual({ ts: T0 + MIN, hostId: 'h2' });
    // The first three rows alone are fine and open an alert (with the record at T0 + MIN).
    m.processBatch(batch, 3);
    expect(kinds(m.drainEvents())).toEqual(['opened']);
  });
});

describe('AlertManager rules', () => {
  it('opens after raiseAfter consecutive records ≥ 1, with the streak peak', () => {
    const events = runHost([0.2, 1.2, 1.5, 1.1, 0.9]);
    expect(kinds(events)).toEqual(['opened']);
    const a = events[0]!.alert;
    expect(atRow(a.openedAt)).toBe(3);
    expect(a).toMatchObject({ id: 1, hostId: 'h1', closedAt: null, peakScore: 1.5, suppressed: false });
    expect(a.topMetric).toBe(2); // the peak record is row 2
    expect(a.records).toBe(1);
    // A valid record below 1 breaks the raise streak.
    expect(runHost([1.2, 1.3, 0.99, 1.2, 1.2])).toEqual([]);
    // Exactly 1 counts as anomalous.
    expect(kinds(runHost([1, 1, 1]))).toEqual(['opened']);
  });

  it('gives one alert for flapping input', () => {
    // Three anomalous records, two normal ones, again and again: the alert opens once and the
    // clear streak never reaches five.
    const values: number[] = [];
    for (let k = 0; k < 30; k++) values.push(1.5, 1.4, 1.6, 0.1, 0.2);
    const events = runHost(values);
    expect(events.filter((e) => e.kind === 'opened')).toHaveLength(1);
    expect(events.filter((e) => e.kind === 'closed')).toHaveLength(0);
    // Flapping that never holds three in a row opens nothing.
    expect(runHost(Array.from({ length: 100 }, (_, i) => (i % 2 ? 5 : 0)))).toEqual([]);
  });

  it('keeps an open alert open in the exit band 0.8 ≤ fused < 1, and closes after 5 records < 0.8', () => {
    const band = new Array<number>(40).fill(0.85);
    const open = runHost([2, 2, 2, ...band, 0.8, 0.95]);
    expect(kinds(open)).toEqual(['opened']);
    // Four lows, one in the band (resets the clear streak), four lows, then the fifth in a row.
    const events = runHost([2, 2, 2, 0.1, 0.1, 0.1, 0.1, 0.8, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]);
    expect(kinds(events)).toEqual(['opened', 'closed']);
    const closed = events[1]!.alert;
    expect(atRow(closed.closedAt)).toBe(12);
    // Records from the opening row 2 through the closing row 12, both included.
    expect(closed.records).toBe(11);
    expect(closed.peakScore).toBe(2);
  });

  it('emits updated only when the peak rises', () => {
    const events = runHost([1.1, 1.2, 1.3, 1.3, 1.25, 2.5, 2.4, 3, 0.9, 0.1, 0.1, 0.1, 0.1, 0.1]);
    expect(kinds(events)).toEqual(['opened', 'updated', 'updated', 'closed']);
    expect(events.map((e) => e.alert.peakScore)).toEqual([1.3, 2.5, 3, 3]);
    expect(events[2]!.alert.topMetric).toBe(7);
    // Events carry copies: the opened event still shows the state at opening.
    expect(events[0]!.alert.records).toBe(1);
    expect(events[3]!.alert.records).toBe(12);
  });

  it('holds a streak through the cooldown and opens at the first record after it', () => {
    // Close at row 8 (ts T0 + 8 min); cooldown 300 s ends at row 13.
    const head = [2, 2, 2, 0.1, 0.1, 0.1, 0.1, 0.1];
    const held = runHost([...head, 1.5, 1.5, 1.5, 1.5, 1.5, 1.7, 1.5]);
    expect(kinds(held)).toEqual(['opened', 'closed', 'opened', 'updated']);
    expect(atRow(held[1]!.alert.closedAt)).toBe(7);
    const second = held[2]!.alert;
    expect(atRow(second.openedAt)).toBe(12); // closedAt 7 + 5 rows = first ts ≥ cooldown end
    expect(second.peakScore).toBe(1.5); // the 1.7 at row 13 comes after opening
    // The streak breaks on the last cooldown record: no alert at the cooldown's end, and a new
    // streak of three is needed.
    const broken = runHost([...head, 1.5, 1.5, 1.5, 1.5, 0.5, 1.5, 1.5, 1.5]);
    expect(kinds(broken)).toEqual(['opened', 'closed', 'opened']);
    expect(atRow(broken[2]!.alert.openedAt)).toBe(15);
    // A streak that breaks on the record at the cooldown's end does not open.
    const ends = runHost([...head, 1.5, 1.5, 1.5, 1.5, 0.1]);
    expect(kinds(ends)).toEqual(['opened', 'closed']);
    // The peak of an alert opened after a cooldown covers the whole held streak.
    const peak = runHost([...head, 1.5, 4, 1.5, 1.5, 1.5]);
    expect(peak[2]!.alert).toMatchObject({ peakScore: 4, topMetric: 1 });
  });

  it('resets both streaks on a gap longer than max(maxGapS, 5 × intervalS)', () => {
    const m = new AlertManager({ intervalS: 60 }); // gap threshold 300 s
    const at = (min: number, fused: number) =>
      m.process({ ts: T0 + min * MIN, hostId: 'h', fused, topMetric: 0 });
    at(0, 2);
    at(1, 2);
    at(7, 2); // 6 min gap: the raise streak starts again at 1
    at(8, 2);
    expect(m.drainEvents()).toEqual([]);
    at(13, 2); // exactly 5 min: not longer than the threshold, the streak holds
    expect(kinds(m.drainEvents())).toEqual(['opened']);
    // The clear streak resets too; the alert itself stays open.
    at(14, 0.1);
    at(15, 0.1);
    at(16, 0.1);
    at(17, 0.1);
    at(40, 0.1);
    at(41, 0.1);
    at(42, 0.1);
    at(43, 0.1);
    expect(m.drainEvents()).toEqual([]);
    at(44, 0.1);
    expect(kinds(m.drainEvents())).toEqual(['closed']);
    // A longer sampling interval widens the threshold: 5 × 120 s = 10 min.
    const slow = runHost([2, 2], { intervalS: 120 }, { stepMs: 2 * MIN });
    expect(slow).toEqual([]);
    const w = new AlertManager({ intervalS: 120 });
    for (const min of [0, 10, 20]) w.process({ ts: T0 + min * MIN, hostId: 'h', fused: 2, topMetric: 0 });
    expect(kinds(w.drainEvents())).toEqual(['opened']);
  });

  it('lets invalid records change nothing', () => {
    const plain = runHost([2, 2, 2, 0.1, 0.1, 0.1, 0.1, 0.1]);
    const m = new AlertManager({ intervalS: 60 });
    let t = T0;
    const rec = (fused: number, valid?: boolean) =>
      m.process({ ts: (t += 20_000), hostId: 'h1', fused, topMetric: 3, valid });
    t = T0 - 20_000;
    // Each valid record at a whole minute, with invalid ones (NaN, or valid = false even with a
    // high score) in between.
    for (const v of [2, 2, 2, 0.1, 0.1, 0.1, 0.1, 0.1]) {
      rec(v);
      rec(NaN);
      rec(9, false);
    }
    const events = m.drainEvents();
    expect(events.map((e) => ({ ...e, alert: { ...e.alert, topMetric: 0 } }))).toEqual(
      plain.map((e) => ({ ...e, alert: { ...e.alert, topMetric: 0 } })),
    );
    // Invalid records do not bridge a gap: valid at 0 and 6 min with invalid ones between.
    const g = new AlertManager({ intervalS: 60 });
    g.process({ ts: T0, hostId: 'h', fused: 2, topMetric: 0 });
    g.process({ ts: T0 + 3 * MIN, hostId: 'h', fused: NaN, topMetric: -1 });
    g.process({ ts: T0 + 6 * MIN, hostId: 'h', fused: 2, topMetric: 0 });
    g.process({ ts: T0 + 7 * MIN, hostId: 'h', fused: 2, topMetric: 0 });
    expect(g.drainEvents()).toEqual([]);
  });

  it('caps alerts per calendar minute, storing the rest as suppressed and counting them', () => {
    const m = new AlertManager({ maxAlertsPerMinute: 2, intervalS: 20 });
    const hosts = ['a', 'b', 'c', 'd', 'e'];
    // Rows every 20 s from T0: the third row (T0 + 40 s) opens five alerts in minute T0.
    const step = (k: number, fused: (h: string) => number) => {
      for (const h of hosts) m.process({ ts: T0 + k * 20_000, hostId: h, fused: fused(h), topMetric: 1 });
    };
    for (let k = 0; k < 3; k++) step(k, () => 3);
    let events = m.drainEvents();
    expect(events.map((e) => [e.alert.hostId, e.alert.suppressed])).toEqual([
      ['a', false],
      ['b', false],
      ['c', true],
      ['d', true],
      ['e', true],
    ]);
    expect(events.map((e) => e.alert.id)).toEqual([1, 2, 3, 4, 5]);
    expect(m.suppressedCounts()).toEqual(new Map([[T0, 3]]));
    // Suppressed alerts stay open silently: the host cannot ask again until it clears.
    for (let k = 3; k < 6; k++) step(k, () => 3);
    expect(m.drainEvents()).toEqual([]);
    expect(m.openAlerts().map((a) => [a.id, a.suppressed])).toEqual([
      [1, false],
      [2, false],
      [3, true],
      [4, true],
      [5, true],
    ]);
    // All clear (5 rows) and close, suppressed ones included.
    for (let k = 6; k < 11; k++) step(k, () => 0.1);
    events = m.drainEvents();
    expect(events.map((e) => [e.kind, e.alert.id])).toEqual([1, 2, 3, 4, 5].map((id) => ['closed', id]));
    // After the cooldown (300 s = 15 rows), new alerts in a later minute get a fresh cap.
    for (let k = 11; k < 30; k++) step(k, (h) => (h === 'a' || h === 'd' || h === 'e' ? 3 : 0));
    events = m.drainEvents();
    const minute = Math.floor(events[0]!.alert.openedAt / MIN) * MIN;
    expect(events.map((e) => [e.alert.hostId, e.alert.suppressed])).toEqual([
      ['a', false],
      ['d', false],
      ['e', true],
    ]);
    expect(m.suppressedCounts()).toEqual(
      new Map([
        [T0, 3],
        [minute, 1],
      ]),
    );
    // drainSuppressedCounts hands out increments once.
    expect(m.drainSuppressedCounts()).toEqual(m.suppressedCounts());
    expect(m.drainSuppressedCounts()).toEqual(new Map());
  });

  it('aligns the cap to epoch minutes of telemetry time', () => {
    const m = new AlertManager({ maxAlertsPerMinute: 1, intervalS: 10 });
    // Host a opens at T0 + 50 s, host b at T0 + 70 s: different calendar minutes, both allowed,
    // although they are 20 s apart.
    const rows = [
      { ts: T0 + 30_000, hostId: 'a' },
      { ts: T0 + 40_000, hostId: 'a' },
      { ts: T0 + 50_000, hostId: 'a' },
      { ts: T0 + 50_000, hostId: 'b' },
      { ts: T0 + 60_000, hostId: 'b' },
      { ts: T0 + 70_000, hostId: 'b' },
      { ts: T0 + 70_000, hostId: 'c' },
      { ts: T0 + 80_000, hostId: 'c' },
      { ts: T0 + 90_000, hostId: 'c' },
    ];
    for (const r of rows) m.process({ ...r, fused: 2, topMetric: 0 });
    expect(m.drainEvents().map((e) => [e.alert.hostId, e.alert.openedAt, e.alert.suppressed])).toEqual([
      ['a', T0 + 50_000, false],
      ['b', T0 + 70_000, false],
      ['c', T0 + 90_000, true],
    ]);
    expect(m.suppressedCounts()).toEqual(new Map([[T0 + MIN, 1]]));
  });

  it('delivers events to onEvent instead of queueing them', () => {
    const seen: AlertEvent[] = [];
    const m = new AlertManager({ onEvent: (e) => seen.push(e) });
    for (let i = 0; i < 3; i++) m.process({ ts: T0 + i * MIN, hostId: 'h', fused: 2, topMetric: 0 });
    expect(kinds(seen)).toEqual(['opened']);
    expect(m.drainEvents()).toEqual([]);
  });
});

describe('AlertManager replay and restore', () => {
  const rows = fleet(7, 40, 400);
  const options: AlertManagerOptions = { intervalS: 30, maxAlertsPerMinute: 3 };

  function uninterrupted(): { events: AlertEvent[]; counts: Map<number, number> } {
    const m = new AlertManager(options);
    feed(m, rows);
    return { events: m.drainEvents(), counts: m.suppressedCounts() };
  }

  it('exercises every rule on the fixture', () => {
    const { events, counts } = uninterrupted();
    expect(events.filter((e) => e.kind === 'opened').length).toBeGreaterThan(50);
    expect(events.some((e) => e.kind === 'updated')).toBe(true);
    expect(events.some((e) => e.kind === 'closed')).toBe(true);
    expect(events.some((e) => e.alert.suppressed)).toBe(true);
    expect(counts.size).toBeGreaterThan(0);
  });

  it('gives identical alerts when the same input is replayed, record by record or in batches', () => {
    const a = uninterrupted();
    const b = uninterrupted();
    expect(b).toEqual(a);
    const batched = new AlertManager(options);
    for (let i = 0; i < rows.length; i += 997) feedBatch(batched, rows.slice(i, i + 997));
    expect(batched.drainEvents()).toEqual(a.events);
    expect(batched.suppressedCounts()).toEqual(a.counts);
  });

  it('resumes from a snapshot (through JSON) exactly as an uninterrupted run', () => {
    const whole = uninterrupted();
    for (const cut of [1, 1234, 5000, 9999, rows.length - 1]) {
      const first = new AlertManager(options);
      feed(first, rows.slice(0, cut));
      const before = first.drainEvents();
      const state = JSON.parse(JSON.stringify(first.snapshot())) as AlertManagerState;
      const second = AlertManager.restore(state, options);
      feedBatch(second, rows.slice(cut));
      expect([...before, ...second.drainEvents()]).toEqual(whole.events);
      expect(second.suppressedCounts()).toEqual(whole.counts);
      expect(second.openAlerts()).toEqual(
        (() => {
          const m = new AlertManager(options);
          feed(m, rows);
          return m.openAlerts();
        })(),
      );
    }
  });

  it('keeps the order cursor across restore', () => {
    const m = new AlertManager();
    m.process({ ts: T0, hostId: 'h2', fused: 0, topMetric: -1 });
    const r = AlertManager.restore(m.snapshot());
    expect(() => r.process({ ts: T0, hostId: 'h1', fused: 0, topMetric: -1 })).toThrow(/order/);
  });

  it('rejects a malformed state, naming the field', () => {
    const m = new AlertManager();
    feed(m, rows.slice(0, 3000));
    const state = m.snapshot();
    expect(state.hosts.length).toBeGreaterThan(0);
    expect(() => AlertManager.restore({ ...state, version: 2 as 1 })).toThrow(
      new TypeError('state.version must be 1; got 2'),
    );
    const badHosts = structuredClone(state);
    badHosts.hosts[0]!.raiseStreak = -1;
    expect(() => AlertManager.restore(badHosts)).toThrow(
      new TypeError('state.hosts[0].raiseStreak must be an integer ≥ 0; got -1'),
    );
    expect(() => AlertManager.restore({ ...state, suppressed: [[T0, 0]] })).toThrow(
      /state\.suppressed\[0\] must be \[finite minuteMs, integer count ≥ 1\]/,
    );
  });
});
