/**
 * Set-up that benchmarks and tests share: generated telemetry as one training matrix or as the
 * records a client sends, and a model stored in the database as a finished training leaves it,
 * without training one there. Tests import these as well; nothing here may import test code, as
 * the benchmarks are built on their own.
 */
import { GENERATOR_METRIC_SET } from '../../src/contract/vocabulary.js';
import { randomUUID } from 'node:crypto';
import type { GenerateParamsInput } from '../../src/contract/generator.js';
import { generateTelemetry } from '../../src/core/generator.js';
import type { PcaModel } from '../../src/core/pca.js';
import { METRICS, type Matrix } from '../../src/core/types.js';
import { createDataset } from '../../src/db/datasets.js';
import { createModel, markModelCompleted, markModelRunning } from '../../src/db/models.js';
import type { Pool } from '../../src/db/pool.js';

/**
 * Every row the generator makes for these parameters, in its order, as one matrix with the
 * metrics as columns (in METRICS order): what a training on the same rows reads.
 *
 * @param excludeAnomalies - leave out the rows labelled anomalous
 */
export function generatedMatrix(input: GenerateParamsInput, { excludeAnomalies = false } = {}): Matrix {
  const d = METRICS.length;
  const telemetry = generateTelemetry(input);
  const data = new Float64Array(telemetry.totalRows * d);
  let rows = 0;
  for (const c of telemetry.chunks()) {
    for (let i = 0; i < c.length; i++) {
      if (excludeAnomalies && c.isAnomaly[i]) continue;
      data.set(c.metrics.subarray(i * d, (i + 1) * d), rows * d);
      rows++;
    }
  }
  return { rows, cols: d, data: rows === telemetry.totalRows ? data : data.slice(0, rows * d) };
}

/**
 * The first `count` records the generator makes for these parameters, in its order, as a client
 * sends them to `POST /inference`: `host_id`, `ts` (RFC 3339) and the metrics by name.
 */
export function wireRecords(input: GenerateParamsInput, count: number): Record<string, unknown>[] {
  const telemetry = generateTelemetry(input);
  const out: Record<string, unknown>[] = [];
  for (const c of telemetry.chunks()) {
    for (let i = 0; i < c.length && out.length < count; i++) {
      const rec: Record<string, unknown> = {
        host_id: telemetry.hosts[c.host[i]!]!.hostId,
        ts: new Date(c.ts[i]!).toISOString(),
      };
      METRICS.forEach((m, j) => (rec[m] = c.metrics[i * METRICS.length + j]));
      out.push(rec);
    }
    if (out.length === count) break;
  }
  return out;
}

/**
 * Stores `model` as a completed model, as a finished training records it (no artifact, zero
 * timings), on a placeholder dataset row that holds no telemetry; with null, the model row is
 * left pending, as a training not yet started.
 *
 * @param owner - the lease holder the rows are written as
 * @returns the model's id
 */
export async function storeModel(pool: Pool, model: PcaModel | null, owner: string): Promise<string> {
  const dataset = {
    id: randomUUID(),
    name: 'fixture',
    params: {},
    rowsTotal: 0,
    hostCount: 1,
    owner,
    ...GENERATOR_METRIC_SET,
  };
  await createDataset(pool, dataset);
  const id = randomUUID();
  await createModel(pool, { id, name: 'fixture', datasetId: dataset.id, params: {}, owner });
  if (model === null) return id;
  await markModelRunning(pool, id, owner);
  await markModelCompleted(pool, id, owner, {
    model: model.toJSON(),
    artifactPath: null,
    nSamples: model.nSamples,
    timings: {
      momentsS: 0,
      robustS: 0,
      limitsS: 0,
      artifactWriteS: 0,
      totalS: 0,
      passes: 1,
      rowsPerS: 0,
      peakRssMb: 0,
    },
  });
  return id;
}
