/**
 * Golden parity: the committed fixture (scripts/make-pca-fixture.mjs: 6,000 × 8, mulberry32 seed
 * 20240601, ~1 % outlier rows), its committed model.json and per-record scores. Refitting and
 * rescoring must reproduce them to 1e-9 relative.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fitPca, PcaModel, scoreBatch, type Matrix, type ModelJson } from '../../src/index.js';
import { FIXTURE_FIT_OPTIONS, generatePcaFixture } from '../../scripts/make-pca-fixture.mjs';

const REL = 1e-9;
const fixtureUrl = new URL('../fixtures/pca-telemetry-6000x8.csv', import.meta.url);
const modelUrl = new URL('./pca-telemetry.model.json', import.meta.url);
const scoresUrl = new URL('./pca-telemetry.scores.csv', import.meta.url);

function readMatrix(): Matrix {
  const lines = readFileSync(fixtureUrl, 'utf8').trim().split('\n').slice(1);
  const data = new Float64Array(lines.length * 8);
  lines.forEach((line, i) => line.split(',').forEach((v, j) => (data[i * 8 + j] = Number(v))));
  return { rows: lines.length, cols: 8, data };
}

function close(actual: number, expected: number, what: string): void {
  const tol = REL * Math.max(Math.abs(expected), 1e-300);
  if (!(Math.abs(actual - expected) <= tol)) {
    throw new Error(`${what}: expected ${expected}, got ${actual} (relative tolerance ${REL})`);
  }
}

// Compares every number of two JSON values (same structure) to REL.
function compareDeep(actual: unknown, expected: unknown, path: string): void {
  if (typeof expected === 'number') {
    expect(typeof actual, path).toBe('number');
    close(actual as number, expected, path);
  } else if (Array.isArray(expected)) {
    expect(Array.isArray(actual), path).toBe(true);
    expect((actual as unknown[]).length, `${path}.length`).toBe(expected.length);
    expected.forEach((e, i) => compareDeep((actual as unknown[])[i], e, `${path}[${i}]`));
  } else if (expected !== null && typeof expected === 'object') {
    expect(Object.keys(actual as object).sort(), path).toEqual(Object.keys(expected).sort());
    for (const [k, v] of Object.entries(expected)) compareDeep((actual as Record<string, unknown>)[k], v, `${path}.${k}`);
  } else {
    expect(actual, path).toEqual(expected);
  }
}

describe('PCA golden parity', () => {
  const m = readMatrix();
  const golden = JSON.parse(readFileSync(modelUrl, 'utf8')) as ModelJson;
  const scores = readFileSync(scoresUrl, 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(',').map(Number));

  it('the committed matrix is what the committed generator produces', () => {
    const g = generatePcaFixture();
    expect(m.rows).toBe(g.rows);
    expect(m.rows).toBeGreaterThanOrEqual(5000);
    expect(Buffer.from(m.data.buffer).equals(Buffer.from(g.data.buffer))).toBe(true);
    expect(g.outlierRows.length).toBeGreaterThan(20);
  });

  it('refitting reproduces model.json', () => {
    const model = fitPca(m, FIXTURE_FIT_OPTIONS);
    compareDeep(model.toJSON(), golden, 'model');
  });

  it('rescoring with the committed model reproduces every record', () => {
    const model = PcaModel.fromJSON(golden);
    const out = scoreBatch(model, m);
    expect(out.invalidCount).toBe(0);
    expect(scores.length).toBe(m.rows);
    for (let i = 0; i < m.rows; i++) {
      const [fused, spe, t2, zMax, top, anomalous] = scores[i]!;
      close(out.fused[i]!, fused!, `fused[${i}]`);
      close(out.spe[i]!, spe!, `spe[${i}]`);
      close(out.t2[i]!, t2!, `t2[${i}]`);
      close(out.zMax[i]!, zMax!, `zMax[${i}]`);
      expect(out.topMetric[i], `topMetric[${i}]`).toBe(top);
      expect(out.anomalous[i], `anomalous[${i}]`).toBe(anomalous);
    }
  });

  it('the outliers stand out: most injected outlier rows are flagged, few others', () => {
    const { outlierRows } = generatePcaFixture();
    const flagged = new Set(scores.flatMap((s, i) => (s[5] === 1 ? [i] : [])));
    const hit = outlierRows.filter((i) => flagged.has(i)).length;
    expect(hit / outlierRows.length).toBeGreaterThan(0.8);
    expect(flagged.size - hit).toBeLessThan(10);
  });
});
