/**
 * Wire contract of the telemetry generator: the parameters of a generated dataset (the body of
 * `POST /datasets`, the `params` of the gRPC `Generate` and `StreamTelemetry` calls, and the
 * `params` column of `datasets`). On the wire they are snake_case (`{"host_count": 10}`); the
 * schemas hand the rest of TADS a fully defaulted camelCase {@link GenerateParams}.
 *
 * Every limit is documented in {@link GENERATOR_LIMITS} and enforced here, so a library caller,
 * an HTTP client and a gRPC client all get the same message for the same mistake.
 */
import { z } from 'zod';
import { onceParsed, text } from './common.js';
import { ANOMALY_TYPES, type AnomalyType } from './vocabulary.js';

/** Anomaly types, in code order. */
export const GENERATOR_ANOMALY_TYPES = ANOMALY_TYPES;
export type GeneratorAnomalyType = AnomalyType;

/** Limits of generation parameters, enforced by the schemas below. */
export const GENERATOR_LIMITS = {
  /** Seeds are integers in [0, 2⁵³ − 1]. */
  maxSeed: Number.MAX_SAFE_INTEGER,
  /** Hosts in a fleet: [1, 10 000]. */
  maxHostCount: 10_000,
  /** Sampling interval in seconds: [1, 86 400]. */
  minIntervalS: 1,
  maxIntervalS: 86_400,
  /** Duration in seconds: [interval, 366 days]. */
  maxDurationS: 366 * 86_400,
  /** Rows of one dataset (host count × time steps): at most 100 000 000. */
  maxTotalRows: 100_000_000,
  /** Regions: 1 to 64 (a count or a list of names). */
  maxRegions: 64,
  /** Projects: 1 to 1 000 (a count or a list of names). */
  maxProjects: 1_000,
  /** Anomaly rate: the expected fraction of anomalous records, in [0, 0.5]. */
  maxAnomalyRate: 0.5,
  /** Dataset names: 1 to 200 characters. */
  maxNameLength: 200,
  /** Start times: from 1970-01-01 to 2200-01-01 (UTC), so every timestamp fits PostgreSQL's. */
  minStartMs: 0,
  maxStartMs: Date.UTC(2200, 0, 1),
} as const;

/** Defaults of every parameter: `{"host_count": 10}` alone, or `{}`, is a complete request. */
export const GENERATOR_DEFAULTS = {
  seed: 42,
  hostCount: 10,
  /** One day. */
  durationS: 86_400,
  /** One record per host per minute. */
  intervalS: 60,
  /** A fixed instant, so that defaults alone are deterministic. */
  start: '2024-01-01T00:00:00.000Z',
  regions: 3,
  projects: 5,
  anomalyRate: 0.02,
} as const;

/**
 * Region names used when regions are given as a count: the first n of these, or `region-01` …
 * when n is larger than the list.
 */
export const DEFAULT_REGION_NAMES = [
  'us-east-1',
  'eu-west-1',
  'ap-southeast-1',
  'us-west-2',
  'eu-central-1',
  'ap-northeast-1',
  'sa-east-1',
  'ca-central-1',
] as const;

/** Generation parameters, fully defaulted (camelCase: what the library works with). */
export interface GenerateParams {
  /** Seed of every random stream, an integer in [0, 2⁵³ − 1]. */
  seed: number;
  /** Hosts in the fleet, [1, 10 000]; host ids are `host-0001` … in generation order. */
  hostCount: number;
  /** Length of the dataset in seconds; time steps = ⌊durationS / intervalS⌋. */
  durationS: number;
  /** Seconds between two records of a host. */
  intervalS: number;
  /** First timestamp, RFC 3339 normalised to UTC with milliseconds (`2024-01-01T00:00:00.000Z`). */
  start: string;
  /** Region names (distinct, in order). */
  regions: string[];
  /** Project names (distinct, in order). */
  projects: string[];
  /** Expected fraction of anomalous records, [0, 0.5]; 0 gives normal-only data. */
  anomalyRate: number;
  /** Relative weight of each anomaly type (≥ 0, at least one positive); 0 leaves a type out. */
  anomalyTypes: Record<GeneratorAnomalyType, number>;
  /** Dataset name. */
  name: string;
}

/** Generation parameters as a library caller may give them: camelCase, every field optional. */
export interface GenerateParamsInput {
  seed?: number;
  hostCount?: number;
  durationS?: number;
  intervalS?: number;
  /** RFC 3339 timestamp with an offset (`Z` or `±hh:mm`). */
  start?: string;
  /** A count (names made up) or a list of names. */
  regions?: number | string[];
  /** A count (`project-01` …) or a list of names. */
  projects?: number | string[];
  anomalyRate?: number;
  /** A list of types (equal weights) or weights by type (missing types weigh 0). */
  anomalyTypes?: GeneratorAnomalyType[] | Partial<Record<GeneratorAnomalyType, number>>;
  name?: string;
}

/** Generation parameters on the wire (snake_case), every field optional. */
export interface GenerateParamsWire {
  seed?: number;
  host_count?: number;
  duration_s?: number;
  interval_s?: number;
  start?: string;
  regions?: number | string[];
  projects?: number | string[];
  anomaly_rate?: number;
  anomaly_types?: GeneratorAnomalyType[] | Partial<Record<GeneratorAnomalyType, number>>;
  name?: string;
}

// ---------------------------------------------------------------------------------------------
// Field schemas, built once per naming (wire snake_case, library camelCase) so that messages name
// the parameter as the caller spelt it.
// ---------------------------------------------------------------------------------------------

const show = (v: unknown): string => {
  if (v === undefined) return 'nothing';
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  try {
    const s = JSON.stringify(v);
    return s === undefined ? typeof v : s.length > 80 ? `${s.slice(0, 77)}...` : s;
  } catch {
    return typeof v;
  }
};

const intField = (name: string, min: number, max: number) => {
  const msg = (iss: { input?: unknown }) =>
    `${name} must be an integer in [${min}, ${max}]; got ${show(iss.input)}`;
  return z.number({ error: msg }).int({ error: msg }).min(min, { error: msg }).max(max, { error: msg });
};

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** A count or a list of distinct names (regions, projects). */
const countOrNames = (name: string, max: number) => {
  const what = `${name} must be a count in [1, ${max}] or a list of 1 to ${max} distinct names (letters, digits, '.', '_', '-'; up to 63 characters)`;
  const nameSchema = z
    .string({ error: (iss) => `${what}; got ${show(iss.input)} in the list` })
    .regex(NAME_PATTERN, {
      error: (iss) => `${what}; got ${show(iss.input)} in the list`,
    });
  return z.union(
    [
      z
        .number()
        .int()
        .min(1)
        .max(max, { error: (iss) => `${what}; got ${show(iss.input)}` }),
      z
        .array(nameSchema)
        .min(1, { error: () => `${what}; got an empty list` })
        .max(max, { error: (iss) => `${what}; got a list of ${(iss.input as unknown[]).length}` })
        .refine((a) => new Set(a).size === a.length, {
          error: (iss) => `${what}; got duplicates in ${show(iss.input)}`,
          ...onceParsed,
        }),
    ],
    { error: (iss) => `${what}; got ${show(iss.input)}` },
  );
};

const anomalyTypesField = (name: string) => {
  const what = `${name} must be a list of anomaly types or an object of non-negative weights by type, at least one positive (types: ${GENERATOR_ANOMALY_TYPES.join(', ')})`;
  const typeSchema = z.enum(GENERATOR_ANOMALY_TYPES, {
    error: (iss) =>
      `${name}: unknown anomaly type ${show(iss.input)}; expected one of ${GENERATOR_ANOMALY_TYPES.join(', ')}`,
  });
  return z.union(
    [
      z
        .array(typeSchema)
        .min(1, { error: () => `${what}; got an empty list` })
        .refine((a) => new Set(a).size === a.length, {
          error: (iss) => `${what}; got duplicates in ${show(iss.input)}`,
          ...onceParsed,
        }),
      z
        .partialRecord(
          typeSchema,
          z
            .number({ error: (iss) => `${what}; got weight ${show(iss.input)}` })
            .min(0, { error: (iss) => `${what}; got weight ${show(iss.input)}` })
            .max(1e6, { error: (iss) => `${what}; got weight ${show(iss.input)} (at most 1000000)` }),
        )
        .refine((r) => Object.values(r).some((w) => w > 0), {
          error: () => `${what}; got no positive weight`,
          ...onceParsed,
        }),
    ],
    {
      error: (iss) => {
        // Name the offending type when the shape is right but a name is not
        const input = iss.input;
        const names: unknown[] = Array.isArray(input)
          ? (input as unknown[])
          : typeof input === 'object' && input !== null
            ? Object.keys(input)
            : [];
        const unknown: unknown = names.find(
          (t) => !(GENERATOR_ANOMALY_TYPES as readonly unknown[]).includes(t),
        );
        return unknown !== undefined
          ? `${name}: unknown anomaly type ${show(unknown)}; expected one of ${GENERATOR_ANOMALY_TYPES.join(', ')}`
          : `${what}; got ${show(input)}`;
      },
    },
  );
};

const startField = (name: string) =>
  z
    .string({
      error: (iss) => `${name} must be an RFC 3339 timestamp with an offset; got ${show(iss.input)}`,
    })
    .refine((s) => z.iso.datetime({ offset: true }).safeParse(s).success, {
      error: (iss) =>
        `${name} must be an RFC 3339 timestamp with an offset, e.g. 2024-01-01T00:00:00Z; got ${show(iss.input)}`,
    });

const rateField = (name: string) => {
  const msg = (iss: { input?: unknown }) =>
    `${name} must be a number in [0, ${GENERATOR_LIMITS.maxAnomalyRate}]; got ${show(iss.input)}`;
  return z.number({ error: msg }).min(0, { error: msg }).max(GENERATOR_LIMITS.maxAnomalyRate, { error: msg });
};

const nameField = (name: string) =>
  text(name, (iss) => `${name} must be a string; got ${show(iss.input)}`)
    .trim()
    .min(1, {
      error: () => `${name} must be 1 to ${GENERATOR_LIMITS.maxNameLength} characters; got an empty name`,
    })
    .max(GENERATOR_LIMITS.maxNameLength, {
      error: (iss) =>
        `${name} must be 1 to ${GENERATOR_LIMITS.maxNameLength} characters; got ${(iss.input as string).length}`,
    });

/** The names parameters go by on each side. */
const WIRE_NAMES = {
  seed: 'seed',
  hostCount: 'host_count',
  durationS: 'duration_s',
  intervalS: 'interval_s',
  start: 'start',
  regions: 'regions',
  projects: 'projects',
  anomalyRate: 'anomaly_rate',
  anomalyTypes: 'anomaly_types',
  name: 'name',
} as const;
type ParamKey = keyof typeof WIRE_NAMES;

function fields(naming: (k: ParamKey) => string) {
  const L = GENERATOR_LIMITS;
  return {
    seed: intField(naming('seed'), 0, L.maxSeed).optional(),
    hostCount: intField(naming('hostCount'), 1, L.maxHostCount).optional(),
    durationS: intField(naming('durationS'), L.minIntervalS, L.maxDurationS).optional(),
    intervalS: intField(naming('intervalS'), L.minIntervalS, L.maxIntervalS).optional(),
    start: startField(naming('start')).optional(),
    regions: countOrNames(naming('regions'), L.maxRegions).optional(),
    projects: countOrNames(naming('projects'), L.maxProjects).optional(),
    anomalyRate: rateField(naming('anomalyRate')).optional(),
    anomalyTypes: anomalyTypesField(naming('anomalyTypes')).optional(),
    name: nameField(naming('name')).optional(),
  };
}

/** Names for `count` regions: the well-known list first, `region-01` … beyond it. */
export function regionNames(count: number): string[] {
  if (count <= DEFAULT_REGION_NAMES.length) return DEFAULT_REGION_NAMES.slice(0, count);
  const width = Math.max(2, String(count).length);
  return Array.from({ length: count }, (_, i) => `region-${String(i + 1).padStart(width, '0')}`);
}

/** Names for `count` projects: `project-01` … (zero-padded to a common width). */
export function projectNames(count: number): string[] {
  const width = Math.max(2, String(count).length);
  return Array.from({ length: count }, (_, i) => `project-${String(i + 1).padStart(width, '0')}`);
}

/**
 * Applies defaults and the cross-field limits (duration ≥ interval, total rows, the last
 * timestamp's range) to already field-checked values.
 */
function finish(
  v: GenerateParamsInput,
  ctx: z.core.$RefinementCtx<GenerateParamsInput>,
  naming: (k: ParamKey) => string,
): GenerateParams {
  const D = GENERATOR_DEFAULTS;
  const L = GENERATOR_LIMITS;
  const hostCount = v.hostCount ?? D.hostCount;
  const intervalS = v.intervalS ?? D.intervalS;
  const durationS = v.durationS ?? D.durationS;
  const startMs = Date.parse(v.start ?? D.start);
  const steps = Math.floor(durationS / intervalS);
  if (durationS < intervalS) {
    ctx.addIssue({
      code: 'custom',
      path: [naming('durationS')],
      message: `${naming('durationS')} must be at least ${naming('intervalS')} (${intervalS}); got ${durationS}`,
    });
  }
  if (steps * hostCount > L.maxTotalRows) {
    ctx.addIssue({
      code: 'custom',
      path: [naming('hostCount')],
      message: `${naming('hostCount')} × ⌊${naming('durationS')} / ${naming('intervalS')}⌋ (total rows) must be at most ${L.maxTotalRows}; got ${hostCount} × ${steps} = ${hostCount * steps}`,
    });
  }
  if (!(startMs >= L.minStartMs && startMs + durationS * 1000 <= L.maxStartMs)) {
    ctx.addIssue({
      code: 'custom',
      path: [naming('start')],
      message: `${naming('start')} and ${naming('durationS')} must keep every timestamp between 1970-01-01T00:00:00Z and 2200-01-01T00:00:00Z; got ${v.start ?? D.start} plus ${durationS} s`,
    });
  }
  const weights = {} as Record<GeneratorAnomalyType, number>;
  const given = v.anomalyTypes;
  for (const t of GENERATOR_ANOMALY_TYPES) {
    weights[t] =
      given === undefined ? 1 : Array.isArray(given) ? (given.includes(t) ? 1 : 0) : (given[t] ?? 0);
  }
  const regions = v.regions ?? D.regions;
  const projects = v.projects ?? D.projects;
  const seed = v.seed ?? D.seed;
  return {
    seed,
    hostCount,
    durationS,
    intervalS,
    start: Number.isFinite(startMs) ? new Date(startMs).toISOString() : D.start,
    regions: typeof regions === 'number' ? regionNames(regions) : [...regions],
    projects: typeof projects === 'number' ? projectNames(projects) : [...projects],
    anomalyRate: v.anomalyRate ?? D.anomalyRate,
    anomalyTypes: weights,
    name: v.name ?? `telemetry-${hostCount}-hosts-seed-${seed}`,
  };
}

/**
 * Generation parameters on the wire (snake_case JSON, or a decoded gRPC message turned into
 * one), parsed into a fully defaulted camelCase {@link GenerateParams}. Unknown fields are
 * rejected.
 *
 * @example
 * GenerateParamsWireSchema.parse({ host_count: 10 }).hostCount; // 10
 */
export const GenerateParamsWireSchema = (() => {
  const f = fields((k) => WIRE_NAMES[k]);
  const naming = (k: ParamKey) => WIRE_NAMES[k];
  return z
    .strictObject(
      {
        seed: f.seed,
        host_count: f.hostCount,
        duration_s: f.durationS,
        interval_s: f.intervalS,
        start: f.start,
        regions: f.regions,
        projects: f.projects,
        anomaly_rate: f.anomalyRate,
        anomaly_types: f.anomalyTypes,
        name: f.name,
      },
      { error: (iss) => unknownKeyMessage(iss, 'generation parameters') },
    )
    .transform((w, ctx) =>
      finish(
        {
          seed: w.seed,
          hostCount: w.host_count,
          durationS: w.duration_s,
          intervalS: w.interval_s,
          start: w.start,
          regions: w.regions,
          projects: w.projects,
          anomalyRate: w.anomaly_rate,
          anomalyTypes: w.anomaly_types,
          name: w.name,
        },
        ctx as unknown as z.core.$RefinementCtx<GenerateParamsInput>,
        naming,
      ),
    );
})();

/**
 * Generation parameters as a library caller gives them (camelCase), parsed into a fully
 * defaulted {@link GenerateParams}. Parsing an already parsed `GenerateParams` gives it back
 * unchanged, so the library may validate again whatever it is handed.
 */
export const GenerateParamsSchema = (() => {
  const naming = (k: ParamKey) => k;
  return z
    .strictObject(fields(naming), { error: (iss) => unknownKeyMessage(iss, 'generation parameters') })
    .transform((v, ctx) => finish(v, ctx as unknown as z.core.$RefinementCtx<GenerateParamsInput>, naming));
})();

function unknownKeyMessage(iss: { code?: string; keys?: string[]; input?: unknown }, what: string): string {
  if (iss.code === 'unrecognized_keys' && iss.keys) {
    return `${what}: unknown field${iss.keys.length > 1 ? 's' : ''} ${iss.keys.join(', ')}`;
  }
  return `${what} must be an object; got ${show(iss.input)}`;
}

/**
 * The snake_case wire form of parsed parameters (what `datasets.params` stores).
 *
 * @param p - parameters as {@link GenerateParamsSchema} (or `parseGenerateParams`) returns them
 * @returns every field, defaults filled in
 * @example
 * generateParamsToWire(parseGenerateParams({ hostCount: 3 })).host_count; // 3
 */
export function generateParamsToWire(p: GenerateParams): Required<GenerateParamsWire> {
  return {
    seed: p.seed,
    host_count: p.hostCount,
    duration_s: p.durationS,
    interval_s: p.intervalS,
    start: p.start,
    regions: [...p.regions],
    projects: [...p.projects],
    anomaly_rate: p.anomalyRate,
    anomaly_types: { ...p.anomalyTypes },
    name: p.name,
  };
}

/** Number of time steps of a dataset: ⌊durationS / intervalS⌋. */
export function stepCount(p: Pick<GenerateParams, 'durationS' | 'intervalS'>): number {
  return Math.floor(p.durationS / p.intervalS);
}

/** Number of rows of a dataset: host count × time steps. */
export function totalRowCount(p: Pick<GenerateParams, 'durationS' | 'intervalS' | 'hostCount'>): number {
  return p.hostCount * stepCount(p);
}
