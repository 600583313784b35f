/**
 * Where the scorers get their models: a completed model of the database by id, or a `model.json`
 * file (the artifact a training writes, `artifacts/pca/default/model.json` by default).
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Id } from '../contract/common.js';
import { ConflictError, NotFoundError, ValidationError } from '../core/errors.js';
import { PcaModel } from '../core/pca.js';
import { findCompletedModelId, getModel } from '../db/models.js';
import type { Queryable } from '../db/pool.js';

/** The default model file of `tads scorer`. */
export const DEFAULT_MODEL_FILE = 'artifacts/pca/default/model.json';

/** A model ready to score, with the id it is stored under. */
export interface LoadedModel {
  id: string;
  model: PcaModel;
}

/**
 * A completed model of the database, parsed.
 *
 * @param db - pool or client
 * @param id - the model's id (uuid)
 * @throws NotFoundError for an unknown id; ConflictError for a model that is not completed
 *   (pending, running or failed); TypeError/RangeError when the stored document is malformed
 */
export async function loadCompletedModel(db: Queryable, id: string): Promise<PcaModel> {
  const row = await getModel(db, id);
  if (row === null) throw new NotFoundError('model', id);
  if (row.status !== 'completed' || row.model === null) {
    throw new ConflictError(`model ${id} is ${row.status}; only a completed model can score`, {
      id,
      status: row.status,
    });
  }
  return PcaModel.fromJSON(row.model);
}

/**
 * Reads and validates a `model.json` file.
 *
 * @param path - the file's path
 * @throws ValidationError when the file cannot be read, is not JSON or is not a valid model
 */
export async function loadModelFile(path: string): Promise<PcaModel> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ValidationError(`model file ${path} cannot be read (${reason}); expected a model.json`, [
      { path: 'model', message: `cannot read ${path}` },
    ]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ValidationError(`model file ${path} is not JSON: ${(err as Error).message}`, [
      { path: 'model', message: 'not JSON' },
    ]);
  }
  try {
    return PcaModel.fromJSON(json);
  } catch (err) {
    throw new ValidationError(`model file ${path} is not a valid model.json: ${(err as Error).message}`, [
      { path: 'model', message: (err as Error).message },
    ]);
  }
}

/**
 * The id of the stored completed model a file holds: the one whose artifact is this file, else
 * the one whose stored document equals the file's (a copied artifact), newest first.
 *
 * @param db - pool or client
 * @param path - the file's path (resolved against the working directory)
 * @param model - the file's model
 * @returns the id, or null when no completed model matches
 */
export async function findStoredModelId(
  db: Queryable,
  path: string,
  model: PcaModel,
): Promise<string | null> {
  return findCompletedModelId(db, resolve(path), model.toJSON());
}

/**
 * The model `tads scorer --model` names: a uuid is a stored model's id, anything else a file
 * that must hold a stored model (alerts name their model).
 *
 * @param db - pool or client
 * @param idOrFile - a model id or a path to a model.json (default {@link DEFAULT_MODEL_FILE})
 * @throws NotFoundError / ConflictError as {@link loadCompletedModel}; ValidationError for a bad
 *   file or a file whose model is not stored
 */
export async function resolveScorerModel(
  db: Queryable,
  idOrFile: string = DEFAULT_MODEL_FILE,
): Promise<LoadedModel> {
  const given = Id.safeParse(idOrFile);
  if (given.success) return { id: given.data, model: await loadCompletedModel(db, given.data) };
  const model = await loadModelFile(idOrFile);
  const id = await findStoredModelId(db, idOrFile, model);
  if (id === null) {
    throw new ValidationError(
      `model file ${idOrFile} holds no stored model; expected the artifact of a completed training (tads train) or pass --model <model id>`,
      [{ path: 'model', message: 'not a stored model' }],
    );
  }
  return { id, model };
}
