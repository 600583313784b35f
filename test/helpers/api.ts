/**
 * Waiting on TADS's API in tests: polling until a condition holds, and a dataset generated through
 * the API with a model trained on it, both finished.
 *
 * @example
 * const { model } = await trainedModel(srv.client, { host_count: 4, duration_s: 7200 });
 * const alerts = await until(() => srv.client.listAlerts(), (page) => page.items.length > 0);
 */
import type { TadsClient } from '../../src/client/index.js';
import type { CreateDatasetRequest, Dataset } from '../../src/contract/datasets.js';
import type { ModelWire } from '../../src/contract/models.js';

/**
 * Calls `get` every `intervalMs` until `done` holds for what it returns, and returns that (the
 * test's own timeout bounds the wait).
 */
export async function until<T>(get: () => Promise<T>, done: (v: T) => boolean, intervalMs = 100): Promise<T> {
  for (;;) {
    const v = await get();
    if (done(v)) return v;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Generates a dataset through the API and trains a model on it with the default options, waiting
 * for both to finish.
 *
 * @returns the completed dataset and model
 * @throws Error when the generation or the training fails
 */
export async function trainedModel(
  client: TadsClient,
  dataset: CreateDatasetRequest,
): Promise<{ dataset: Dataset; model: ModelWire }> {
  const created = await client.createDataset(dataset);
  const generated = await until(
    () => client.getDataset(created.id),
    (d) => d.status === 'completed' || d.status === 'failed',
  );
  if (generated.status === 'failed') throw new Error(`dataset ${created.id} failed: ${generated.error}`);
  const { id } = await client.train({ dataset_id: created.id });
  const model = await until(
    () => client.getModel(id),
    (m) => m.status === 'completed' || m.status === 'failed',
  );
  if (model.status === 'failed') throw new Error(`model ${id} failed: ${model.error}`);
  return { dataset: generated, model };
}
