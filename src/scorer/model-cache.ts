/**
 * A cache of parsed models keyed by model id. A completed model never changes (a new training is
 * a new model), so a parsed `PcaModel` can be kept for as long as the process lives; the cache
 * only bounds how many are kept (least recently used goes first) and forgets a model on request
 * (a deleted model). Concurrent requests for a model not yet loaded share one load.
 */
import type { PcaModel } from '../core/pca.js';

/** Options of {@link ModelCache}. */
export interface ModelCacheOptions {
  /** Most models kept at once, an integer ≥ 1 (default 32). */
  maxEntries?: number;
}

/**
 * Parsed models by id, loaded on first use.
 *
 * @example
 * const cache = new ModelCache((id) => loadCompletedModel(pool, id));
 * const model = await cache.get(modelId);
 */
export class ModelCache {
  readonly #load: (id: string) => Promise<PcaModel>;
  readonly #maxEntries: number;
  // Map iteration order is insertion order: re-inserting on use makes the first key the LRU one.
  readonly #entries = new Map<string, Promise<PcaModel>>();

  /**
   * @param load - loads and parses one model; a rejection is passed to the caller and not cached
   * @param options - see {@link ModelCacheOptions}
   * @throws TypeError when `load` is not a function; RangeError when maxEntries is out of range
   */
  constructor(load: (id: string) => Promise<PcaModel>, options: ModelCacheOptions = {}) {
    if (typeof load !== 'function') throw new TypeError(`load must be a function; got ${typeof load}`);
    const maxEntries = options.maxEntries ?? 32;
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError(`maxEntries must be an integer ≥ 1; got ${String(maxEntries)}`);
    }
    this.#load = load;
    this.#maxEntries = maxEntries;
  }

  /** Models currently held (loaded or loading). */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * The model of an id, loading it on first use.
   *
   * @throws whatever `load` throws (e.g. NotFoundError, ConflictError); a failed load is retried
   *   on the next call
   */
  get(id: string): Promise<PcaModel> {
    const held = this.#entries.get(id);
    if (held !== undefined) {
      this.#entries.delete(id);
      this.#entries.set(id, held);
      return held;
    }
    const loading = this.#load(id);
    this.#entries.set(id, loading);
    // Forget failures, so that a model completed later (or a database back up) loads next time.
    loading.catch(() => {
      if (this.#entries.get(id) === loading) this.#entries.delete(id);
    });
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
    return loading;
  }

  /** Forgets a model (after it was deleted). */
  evict(id: string): void {
    this.#entries.delete(id);
  }
}
