/**
 * The generator service's client, used by the HTTP API (`POST /datasets`) and the CLI. gRPC
 * failures come back as TADS's domain errors: INVALID_ARGUMENT → ValidationError, a database the
 * generator cannot reach → DatabaseUnavailableError, a generator that cannot be reached →
 * ServiceUnavailableError.
 */
import * as grpc from '@grpc/grpc-js';
import type { z } from 'zod';
import type { GenerateParamsInput } from '../contract/generator.js';
import {
  ConflictError,
  DatabaseUnavailableError,
  NotFoundError,
  ServiceUnavailableError,
  TadsError,
  ValidationError,
} from '../core/errors.js';
import {
  GenerateProgressMessageSchema,
  HealthResponseSchema,
  loadServices,
  paramsToMessage,
  TelemetryBatchMessageSchema,
  type GenerateProgress,
  type HealthStatus,
  type LiveRecord,
} from './proto.js';

export type { GenerateProgress, HealthStatus, LiveRecord } from './proto.js';

/** Options of {@link GeneratorClient.generate}. */
export interface GenerateCallOptions {
  /** Called with every progress message (the first carries the new dataset's id). */
  onProgress?: (p: GenerateProgress) => void;
  /**
   * Resolve only when the generation has finished (rejecting if it failed). By default the
   * promise resolves as soon as the dataset exists; progress keeps arriving if `onProgress` is
   * given.
   */
  waitForCompletion?: boolean;
}

/** What {@link GeneratorClient.generate} resolves with. */
export interface GenerateResult {
  datasetId: string;
  /** The last status seen: `pending` unless `waitForCompletion`, then `completed`. */
  status: GenerateProgress['status'];
  rowsTotal: number;
  rowsDone: number;
}

/** A request of {@link GeneratorClient.streamTelemetry}. */
export interface StreamTelemetryCall {
  /** Generation parameters of the live fleet. */
  params?: GenerateParamsInput;
  /** Records per second (0 or absent: one time step per sampling interval, real time). */
  rate?: number;
  /** This stream's shard (FNV-1a of host_id mod count), default 0 of 1. */
  shardIndex?: number;
  shardCount?: number;
  /** Stop after this many records (0 or absent: until the iteration stops). */
  maxRecords?: number;
  /** Timestamp of the first step, ms since the epoch (default: now). */
  startMs?: number;
}

/** Turns a gRPC error into a domain error. */
function fromServiceError(err: grpc.ServiceError, address: string): TadsError {
  const tadsCode = err.metadata?.get('tads-error-code')[0];
  const message = err.details || err.message;
  switch (tadsCode) {
    case 'invalid_input':
      return new ValidationError(message);
    case 'database_unavailable':
      return new DatabaseUnavailableError(message);
    case 'conflict':
      return new ConflictError(message);
    case 'not_found':
      return new NotFoundError('resource', message);
    default:
  }
  switch (err.code) {
    case grpc.status.INVALID_ARGUMENT:
      return new ValidationError(message);
    case grpc.status.UNAVAILABLE:
    case grpc.status.DEADLINE_EXCEEDED:
      return new ServiceUnavailableError('generator', `${address}: ${message}`, { cause: err });
    default:
      return new TadsError('internal', `generator call failed: ${message}`, null, { cause: err });
  }
}

function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const res = schema.safeParse(value);
  if (!res.success) {
    throw new TadsError(
      'internal',
      `generator sent a malformed ${what}: ${res.error.issues[0]?.message ?? ''}`,
    );
  }
  return res.data;
}

/**
 * A client of the generator service.
 *
 * @example
 * const gen = new GeneratorClient('127.0.0.1:50051');
 * const { datasetId } = await gen.generate({ hostCount: 10 });
 * gen.close();
 */
export class GeneratorClient {
  readonly #address: string;
  readonly #generator: grpc.Client;
  readonly #health: grpc.Client;

  /**
   * @param address - `host:port` of the generator (e.g. `127.0.0.1:50051`)
   * @throws TypeError when `address` is not a non-empty string
   */
  constructor(address: string) {
    if (typeof address !== 'string' || address.length === 0) {
      throw new TypeError(`address must be a "host:port" string; got ${typeof address}`);
    }
    const services = loadServices();
    const creds = grpc.credentials.createInsecure();
    this.#address = address;
    this.#generator = new services.generator(address, creds);
    this.#health = new services.health(address, creds, {});
  }

  /**
   * Asks the generator for a new dataset.
   *
   * @param params - generation parameters (camelCase; validated by the service)
   * @param options - a progress callback, or `{ onProgress, waitForCompletion }`
   * @returns the new dataset's id, once its row exists (or once generated, with
   *   `waitForCompletion`)
   * @throws ValidationError for bad parameters; DatabaseUnavailableError when the generator's
   *   database is down; ServiceUnavailableError when the generator cannot be reached; with
   *   `waitForCompletion`, TadsError('internal') carrying the generation's error if it failed
   */
  generate(
    params: GenerateParamsInput,
    options: GenerateCallOptions | ((p: GenerateProgress) => void) = {},
  ): Promise<GenerateResult> {
    const opts: GenerateCallOptions = typeof options === 'function' ? { onProgress: options } : options;
    const request = { params: paramsToMessage(params) };
    return new Promise<GenerateResult>((resolve, reject) => {
      const call = (
        this.#generator as unknown as { Generate(req: unknown): grpc.ClientReadableStream<unknown> }
      ).Generate(request);
      let settled = false;
      let last: GenerateProgress | undefined;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        fn();
      };
      call.on('data', (msg: unknown) => {
        let p: GenerateProgress;
        try {
          p = parseOrThrow(GenerateProgressMessageSchema, msg, 'progress message');
        } catch (err) {
          call.cancel();
          settle(() => reject(err instanceof Error ? err : new Error(String(err))));
          return;
        }
        last = p;
        opts.onProgress?.(p);
        const result = () => ({
          datasetId: p.datasetId,
          status: p.status,
          rowsTotal: p.rowsTotal,
          rowsDone: p.rowsDone,
        });
        if (!opts.waitForCompletion) {
          settle(() => resolve(result()));
          // Without a progress listener there is nothing more to hear: leave the generation be
          if (!opts.onProgress) call.cancel();
        } else if (p.status === 'completed') {
          settle(() => resolve(result()));
        } else if (p.status === 'failed') {
          settle(() =>
            reject(
              new TadsError('internal', `dataset ${p.datasetId} failed: ${p.error ?? 'unknown error'}`, {
                datasetId: p.datasetId,
              }),
            ),
          );
        }
      });
      call.on('error', (err: grpc.ServiceError) => {
        if (err.code === grpc.status.CANCELLED) return;
        settle(() => reject(fromServiceError(err, this.#address)));
      });
      call.on('end', () => {
        settle(() =>
          last
            ? reject(
                new ServiceUnavailableError(
                  'generator',
                  `the stream ended while dataset ${last.datasetId} was ${last.status}`,
                ),
              )
            : reject(
                new ServiceUnavailableError('generator', 'the stream ended before the dataset was created'),
              ),
        );
      });
    });
  }

  /**
   * Streams live telemetry, batch by batch (one batch per time step).
   *
   * @param req - parameters, pacing, shard and limits (validated by the service)
   * @returns an async iterable of record batches; stopping the iteration cancels the call
   * @throws (while iterating) ValidationError for a bad request; ServiceUnavailableError when the
   *   generator cannot be reached
   */
  async *streamTelemetry(req: StreamTelemetryCall = {}): AsyncGenerator<LiveRecord[]> {
    const request = {
      params: paramsToMessage(req.params ?? {}),
      rate: req.rate ?? 0,
      shard_index: req.shardIndex ?? 0,
      shard_count: req.shardCount ?? 0,
      max_records: req.maxRecords ?? 0,
      start_ms: req.startMs ?? 0,
    };
    const call = (
      this.#generator as unknown as { StreamTelemetry(req: unknown): grpc.ClientReadableStream<unknown> }
    ).StreamTelemetry(request);
    try {
      for await (const msg of call as AsyncIterable<unknown>) {
        yield parseOrThrow(TelemetryBatchMessageSchema, msg, 'telemetry batch').records;
      }
    } catch (err) {
      if (err instanceof TadsError) throw err;
      throw fromServiceError(err as grpc.ServiceError, this.#address);
    } finally {
      call.cancel();
    }
  }

  /**
   * The standard health check.
   *
   * @param service - `''` for the server, `tads.v1.Generator` for the generator (SERVING only
   *   while its database answers)
   * @param timeoutMs - deadline (default 5000)
   * @returns the status
   * @throws ServiceUnavailableError when the server cannot be reached
   */
  health(service = '', timeoutMs = 5000): Promise<HealthStatus> {
    return new Promise((resolve, reject) => {
      (
        this.#health as unknown as {
          Check(
            req: unknown,
            opts: grpc.CallOptions,
            cb: (err: grpc.ServiceError | null, res?: unknown) => void,
          ): void;
        }
      ).Check({ service }, { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (err) {
          if (err.code === grpc.status.NOT_FOUND) return resolve('SERVICE_UNKNOWN');
          return reject(fromServiceError(err, this.#address));
        }
        try {
          resolve(parseOrThrow(HealthResponseSchema, res, 'health response').status);
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      });
    });
  }

  /** Closes the connection. */
  close(): void {
    this.#generator.close();
    this.#health.close();
  }
}
