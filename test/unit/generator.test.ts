import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  GENERATOR_LIMITS,
  GenerateParamsWireSchema,
  generateParamsToWire,
} from '../../src/contract/generator.js';
import { ValidationError } from '../../src/core/errors.js';
import {
  generateTelemetry,
  GENERATOR_MODEL,
  liveTelemetry,
  type GeneratedTelemetry,
  type GenerateParamsInput,
} from '../../src/core/generator.js';
import { ownsHost } from '../../src/core/sharding.js';
import { ANOMALY_TYPES, METRICS, type TelemetryChunk } from '../../src/core/types.js';
import { referenceFit } from '../helpers/reference-pca.js';

const D = METRICS.length;

/** All rows of a (small) dataset as one chunk. */
function collect(data: GeneratedTelemetry): TelemetryChunk {
  const n = data.totalRows;
  const all: TelemetryChunk = {
    firstRowId: 0,
    length: n,
    ts: new Float64Array(n),
    host: new Uint32Array(n),
    metrics: new Float64Array(n * D),
    isAnomaly: new Uint8Array(n),
    anomalyType: new Int8Array(n),
    anomalyEpisode: new Int32Array(n),
  };
  let at = 0;
  for (const c of data.chunks()) {
    expect(c.firstRowId).toBe(at);
    all.ts.set(c.ts, at);
    all.host.set(c.host, at);
    all.metrics.set(c.metrics, at * D);
    all.isAnomaly.set(c.isAnomaly, at);
    all.anomalyType.set(c.anomalyType, at);
    all.anomalyEpisode.set(c.anomalyEpisode, at);
    at += c.length;
  }
  expect(at).toBe(n);
  return all;
}

/** Canonical text of the rows (the COPY text layout without dataset_id), for hashing. */
function rowsSha256(data: GeneratedTelemetry): string {
  const hash = createHash('sha256');
  for (const c of data.chunks()) {
    const lines: string[] = [];
    for (let i = 0; i < c.length; i++) {
      const host = data.hosts[c.host[i]!]!;
      const m = Array.from(c.metrics.subarray(i * D, i * D + D), String).join('\t');
      const t = c.anomalyType[i]!;
      lines.push(
        `${c.firstRowId + i}\t${new Date(c.ts[i]!).toISOString()}\t${host.hostId}\t${host.projectId}\t${host.region}\t${m}\t${c.isAnomaly[i] ? 't' : 'f'}\t${t < 0 ? '\\N' : ANOMALY_TYPES[t]}\t${c.anomalyEpisode[i]! < 0 ? '\\N' : c.anomalyEpisode[i]}\n`,
      );
    }
    hash.update(lines.join(''));
  }
  return hash.digest('hex');
}

describe('generateTelemetry: bad input', () => {
  const bad = (params: unknown) => () => generateTelemetry(params as GenerateParamsInput);

  it('names the parameter, the range and the value', () => {
    expect(bad({ hostCount: -1 })).toThrow(ValidationError);
    expect(bad({ hostCount: -1 })).toThrow('hostCount must be an integer in [1, 10000]; got -1');
    expect(bad({ hostCount: 2.5 })).toThrow('hostCount must be an integer in [1, 10000]; got 2.5');
    expect(bad({ intervalS: 0 })).toThrow('intervalS must be an integer in [1, 86400]; got 0');
    expect(bad({ anomalyRate: 0.9 })).toThrow('anomalyRate must be a number in [0, 0.5]; got 0.9');
    expect(bad({ seed: -3 })).toThrow(`seed must be an integer in [0, ${Number.MAX_SAFE_INTEGER}]; got -3`);
    expect(bad({ start: 'yesterday' })).toThrow('start must be an RFC 3339 timestamp');
  });

  it('rejects unknown anomaly types and unknown fields', () => {
    expect(bad({ anomalyTypes: ['spike', 'meteor'] })).toThrow('unknown anomaly type "meteor"');
    expect(bad({ anomalyTypes: { spike: 0 } })).toThrow('got no positive weight');
    expect(bad({ hostcount: 5 })).toThrow('unknown field hostcount');
  });

  it('enforces the total-row limit and duration ≥ interval', () => {
    expect(bad({ hostCount: 10_000, durationS: 366 * 86_400, intervalS: 1 })).toThrow(
      `total rows) must be at most ${GENERATOR_LIMITS.maxTotalRows}`,
    );
    expect(bad({ durationS: 30, intervalS: 60 })).toThrow(
      'durationS must be at least intervalS (60); got 30',
    );
    expect(bad({ start: '2199-12-31T00:00:00Z', durationS: 7 * 86_400 })).toThrow('between 1970');
  });

  it('rejects a bad chunk size', () => {
    expect(() => generateTelemetry({}, { chunkRows: 0 })).toThrow(
      'chunkRows must be an integer in [1, 1000000]; got 0',
    );
  });

  it('speaks snake_case on the wire with the same messages', () => {
    const r = GenerateParamsWireSchema.safeParse({ host_count: 0 });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toBe('host_count must be an integer in [1, 10000]; got 0');
    expect(GenerateParamsWireSchema.safeParse({ hostCount: 3 }).error?.issues[0]?.message).toContain(
      'unknown field hostCount',
    );
  });
});

describe('generateTelemetry: parameters and layout', () => {
  it('works from defaults alone and from {"host_count": 10}', () => {
    const d = generateTelemetry();
    expect(d.totalRows).toBe(10 * 1440);
    expect(d.hosts.map((h) => h.hostId).slice(0, 2)).toEqual(['host-0001', 'host-0002']);
    expect(d.params.start).toBe('2024-01-01T00:00:00.000Z');
    const wire = GenerateParamsWireSchema.parse({ host_count: 10 });
    expect(wire).toEqual(d.params);
    // the wire form round-trips
    expect(GenerateParamsWireSchema.parse(generateParamsToWire(d.params))).toEqual(d.params);
  });

  it('rows are time-major, hosts in id order, timestamps on the interval', () => {
    const d = generateTelemetry({
      hostCount: 7,
      durationS: 3600,
      intervalS: 30,
      start: '2024-05-01T12:00:00+02:00',
    });
    const rows = collect(d);
    const sortedIds = [...d.hosts.map((h) => h.hostId)].sort();
    expect(d.hosts.map((h) => h.hostId)).toEqual(sortedIds);
    for (let i = 0; i < rows.length; i++) {
      expect(rows.host[i]).toBe(i % 7);
      expect(rows.ts[i]).toBe(Date.UTC(2024, 4, 1, 10) + Math.floor(i / 7) * 30_000);
    }
    expect(new Set(d.hosts.map((h) => h.region))).toEqual(
      new Set(['us-east-1', 'eu-west-1', 'ap-southeast-1']),
    );
  });

  it('regions and projects may be counts or lists', () => {
    const d = generateTelemetry({ hostCount: 30, durationS: 600, regions: ['north', 'south'], projects: 12 });
    expect(new Set(d.hosts.map((h) => h.region))).toEqual(new Set(['north', 'south']));
    for (const h of d.hosts) expect(h.projectId).toMatch(/^project-(0[1-9]|1[0-2])$/);
  });

  it('chunk size never changes the rows', () => {
    const params = { hostCount: 9, durationS: 6 * 3600, anomalyRate: 0.1, seed: 5 };
    const a = collect(generateTelemetry(params, { chunkRows: 7 }));
    const b = collect(generateTelemetry(params, { chunkRows: 100_000 }));
    expect(a).toEqual(b);
  });

  it('matches the committed SHA-256 of its rows (determinism)', () => {
    const goldenPath = new URL('../golden/generator-sha256.json', import.meta.url);
    const cases: Record<string, GenerateParamsInput> = {
      mixed: { seed: 7, hostCount: 12, durationS: 6 * 3600, regions: 2, projects: 3, anomalyRate: 0.05 },
      normal: { seed: 42, hostCount: 5, durationS: 86_400, intervalS: 300, anomalyRate: 0 },
    };
    const actual = Object.fromEntries(
      Object.entries(cases).map(([k, p]) => [k, { params: p, sha256: rowsSha256(generateTelemetry(p)) }]),
    );
    if (process.env.TADS_UPDATE_GOLDEN === '1')
      writeFileSync(goldenPath, `${JSON.stringify(actual, null, 2)}\n`);
    const golden = JSON.parse(readFileSync(goldenPath, 'utf8')) as typeof actual;
    expect(actual).toEqual(golden);
    // and a different seed gives different rows
    expect(rowsSha256(generateTelemetry({ ...cases.mixed, seed: 8 }))).not.toBe(actual.mixed!.sha256);
  });
});

describe('generateTelemetry: normal data', () => {
  const d = generateTelemetry({ hostCount: 20, durationS: 86_400, anomalyRate: 0 });
  const rows = collect(d);

  it('has no labels', () => {
    expect(rows.isAnomaly.every((v) => v === 0)).toBe(true);
    expect(rows.anomalyEpisode.every((v) => v === -1)).toBe(true);
    expect(d.episodes()).toEqual([]);
  });

  it('three principal components explain ≥ 95 % of the standardised variance, two do not', () => {
    const fit = referenceFit({ rows: rows.length, cols: D, data: rows.metrics });
    const r = fit.explainedVarianceRatio;
    const cum2 = r[0]! + r[1]!;
    const cum3 = cum2 + r[2]!;
    expect(cum3).toBeGreaterThanOrEqual(0.97); // margin over the 0.95 rule
    expect(cum2).toBeLessThan(0.93); // so the 0.95 rule picks k = 3
  });

  it('every metric is continuous, within its physical limits, and rarely clipped', () => {
    for (let j = 0; j < D; j++) {
      const col = Float64Array.from({ length: rows.length }, (_, i) => rows.metrics[i * D + j]!);
      const distinct = new Set(col).size;
      expect(distinct / rows.length).toBeGreaterThan(0.99);
      let clipped = 0;
      let outside = 0;
      for (const v of col) {
        if (v < GENERATOR_MODEL.lower[j]! || v > GENERATOR_MODEL.upper[j]!) outside++;
        if (v === GENERATOR_MODEL.lower[j] || v === GENERATOR_MODEL.upper[j]) clipped++;
      }
      expect(outside).toBe(0);
      expect(clipped / rows.length).toBeLessThan(0.001);
    }
  });

  it('σ from the model matches each host’s data', () => {
    // a long series of one host: the analytic sd should be within 20 % of the sample sd
    const one = collect(
      generateTelemetry({ hostCount: 1, durationS: 10 * 86_400, intervalS: 300, anomalyRate: 0 }),
    );
    const stats = generateTelemetry({ hostCount: 1 }).hostStats(0);
    for (let j = 0; j < D; j++) {
      let s = 0;
      let s2 = 0;
      for (let i = 0; i < one.length; i++) {
        const v = one.metrics[i * D + j]!;
        s += v;
        s2 += v * v;
      }
      const mean = s / one.length;
      const sd = Math.sqrt(s2 / one.length - mean * mean);
      expect(Math.abs(sd / stats.sd[j]! - 1)).toBeLessThan(0.2);
      expect(Math.abs(mean - stats.mean[j]!)).toBeLessThan(0.5 * stats.sd[j]!);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Anomalies: each type alone, against the same parameters with anomaly rate 0 (the records
// outside episodes must be identical, so the difference on episodes is the injected anomaly)
// ---------------------------------------------------------------------------------------------

interface TypeRun {
  data: GeneratedTelemetry;
  rows: TelemetryChunk;
  normal: TelemetryChunk;
}

function runType(type: (typeof ANOMALY_TYPES)[number]): TypeRun {
  const params = { seed: 3, hostCount: 12, durationS: 2 * 86_400, anomalyRate: 0.05, anomalyTypes: [type] };
  const data = generateTelemetry(params);
  return { data, rows: collect(data), normal: collect(generateTelemetry({ ...params, anomalyRate: 0 })) };
}

const clip = (j: number, x: number) =>
  Math.min(GENERATOR_MODEL.upper[j]!, Math.max(GENERATOR_MODEL.lower[j]!, x));

/** Checks labels and episode ids, and calls `check` for every episode record. */
function checkEpisodes(
  run: TypeRun,
  type: (typeof ANOMALY_TYPES)[number],
  lengths: [number, number],
  metricCounts: [number, number],
  check: (ctx: {
    ep: ReturnType<GeneratedTelemetry['episodes']>[number];
    i: number;
    row: number;
    j: number;
    sigma: number;
    mean: number;
  }) => void,
): void {
  const { data, rows, normal } = run;
  const H = data.params.hostCount;
  const episodes = data.episodes();
  expect(episodes.length).toBeGreaterThan(20);
  const labelled = new Uint8Array(rows.length);
  const badLabels: number[] = [];
  const changedOthers: number[] = [];
  episodes.forEach((ep, k) => {
    expect(ep.id).toBe(k + 1);
    expect(ep.type).toBe(type);
    expect(ep.length).toBeGreaterThanOrEqual(lengths[0]);
    expect(ep.length).toBeLessThanOrEqual(lengths[1]);
    expect(ep.metrics.length).toBeGreaterThanOrEqual(metricCounts[0]);
    expect(ep.metrics.length).toBeLessThanOrEqual(metricCounts[1]);
    const stats = data.hostStats(ep.host);
    for (let i = 0; i < ep.length; i++) {
      const row = (ep.startStep + i) * H + ep.host;
      labelled[row] = 1;
      if (rows.isAnomaly[row] !== 1 || ANOMALY_TYPES[rows.anomalyType[row]!] !== type) badLabels.push(row);
      if (rows.anomalyEpisode[row] !== ep.id) badLabels.push(row);
      for (let j = 0; j < D; j++) {
        if (ep.metrics.includes(j)) {
          check({ ep, i, row, j, sigma: stats.sd[j]!, mean: stats.mean[j]! });
        } else if (rows.metrics[row * D + j] !== normal.metrics[row * D + j]) {
          changedOthers.push(row);
        }
      }
    }
    // the record before an episode (same host) is normal
    const before = (ep.startStep - 1) * H + ep.host;
    expect(rows.isAnomaly[before]).toBe(0);
  });
  expect(badLabels).toEqual([]);
  expect(changedOthers).toEqual([]);
  // labelled on exactly the episodes' records; every other record is the normal one
  const wrong: number[] = [];
  for (let r = 0; r < rows.length; r++) {
    if (labelled[r]) continue;
    if (rows.isAnomaly[r] !== 0 || rows.anomalyType[r] !== -1 || rows.anomalyEpisode[r] !== -1) wrong.push(r);
  }
  expect(wrong).toEqual([]);
  const diff = rows.metrics.findIndex((v, k) => !labelled[Math.floor(k / D)] && v !== normal.metrics[k]);
  expect(diff).toBe(-1);
  // one id per episode, and ids increase in row order
  const firstRows = episodes.map((ep) => ep.startStep * H + ep.host);
  expect([...firstRows].sort((a, b) => a - b)).toEqual(firstRows);
}

describe('anomalies', () => {
  it('spike: 4–8σ added to 1–3 metrics for a 5–10 record episode', () => {
    const run = runType('spike');
    checkEpisodes(run, 'spike', [5, 10], [1, 3], ({ ep, row, j, sigma }) => {
      const size = ep.magnitudes[ep.metrics.indexOf(j)]!;
      expect(size).toBeGreaterThanOrEqual(4);
      expect(size).toBeLessThanOrEqual(8);
      const n = run.normal.metrics[row * D + j]!;
      expect(run.rows.metrics[row * D + j]).toBeCloseTo(clip(j, n + size * sigma), 9);
    });
  });

  it('level_shift: 3–5σ added to 1–3 metrics, held for 5–60 records', () => {
    const run = runType('level_shift');
    checkEpisodes(run, 'level_shift', [5, 60], [1, 3], ({ ep, row, j, sigma }) => {
      const size = ep.magnitudes[ep.metrics.indexOf(j)]!;
      expect(size).toBeGreaterThanOrEqual(3);
      expect(size).toBeLessThanOrEqual(5);
      const n = run.normal.metrics[row * D + j]!;
      expect(run.rows.metrics[row * D + j]).toBeCloseTo(clip(j, n + size * sigma), 9);
    });
  });

  it('drift: one metric ramps linearly to 6σ', () => {
    const run = runType('drift');
    checkEpisodes(run, 'drift', [5, 60], [1, 1], ({ ep, i, row, j, sigma }) => {
      const n = run.normal.metrics[row * D + j]!;
      expect(run.rows.metrics[row * D + j]).toBeCloseTo(clip(j, n + (6 * sigma * (i + 1)) / ep.length), 9);
    });
  });

  it('stuck: one metric frozen at its last normal value', () => {
    const run = runType('stuck');
    const H = run.data.params.hostCount;
    checkEpisodes(run, 'stuck', [5, 60], [1, 1], ({ ep, row, j }) => {
      const before = (ep.startStep - 1) * H + ep.host;
      expect(run.rows.metrics[row * D + j]).toBe(run.normal.metrics[before * D + j]);
    });
  });

  it('noise_burst: the independent noise of 2–4 metrics ×5', () => {
    const run = runType('noise_burst');
    // the extra noise, in units of the metric's noise sd, must look like 4 × N(0, 1)
    const extra: number[] = [];
    checkEpisodes(run, 'noise_burst', [5, 60], [2, 4], ({ ep, row, j }) => {
      expect(ep.magnitudes[ep.metrics.indexOf(j)]).toBe(5);
      const n = run.normal.metrics[row * D + j]!;
      const v = run.rows.metrics[row * D + j]!;
      if (v !== GENERATOR_MODEL.lower[j] && v !== GENERATOR_MODEL.upper[j]) {
        extra.push((v - n) / GENERATOR_MODEL.noiseSd[j]!);
      }
    });
    const mean = extra.reduce((a, b) => a + b, 0) / extra.length;
    const sd = Math.sqrt(extra.reduce((a, b) => a + (b - mean) ** 2, 0) / extra.length);
    expect(extra.length).toBeGreaterThan(500);
    expect(Math.abs(mean)).toBeLessThan(0.3);
    expect(sd).toBeGreaterThan(3.6);
    expect(sd).toBeLessThan(4.4);
  });

  it('correlation_break: one metric follows an independent latent inside its normal range', () => {
    const run = runType('correlation_break');
    const z: number[] = [];
    const zNormal: number[] = [];
    checkEpisodes(run, 'correlation_break', [5, 60], [1, 1], ({ row, j, sigma, mean }) => {
      const v = run.rows.metrics[row * D + j]!;
      const r = GENERATOR_MODEL.normalRangeSigma;
      expect(v).toBeGreaterThanOrEqual(Math.max(GENERATOR_MODEL.lower[j]!, mean - r * sigma) - 1e-9);
      expect(v).toBeLessThanOrEqual(Math.min(GENERATOR_MODEL.upper[j]!, mean + r * sigma) + 1e-9);
      z.push((v - mean) / sigma);
      zNormal.push((run.normal.metrics[row * D + j]! - mean) / sigma);
    });
    // same mean and spread (about 0 and 1 in σ units), unrelated to what the metric would have been
    const m = z.reduce((a, b) => a + b, 0) / z.length;
    const sd = Math.sqrt(z.reduce((a, b) => a + (b - m) ** 2, 0) / z.length);
    expect(Math.abs(m)).toBeLessThan(0.35);
    expect(sd).toBeGreaterThan(0.6);
    expect(sd).toBeLessThan(1.4);
    const mn = zNormal.reduce((a, b) => a + b, 0) / zNormal.length;
    let cov = 0;
    let vn = 0;
    for (let k = 0; k < z.length; k++) {
      cov += (z[k]! - m) * (zNormal[k]! - mn);
      vn += (zNormal[k]! - mn) ** 2;
    }
    const corr = cov / Math.sqrt(vn * sd * sd * z.length);
    expect(Math.abs(corr)).toBeLessThan(0.3);
  });

  it('the default mix has every type, about 2 % of records, in 5–60 record episodes', () => {
    const data = generateTelemetry({ seed: 1, hostCount: 50, durationS: 2 * 86_400 });
    const episodes = data.episodes();
    expect(new Set(episodes.map((e) => e.type))).toEqual(new Set(ANOMALY_TYPES));
    const anomalous = episodes.reduce((s, e) => s + e.length, 0);
    expect(anomalous / data.totalRows).toBeGreaterThan(0.015);
    expect(anomalous / data.totalRows).toBeLessThan(0.025);
    let labelled = 0;
    for (const c of data.chunks()) for (const v of c.isAnomaly) labelled += v;
    expect(labelled).toBe(anomalous);
    for (const e of episodes) {
      expect(e.length).toBeGreaterThanOrEqual(5);
      expect(e.length).toBeLessThanOrEqual(60);
    }
  });

  it('weights shape the mix', () => {
    const data = generateTelemetry({
      seed: 2,
      hostCount: 50,
      durationS: 2 * 86_400,
      anomalyTypes: { spike: 3, stuck: 1 },
    });
    const counts = new Map<string, number>();
    for (const e of data.episodes()) counts.set(e.type, (counts.get(e.type) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual(['spike', 'stuck']);
    expect(counts.get('spike')! / counts.get('stuck')!).toBeGreaterThan(2);
  });
});

describe('liveTelemetry', () => {
  it('rejects a bad shard', () => {
    expect(() => liveTelemetry({}, { shard: { index: 4, count: 4 } })).toThrow(
      'shard.index must be an integer in [0, 3]; got 4',
    );
    expect(() => liveTelemetry({}, { shard: { index: 0, count: 0 } })).toThrow(
      'shard.count must be an integer',
    );
  });

  it('streams one step at a time on the interval; shards split the fleet and keep each host’s rows', () => {
    const params = { hostCount: 20, intervalS: 10, anomalyRate: 0.2 };
    const startMs = Date.UTC(2025, 0, 1);
    const whole = liveTelemetry(params, { startMs });
    const parts = [0, 1, 2].map((index) => liveTelemetry(params, { startMs, shard: { index, count: 3 } }));
    const owned = parts.flatMap((p) => p.hostIndices).sort((a, b) => a - b);
    expect(owned).toEqual(whole.hostIndices);
    for (const [index, p] of parts.entries()) {
      for (const h of p.hostIndices) expect(ownsHost(whole.hosts[h]!.hostId, index, 3)).toBe(true);
    }
    for (let step = 0; step < 200; step++) {
      const w = whole.nextStep();
      expect(w.length).toBe(20);
      expect(w.ts.every((t) => t === startMs + step * 10_000)).toBe(true);
      for (const p of parts) {
        const c = p.nextStep();
        for (let i = 0; i < c.length; i++) {
          const h = c.host[i]!;
          expect(Array.from(c.metrics.subarray(i * D, i * D + D))).toEqual(
            Array.from(w.metrics.subarray(h * D, h * D + D)),
          );
          expect(c.anomalyEpisode[i]).toBe(w.anomalyEpisode[h]);
        }
      }
    }
  });
});
