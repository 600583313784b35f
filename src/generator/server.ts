/**
 * The generator's gRPC server (port 50051): `Generate` creates a dataset in PostgreSQL and
 * streams its progress; `StreamTelemetry` streams live telemetry at a given rate, optionally one
 * shard's hosts; and the standard `grpc.health.v1.Health` service. Domain errors map to gRPC
 * codes here: bad input → INVALID_ARGUMENT, database down → UNAVAILABLE, lost lease →
 * ABORTED; the code travels in the `tads-error-code` trailer too.
 */
import * as grpc from '@grpc/grpc-js';
import type pg from 'pg';
import { z } from 'zod';
import { GenerateParamsWireSchema, type GenerateParams } from '../contract/generator.js';
import { isTadsError, ValidationError, type ErrorCode } from '../core/errors.js';
import { liveTelemetry } from '../core/generator.js';
import { ANOMALY_TYPES, METRICS } from '../core/types.js';
import { toDatabaseError } from '../db/errors.js';
import { pingDatabase } from '../db/pool.js';
import { computeDatasetStats } from '../jobs/analytics.js';
import { ingestDataset, recordDataset } from './ingest.js';
import {
  GENERATOR_SERVICE_NAME,
  GenerateRequestMessageSchema,
  HealthRequestSchema,
  loadServices,
  paramsMessageToWire,
  StreamRequestMessageSchema,
  type HealthStatus,
  type ParamsMessage,
} from './proto.js';

/** Options of {@link startGeneratorServer}. */
export interface GeneratorServerOptions {
  /** The database datasets are generated into. */
  pool: pg.Pool;
  /** Port to listen on (50051 by default in TADS; 0 picks a free one, for tests). */
  port: number;
  /** Address to bind (default `127.0.0.1`; `0.0.0.0` to serve other machines). */
  host?: string;
  /** This server process's lease owner id (see src/db/leases.ts). */
  owner: string;
  /** Test hook passed to every ingest: fail after this many rows (see ingestDataset). */
  failAfterRows?: number;
  /** Minimum time between progress messages, ms (default 500). */
  progressIntervalMs?: number;
}

/** A running generator server. */
export interface GeneratorServer {
  /** The port actually bound. */
  port: number;
  /**
   * Stops the server: no new calls, live streams end, running generations are interrupted (their
   * datasets are marked failed) and awaited.
   */
  close(): Promise<void>;
}

const STATUS_BY_CODE: Record<ErrorCode, grpc.status> = {
  invalid_input: grpc.status.INVALID_ARGUMENT,
  forbidden: grpc.status.PERMISSION_DENIED,
  not_found: grpc.status.NOT_FOUND,
  conflict: grpc.status.ABORTED,
  payload_too_large: grpc.status.RESOURCE_EXHAUSTED,
  unsupported_media_type: grpc.status.INVALID_ARGUMENT,
  misdirected_request: grpc.status.FAILED_PRECONDITION,
  database_unavailable: grpc.status.UNAVAILABLE,
  service_unavailable: grpc.status.UNAVAILABLE,
  internal: grpc.status.INTERNAL,
};

/** A gRPC error for a domain error (or anything else, as INTERNAL). */
function toServiceError(err: unknown): Partial<grpc.StatusObject> {
  const e = toDatabaseError(err);
  const code: ErrorCode = isTadsError(e) ? e.code : 'internal';
  const metadata = new grpc.Metadata();
  metadata.set('tads-error-code', code);
  const details = e instanceof Error ? e.message : String(e);
  return { code: STATUS_BY_CODE[code], details, metadata };
}

/** Parses a decoded params message into GenerateParams, or throws a ValidationError. */
function parseParams(message: ParamsMessage | undefined): GenerateParams {
  const conv = paramsMessageToWire(message ?? {});
  if (!conv.ok) throw new ValidationError(conv.message, [{ path: 'params', message: conv.message }]);
  const res = GenerateParamsWireSchema.safeParse(conv.wire);
  if (res.success) return res.data;
  const issues = res.error.issues.map((i) => ({
    path: i.path.map(String).join('.') || 'params',
    message: i.message,
  }));
  throw new ValidationError(issues.map((i) => i.message).join('; '), issues);
}

/** Parses a decoded request, turning zod's complaint into a ValidationError. */
function parseRequest<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const res = schema.safeParse(value);
  if (res.success) return res.data;
  const issues = res.error.issues.map((i) => ({
    path: i.path.map(String).join('.') || '(request)',
    message: i.message,
  }));
  throw new ValidationError(issues.map((i) => i.message).join('; '), issues);
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

/**
 * Starts the generator service.
 *
 * @param opts - database pool, port (0 for an ephemeral one), bind address, lease owner
 * @returns the bound port and a `close()`
 * @throws Error when the port cannot be bound
 * @example
 * const server = await startGeneratorServer({ pool, port: 50051, owner: newOwnerId() });
 * // …
 * await server.close();
 */
export async function startGeneratorServer(opts: GeneratorServerOptions): Promise<GeneratorServer> {
  const { pool, owner } = opts;
  const services = loadServices();
  const server = new grpc.Server();
  const shutdown = new AbortController();
  const running = new Set<Promise<unknown>>();
  const progressInterval = opts.progressIntervalMs ?? 500;
  let precomputes: Promise<void> = Promise.resolve();

  // Generate: create the dataset row, answer with its id, then generate in the background
  const generate: grpc.handleServerStreamingCall<unknown, unknown> = (call) => {
    void (async () => {
      let params: GenerateParams;
      let datasetId: string;
      let rowsTotal: number;
      try {
        if (shutdown.signal.aborted) throw new Error('the generator is shutting down');
        const req = parseRequest(GenerateRequestMessageSchema, call.request);
        ({ datasetId, params, rowsTotal } = await recordDataset(pool, parseParams(req.params), owner));
      } catch (err) {
        call.emit('error', toServiceError(err));
        return;
      }
      const send = (status: string, rowsDone: number, error?: string) => {
        if (call.cancelled || call.destroyed) return;
        call.write({ dataset_id: datasetId, status, rows_done: rowsDone, rows_total: rowsTotal, error });
      };
      send('pending', 0);
      // The generation is the service's, not the call's: it goes on if the client leaves.
      const work = ingestDataset(pool, {
        datasetId,
        params,
        owner,
        progressIntervalMs: progressInterval,
        signal: shutdown.signal,
        ...(opts.failAfterRows === undefined ? {} : { failAfterRows: opts.failAfterRows }),
        onProgress: (p) => send('running', p.rowsDone),
      }).then(
        (res) => {
          send('completed', res.rows);
          // Precompute the dataset's analytics now, off the generation's clock, so the first
          // dashboard visit is answered from stored figures (a request before this finishes
          // computes them itself, under the same lock). One at a time: each takes three
          // connections, and a burst of generations must not take the whole pool with them.
          precomputes = precomputes.then(() =>
            shutdown.signal.aborted ? undefined : computeDatasetStats(pool, datasetId).catch(() => {}),
          );
        },
        (err: unknown) => send('failed', 0, err instanceof Error ? err.message : String(err)),
      );
      running.add(work);
      await work;
      running.delete(work);
      if (!call.cancelled && !call.destroyed) call.end();
    })();
  };

  // StreamTelemetry: one batch per time step, paced at `rate` records per second
  const streamTelemetry: grpc.handleServerStreamingCall<unknown, unknown> = (call) => {
    const stop = new AbortController();
    const onShutdown = () => stop.abort();
    shutdown.signal.addEventListener('abort', onShutdown, { once: true });
    call.on('cancelled', () => stop.abort());
    void (async () => {
      try {
        const req = parseRequest(StreamRequestMessageSchema, call.request);
        const params = parseParams(req.params);
        const live = liveTelemetry(params, {
          shard: { index: req.shardIndex, count: req.shardCount },
          ...(req.startMs === undefined ? {} : { startMs: req.startMs }),
        });
        const hostFields = live.hosts;
        const started = performance.now();
        let sent = 0;
        let steps = 0;
        while (!stop.signal.aborted && (req.maxRecords === 0 || sent < req.maxRecords)) {
          const chunk = live.nextStep();
          const n = req.maxRecords === 0 ? chunk.length : Math.min(chunk.length, req.maxRecords - sent);
          const records = [];
          for (let i = 0; i < n; i++) {
            const h = hostFields[chunk.host[i]!]!;
            const rec: Record<string, unknown> = {
              host_id: h.hostId,
              project_id: h.projectId,
              region: h.region,
              ts: new Date(chunk.ts[i]!).toISOString(),
              is_anomaly: chunk.isAnomaly[i] === 1,
            };
            for (let j = 0; j < METRICS.length; j++) rec[METRICS[j]!] = chunk.metrics[i * METRICS.length + j];
            const t = chunk.anomalyType[i]!;
            if (t >= 0) {
              rec.anomaly_type = ANOMALY_TYPES[t];
              rec.anomaly_episode = chunk.anomalyEpisode[i];
            }
            records.push(rec);
          }
          sent += n;
          steps += 1;
          if (n > 0 && !call.write({ records })) {
            // Backpressure: wait until the client has taken what was sent
            await new Promise<void>((resolve) => {
              const done = () => {
                call.off('drain', done);
                stop.signal.removeEventListener('abort', done);
                resolve();
              };
              call.on('drain', done);
              stop.signal.addEventListener('abort', done, { once: true });
            });
          }
          // Pace: records at `rate` per second, or one step per interval in real time
          const dueMs =
            req.rate > 0 && live.hostIndices.length > 0 ? (sent / req.rate) * 1000 : steps * live.intervalMs;
          const wait = dueMs - (performance.now() - started);
          if (wait > 0) await sleep(wait, stop.signal);
        }
        if (!call.cancelled) call.end();
      } catch (err) {
        if (!call.cancelled) call.emit('error', toServiceError(err));
      } finally {
        shutdown.signal.removeEventListener('abort', onShutdown);
      }
    })();
  };

  // Health: the server as a whole, and the generator (SERVING while the database answers)
  const healthOf = async (service: string): Promise<HealthStatus> => {
    if (shutdown.signal.aborted) return 'NOT_SERVING';
    if (service === '') return 'SERVING';
    if (service !== GENERATOR_SERVICE_NAME) return 'SERVICE_UNKNOWN';
    try {
      await pingDatabase(pool);
      return 'SERVING';
    } catch {
      return 'NOT_SERVING';
    }
  };
  const check: grpc.handleUnaryCall<unknown, unknown> = (call, callback) => {
    void (async () => {
      try {
        const { service } = parseRequest(HealthRequestSchema, call.request);
        const status = await healthOf(service);
        if (status === 'SERVICE_UNKNOWN') {
          callback({ code: grpc.status.NOT_FOUND, details: `unknown service ${JSON.stringify(service)}` });
        } else {
          callback(null, { status });
        }
      } catch (err) {
        callback(toServiceError(err));
      }
    })();
  };
  const watch: grpc.handleServerStreamingCall<unknown, unknown> = (call) => {
    const stop = new AbortController();
    call.on('cancelled', () => stop.abort());
    const onShutdown = () => stop.abort();
    shutdown.signal.addEventListener('abort', onShutdown, { once: true });
    void (async () => {
      try {
        const { service } = parseRequest(HealthRequestSchema, call.request);
        let last: HealthStatus | undefined;
        // Sends the status at once, then whenever it changes (checked every 2 s)
        while (!stop.signal.aborted) {
          const status = await healthOf(service);
          if (status !== last) {
            call.write({ status });
            last = status;
          }
          await sleep(2000, stop.signal);
        }
        if (!call.cancelled) {
          call.write({ status: 'NOT_SERVING' });
          call.end();
        }
      } catch (err) {
        if (!call.cancelled) call.emit('error', toServiceError(err));
      } finally {
        shutdown.signal.removeEventListener('abort', onShutdown);
      }
    })();
  };

  server.addService(services.generator.service, { Generate: generate, StreamTelemetry: streamTelemetry });
  server.addService(services.health.service, { Check: check, Watch: watch });

  const host = opts.host ?? '127.0.0.1';
  const address = host.includes(':') ? `[${host}]:${opts.port}` : `${host}:${opts.port}`;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(new Error(`cannot listen on ${address}: ${err.message}`)) : resolve(bound),
    );
  });

  return {
    port,
    async close() {
      // Interrupt streams and generations (their datasets fail), then stop the server
      shutdown.abort();
      await Promise.allSettled([...running]);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}
