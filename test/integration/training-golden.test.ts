/**
 * Golden parity of training from PostgreSQL: the dataset of test/golden/training-dataset.json
 * (fixed generation parameters and seed — the generator is deterministic, so the parameters pin
 * the rows) is generated into PostgreSQL and trained with the options recorded there; the model
 * must match the committed test/golden/training-model.json to 1e-9 relative, `dataset_id` and
 * `trained_at` aside.
 *
 * Regenerate the golden model only on purpose (a deliberate change of the generator or of the
 * maths), and say why in the commit:
 *
 *   TADS_UPDATE_GOLDEN=training npx vitest run test/integration/training-golden.test.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { GenerateParamsWireSchema, generateParamsToWire } from '../../src/contract/generator.js';
import { parseGenerateParams } from '../../src/core/generator.js';
import { PcaModel, type ModelJson } from '../../src/core/pca.js';
import type { Pool } from '../../src/db/pool.js';
import { generateDataset } from '../../src/generator/ingest.js';
import { trainModel } from '../../src/jobs/training.js';
import { createMigratedDatabase } from '../helpers/db.js';

const REL = 1e-9;
const datasetFile = fileURLToPath(new URL('../golden/training-dataset.json', import.meta.url));
const modelFile = fileURLToPath(new URL('../golden/training-model.json', import.meta.url));
const UPDATE = process.env.TADS_UPDATE_GOLDEN === 'training';

/** What the golden dataset file holds: the generation parameters (wire form) and the training options. */
const GoldenDataset = z.strictObject({
  note: z.string(),
  generation: z.record(z.string(), z.unknown()),
  training: z.strictObject({
    variance: z.number().optional(),
    n_components: z.number().int().optional(),
    exclude_labelled_anomalies: z.boolean(),
  }),
});

let pool: Pool;

beforeAll(async () => {
  ({ pool } = await createMigratedDatabase());
});

afterAll(async () => {
  await pool.end();
});

/** Every number of `actual` within REL of `expected`, same structure. */
function compareDeep(actual: unknown, expected: unknown, path: string): void {
  if (typeof expected === 'number') {
    expect(typeof actual, path).toBe('number');
    const tol = REL * Math.max(Math.abs(expected), 1e-300);
    expect(
      Math.abs((actual as number) - expected) <= tol,
      `${path}: expected ${expected}, got ${String(actual)}`,
    ).toBe(true);
  } else if (Array.isArray(expected)) {
    expect(Array.isArray(actual), path).toBe(true);
    expect((actual as unknown[]).length, `${path}.length`).toBe(expected.length);
    expected.forEach((e, i) => compareDeep((actual as unknown[])[i], e, `${path}[${i}]`));
  } else if (expected !== null && typeof expected === 'object') {
    expect(Object.keys(actual as object).sort(), path).toEqual(Object.keys(expected).sort());
    for (const [k, v] of Object.entries(expected))
      compareDeep((actual as Record<string, unknown>)[k], v, `${path}.${k}`);
  } else {
    expect(actual, path).toEqual(expected);
  }
}

describe('training golden', () => {
  it('trains the committed dataset into the committed model.json (1e-9 relative)', async () => {
    const golden = GoldenDataset.parse(JSON.parse(readFileSync(datasetFile, 'utf8')));
    // The file holds the wire form (snake_case, fully defaulted); the library takes camelCase.
    const params = parseGenerateParams(GenerateParamsWireSchema.parse(golden.generation));
    expect(generateParamsToWire(params)).toEqual(golden.generation);

    // Generate into PostgreSQL and train
    const { datasetId } = await generateDataset(pool, params, { owner: 'golden' });
    const res = await trainModel(pool, {
      datasetId,
      options: { variance: golden.training.variance, nComponents: golden.training.n_components },
      excludeLabelledAnomalies: golden.training.exclude_labelled_anomalies,
      owner: 'golden',
    });
    const { dataset_id: _d, trained_at: _t, params: trainedParams, ...actual } = res.model.toJSON();

    if (UPDATE) {
      const doc: ModelJson = {
        ...res.model.toJSON(),
        dataset_id: null,
        trained_at: '2024-01-01T00:00:00.000Z',
      };
      writeFileSync(modelFile, `${JSON.stringify(doc, null, 2)}\n`);
    }

    // Compare
    const expectedDoc = PcaModel.fromJSON(JSON.parse(readFileSync(modelFile, 'utf8'))).toJSON();
    const { dataset_id: _e, trained_at: _f, params: expectedParams, ...expected } = expectedDoc;
    compareDeep(actual, expected, '$');
    // The recorded parameters match but for the dataset's id.
    expect({ ...trainedParams, dataset_id: null }).toEqual({ ...expectedParams, dataset_id: null });
    expect(actual.n_components).toBe(3);
  });
});
