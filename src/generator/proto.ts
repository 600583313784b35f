/**
 * The generator's gRPC definitions: loading `proto/tads/v1/generator.proto` and the standard
 * health protocol with @grpc/proto-loader, and the zod schemas every decoded message passes
 * through on both sides (the server parses requests, the client parses responses).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { z } from 'zod';
import type { GenerateParamsInput } from '../contract/generator.js';
import { metricsOf } from '../contract/vocabulary.js';

/** Default port of the generator service. */
export const GENERATOR_PORT = 50051;
/** The generator's fully-qualified gRPC service name (as health checks name it). */
export const GENERATOR_SERVICE_NAME = 'tads.v1.Generator';

/**
 * The package's `proto/` folder, found by walking up from this module so that it works from the
 * sources (src/generator) and from the build (dist/src/generator).
 */
export function protoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'proto', 'tads', 'v1', 'generator.proto'))) return join(dir, 'proto');
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(`cannot find proto/tads/v1/generator.proto above ${fileURLToPath(import.meta.url)}`);
    }
    dir = parent;
  }
}

/** Loader options: field names as written (snake_case), 64-bit integers as numbers. */
const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: false,
  arrays: true,
  objects: false,
  oneofs: false,
};

interface Loaded {
  generator: grpc.ServiceClientConstructor;
  health: grpc.ServiceClientConstructor;
}
let loaded: Loaded | undefined;

/** The service constructors (their `.service` is the definition a server adds). Loaded once. */
export function loadServices(): Loaded {
  if (loaded) return loaded;
  const root = protoRoot();
  const def = protoLoader.loadSync(['tads/v1/generator.proto', 'grpc/health/v1/health.proto'], {
    ...LOADER_OPTIONS,
    includeDirs: [root],
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    tads: { v1: { Generator: grpc.ServiceClientConstructor } };
    grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
  };
  loaded = { generator: pkg.tads.v1.Generator, health: pkg.grpc.health.v1.Health };
  return loaded;
}

// ---------------------------------------------------------------------------------------------
// Decoded messages (untrusted until parsed)
// ---------------------------------------------------------------------------------------------

const num = z.number().refine(Number.isFinite, { error: 'must be finite' });

/** A decoded `GenerateParams` message. Unset optional fields are absent; repeated ones empty. */
export const ParamsMessageSchema = z.object({
  seed: num.optional(),
  host_count: num.optional(),
  duration_s: num.optional(),
  interval_s: num.optional(),
  start: z.string().optional(),
  region_count: num.optional(),
  regions: z.array(z.string()).optional(),
  project_count: num.optional(),
  projects: z.array(z.string()).optional(),
  anomaly_rate: z.number().optional(),
  anomaly_types: z.array(z.string()).optional(),
  anomaly_weights: z.record(z.string(), z.number()).optional(),
  name: z.string().optional(),
});
export type ParamsMessage = z.infer<typeof ParamsMessageSchema>;

/**
 * Turns a decoded `GenerateParams` message into the snake_case wire object the contract parses
 * (`GenerateParamsWireSchema`), or a message naming the conflict.
 */
export function paramsMessageToWire(
  m: ParamsMessage,
): { ok: true; wire: Record<string, unknown> } | { ok: false; message: string } {
  const wire: Record<string, unknown> = {};
  const copy = ['seed', 'host_count', 'duration_s', 'interval_s', 'start', 'anomaly_rate', 'name'] as const;
  for (const k of copy) if (m[k] !== undefined) wire[k] = m[k];
  const pairs = [
    ['regions', 'region_count'],
    ['projects', 'project_count'],
  ] as const;
  for (const [list, count] of pairs) {
    const names = m[list] ?? [];
    if (names.length > 0 && m[count] !== undefined) {
      return { ok: false, message: `give either ${list} or ${count}, not both` };
    }
    if (names.length > 0) wire[list] = names;
    else if (m[count] !== undefined) wire[list] = m[count];
  }
  const types = m.anomaly_types ?? [];
  const weights = m.anomaly_weights ?? {};
  if (types.length > 0 && Object.keys(weights).length > 0) {
    return { ok: false, message: 'give either anomaly_types or anomaly_weights, not both' };
  }
  if (types.length > 0) wire.anomaly_types = types;
  else if (Object.keys(weights).length > 0) wire.anomaly_types = weights;
  return { ok: true, wire };
}

/** The message form of parameters (camelCase library input or snake_case wire). */
export function paramsToMessage(p: GenerateParamsInput): ParamsMessage {
  const m: ParamsMessage = {};
  if (p.seed !== undefined) m.seed = p.seed;
  if (p.hostCount !== undefined) m.host_count = p.hostCount;
  if (p.durationS !== undefined) m.duration_s = p.durationS;
  if (p.intervalS !== undefined) m.interval_s = p.intervalS;
  if (p.start !== undefined) m.start = p.start;
  if (typeof p.regions === 'number') m.region_count = p.regions;
  else if (p.regions !== undefined) m.regions = [...p.regions];
  if (typeof p.projects === 'number') m.project_count = p.projects;
  else if (p.projects !== undefined) m.projects = [...p.projects];
  if (p.anomalyRate !== undefined) m.anomaly_rate = p.anomalyRate;
  if (Array.isArray(p.anomalyTypes)) m.anomaly_types = [...p.anomalyTypes];
  else if (p.anomalyTypes !== undefined) {
    // Weights of 0 are dropped: a missing type weighs 0 anyway, and map entries must be positive
    // to mean something.
    m.anomaly_weights = Object.fromEntries(Object.entries(p.anomalyTypes).filter(([, w]) => (w ?? 0) > 0));
  }
  if (p.name !== undefined) m.name = p.name;
  return m;
}

/** A decoded `GenerateRequest`. */
export const GenerateRequestMessageSchema = z.object({ params: ParamsMessageSchema.optional() });

/** Statuses a generation reports. */
export const GENERATE_STATUSES = ['pending', 'running', 'completed', 'failed'] as const;

/** A decoded `GenerateProgress`, as the client sees it (camelCase). */
export const GenerateProgressMessageSchema = z
  .object({
    dataset_id: z.string(),
    status: z.enum(GENERATE_STATUSES),
    rows_done: z.number().int().nonnegative().optional(),
    rows_total: z.number().int().nonnegative().optional(),
    error: z.string().optional(),
  })
  .transform((m) => ({
    datasetId: m.dataset_id,
    status: m.status,
    rowsDone: m.rows_done ?? 0,
    rowsTotal: m.rows_total ?? 0,
    error: m.error ?? null,
  }));
/** Progress of a generation, as the client reports it. */
export type GenerateProgress = z.output<typeof GenerateProgressMessageSchema>;

/** Limits of StreamTelemetry's own fields. */
export const STREAM_LIMITS = {
  /** Records per second: (0, 1 000 000]; 0 means real time. */
  maxRate: 1_000_000,
  /** Shards: [1, 1 000 000]. */
  maxShardCount: 1_000_000,
  /** Records per stream when limited: [1, 10¹²]. */
  maxRecords: 1e12,
} as const;

/** A decoded `StreamTelemetryRequest`, checked, in camelCase (params still in message form). */
export const StreamRequestMessageSchema = z
  .object({
    params: ParamsMessageSchema.optional(),
    rate: z
      .number()
      .optional()
      .refine((r) => r === undefined || (Number.isFinite(r) && r >= 0 && r <= STREAM_LIMITS.maxRate), {
        error: (iss) =>
          `rate must be a number of records per second in [0, ${STREAM_LIMITS.maxRate}]; got ${String(iss.input)}`,
      }),
    shard_index: z.number().int().optional(),
    shard_count: z.number().int().optional(),
    max_records: z
      .number()
      .optional()
      .refine((r) => r === undefined || (Number.isInteger(r) && r >= 0 && r <= STREAM_LIMITS.maxRecords), {
        error: (iss) =>
          `max_records must be an integer in [0, ${STREAM_LIMITS.maxRecords}]; got ${String(iss.input)}`,
      }),
    start_ms: z
      .number()
      .optional()
      .refine((r) => r === undefined || (Number.isInteger(r) && r >= 0 && r <= Date.UTC(2200, 0, 1)), {
        error: (iss) => `start_ms must be a time in ms between 1970 and 2200; got ${String(iss.input)}`,
      }),
  })
  .superRefine((m, ctx) => {
    const count = m.shard_count || 1;
    const index = m.shard_index ?? 0;
    if (count < 1 || count > STREAM_LIMITS.maxShardCount) {
      ctx.addIssue({
        code: 'custom',
        path: ['shard_count'],
        message: `shard_count must be an integer in [1, ${STREAM_LIMITS.maxShardCount}] (0 means 1); got ${count}`,
      });
    } else if (index < 0 || index >= count) {
      ctx.addIssue({
        code: 'custom',
        path: ['shard_index'],
        message: `shard_index must be an integer in [0, ${count - 1}]; got ${index}`,
      });
    }
  })
  .transform((m) => ({
    params: m.params ?? {},
    rate: m.rate ?? 0,
    shardIndex: m.shard_index ?? 0,
    shardCount: m.shard_count || 1,
    maxRecords: m.max_records ?? 0,
    startMs: m.start_ms || undefined,
  }));

/** One live record, as the client reports it (camelCase). */
export const TelemetryRecordMessageSchema = z
  .object({
    host_id: z.string(),
    project_id: z.string(),
    region: z.string(),
    ts: z.string(),
    cpu_usage: z.number(),
    memory_usage: z.number(),
    disk_io: z.number(),
    network_in: z.number(),
    network_out: z.number(),
    load_avg: z.number(),
    latency_ms: z.number(),
    error_rate: z.number(),
    is_anomaly: z.boolean().optional(),
    anomaly_type: z.string().optional(),
    anomaly_episode: z.number().int().optional(),
  })
  .transform((r) => ({
    hostId: r.host_id,
    projectId: r.project_id,
    region: r.region,
    ts: r.ts,
    metrics: metricsOf(r),
    isAnomaly: r.is_anomaly ?? false,
    anomalyType: r.anomaly_type ?? null,
    anomalyEpisode: r.anomaly_episode ?? null,
  }));
/** One live telemetry record. */
export type LiveRecord = z.output<typeof TelemetryRecordMessageSchema>;

/** A decoded `TelemetryBatch`. */
export const TelemetryBatchMessageSchema = z.object({
  records: z.array(TelemetryRecordMessageSchema).optional().default([]),
});

/** Health statuses of grpc.health.v1. */
export const HEALTH_STATUSES = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'] as const;
export type HealthStatus = (typeof HEALTH_STATUSES)[number];
/** A decoded `HealthCheckResponse`. */
export const HealthResponseSchema = z.object({
  status: z.enum(HEALTH_STATUSES).optional().default('UNKNOWN'),
});
/** A decoded `HealthCheckRequest`. */
export const HealthRequestSchema = z.object({ service: z.string().optional().default('') });
