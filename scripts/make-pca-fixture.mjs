// Writes the PCA golden fixture: a deterministic telemetry-like matrix (6,000 rows × 8 metrics,
// three latent factors plus small independent noise, about 1 % of rows with injected outliers),
// the model fitted to it and every record's scores.
//
//   npm run build && node scripts/make-pca-fixture.mjs
//
// Outputs test/fixtures/pca-telemetry-6000x8.csv, test/golden/pca-telemetry.model.json and
// test/golden/pca-telemetry.scores.csv. The generator is exported for the golden test, which
// checks that the committed matrix is exactly what this script generates; its PRNG (mulberry32)
// also serves the tests that want a small seeded random source.
//
// PRNG: mulberry32 (32-bit state, seed 20240601), uniforms u = next() / 2^32, normals by
// Box–Muller from two uniforms (the cosine branch only). Values are rounded to 6 decimals, so the
// CSV holds them exactly as generated.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURE_ROWS = 6000;
export const FIXTURE_COLS = 8;
export const FIXTURE_SEED = 20240601;
/** Options the golden model is fitted with. */
export const FIXTURE_FIT_OPTIONS = { variance: 0.95, trainedAt: '2024-06-01T00:00:00.000Z', datasetId: null };

/** mulberry32: returns a function giving uniforms in [0, 1). */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The fixture matrix: { rows, cols, data: Float64Array, outlierRows: number[] }. */
export function generatePcaFixture() {
  const uniform = mulberry32(FIXTURE_SEED);
  const normal = () => {
    const u1 = 1 - uniform(); // (0, 1]
    const u2 = uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  };
  // Loadings of the eight metrics on three latent factors (load, memory, network), and baselines.
  const loadings = [
    [12, 2, 1],
    [2, 9, 0.5],
    [3, 1, 4],
    [1, 0.5, 20],
    [1, 0.5, 15],
    [0.8, 0.1, 0.2],
    [6, 2, 5],
    [0.05, 0.01, 0.02],
  ];
  const base = [45, 60, 30, 120, 90, 2.5, 40, 0.2];
  const noise = [1, 1, 0.8, 2, 2, 0.05, 1.2, 0.004];
  const rows = FIXTURE_ROWS;
  const cols = FIXTURE_COLS;
  const data = new Float64Array(rows * cols);
  const outlierRows = [];
  let f = [0, 0, 0];
  for (let i = 0; i < rows; i++) {
    // AR(1) latent factors with a daily-like cycle.
    const phase = (2 * Math.PI * i) / 1440;
    f = f.map((v, c) => 0.9 * v + 0.45 * normal() + 0.08 * Math.sin(phase + c));
    for (let j = 0; j < cols; j++) {
      const l = loadings[j];
      data[i * cols + j] = base[j] + l[0] * f[0] + l[1] * f[1] + l[2] * f[2] + noise[j] * normal();
    }
    // About 1 % of rows: 1–2 metrics pushed by ±(80–150) × that metric's noise σ.
    if (uniform() < 0.01) {
      outlierRows.push(i);
      const count = uniform() < 0.5 ? 1 : 2;
      for (let c = 0; c < count; c++) {
        const j = Math.floor(uniform() * cols);
        const sign = uniform() < 0.5 ? -1 : 1;
        data[i * cols + j] += sign * (8 + 7 * uniform()) * noise[j] * 10;
      }
    }
    for (let j = 0; j < cols; j++) data[i * cols + j] = Math.round(data[i * cols + j] * 1e6) / 1e6;
  }
  return { rows, cols, data, outlierRows };
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const { fitPca, scoreBatch, METRICS } = await import(join(root, 'dist/src/index.js'));
  const m = generatePcaFixture();
  const lines = [METRICS.join(',')];
  for (let i = 0; i < m.rows; i++)
    lines.push(Array.from(m.data.subarray(i * 8, i * 8 + 8), String).join(','));
  mkdirSync(join(root, 'test/fixtures'), { recursive: true });
  mkdirSync(join(root, 'test/golden'), { recursive: true });
  writeFileSync(join(root, 'test/fixtures/pca-telemetry-6000x8.csv'), lines.join('\n') + '\n');
  const model = fitPca(m, FIXTURE_FIT_OPTIONS);
  writeFileSync(
    join(root, 'test/golden/pca-telemetry.model.json'),
    JSON.stringify(model.toJSON(), null, 2) + '\n',
  );
  const out = scoreBatch(model, m);
  const rows = ['fused,spe,t2,z_max,top_metric,anomalous'];
  for (let i = 0; i < m.rows; i++) {
    rows.push(
      [out.fused[i], out.spe[i], out.t2[i], out.zMax[i], out.topMetric[i], out.anomalous[i]]
        .map(String)
        .join(','),
    );
  }
  writeFileSync(join(root, 'test/golden/pca-telemetry.scores.csv'), rows.join('\n') + '\n');
  console.log(
    `wrote ${m.rows} rows (${m.outlierRows.length} with outliers), k = ${model.nComponents}, ${out.anomalous.reduce((a, b) => a + b, 0)} flagged`,
  );
}
