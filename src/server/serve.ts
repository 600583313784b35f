/**
 * What `tads serve` runs: the whole system ({@link startSystem}) and, when asked, a live fleet
 * scored as it streams ({@link startLive}).
 *
 * Shutdown goes in order so nothing is lost: the live scorer finishes the batch in hand and saves
 * its alerts (its open alerts resume at the next start); running jobs stop at their next chunk
 * and release their leases (they resume at the next start, here or on another server); trainings
 * under way stop and are marked failed ("interrupted", to be started again); then the rest of the
 * system stops (API, event listener, generator, reaper, pool, embedded database).
 */
import type { Logger } from '../api/deps.js';
import type { Config } from '../config/env.js';
import { startLive, type LiveOptions } from './live.js';
import { startSystem, type System } from './system.js';

/** Options of {@link startServer}. */
export interface ServerOptions {
  config: Config;
  log: Logger;
  /** Run a live fleet and its scorer (default: none). */
  live?: Omit<LiveOptions, 'system' | 'log'>;
}

/** A running server. */
export interface Server {
  readonly system: System;
  /** Stops everything, in the order of the module comment. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts the system, then the live fleet when asked.
 *
 * @throws as {@link startSystem}
 */
export async function startServer(options: ServerOptions): Promise<Server> {
  const { log } = options;
  const system = await startSystem({ config: options.config, log });
  const live = options.live ? startLive({ ...options.live, system, log }) : undefined;
  let closing: Promise<void> | undefined;
  return {
    system,
    close() {
      closing ??= (async () => {
        await live?.stop();
        await Promise.all([system.jobs.stop(), system.trainer.stop()]);
        await system.close();
      })();
      return closing;
    },
  };
}
