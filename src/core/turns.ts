/**
 * Turns per key: work that must not overlap with other work on the same key (checkouts of
 * several pool connections at once, say) waits for the work before it, in arrival order. A turn
 * that fails does not stop the ones after it. Keys are held weakly.
 */
export class Turns<K extends object> {
  readonly #last = new WeakMap<K, Promise<unknown>>();

  /**
   * Runs `fn` once every turn taken before on `key` has settled.
   *
   * @returns what `fn` returns (or throws)
   */
  run<T>(key: K, fn: () => Promise<T>): Promise<T> {
    const turn = (this.#last.get(key) ?? Promise.resolve()).then(fn);
    const settled = turn.then(
      () => {},
      () => {},
    );
    this.#last.set(key, settled);
    void settled.then(() => {
      if (this.#last.get(key) === settled) this.#last.delete(key);
    });
    return turn;
  }
}
