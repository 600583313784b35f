/**
 * The `model.json` format (format_version 1): its zod schema, its TypeScript type and the
 * cross-field checks a schema cannot express (every per-metric array has d entries, components are
 * k × d, limits positive). Field names are snake_case, as on every wire of TADS.
 */
import { z } from 'zod';

const finite = z.number().refine(Number.isFinite, 'must be finite');
const finiteArray = z.array(finite);

/** Ways the SPE limit can have been set. */
export const SPE_LIMIT_METHODS = ['jackson_mudholkar', 'box', 'empirical', 'residual_floor', 'none'] as const;
export type SpeLimitMethod = (typeof SPE_LIMIT_METHODS)[number];

/** How the SPE limit was set, with the figures used. */
export const speLimitInfoSchema = z.strictObject({
  method: z.enum(SPE_LIMIT_METHODS),
  /** Significance level (Jackson–Mudholkar, Box, residual floor). */
  alpha: finite.optional(),
  /** θ₁, θ₂, θ₃: sums of the discarded eigenvalues' first three powers. */
  theta: z.tuple([finite, finite, finite]).optional(),
  h0: finite.optional(),
  /** Standard normal upper quantile at alpha (Jackson–Mudholkar). */
  z_alpha: finite.optional(),
  /** Box's g, h and χ²₁₋α(h). */
  g: finite.optional(),
  h: finite.optional(),
  chi2_quantile: finite.optional(),
  /** Quantile level of the training SPE (empirical). */
  quantile: finite.optional(),
  /** Number of training SPE values the empirical quantile was taken over. */
  n: finite.optional(),
});
/** How the SPE limit of a model was set: its method and the figures that method used. */
export type SpeLimitInfo = z.infer<typeof speLimitInfoSchema>;

/** The zod schema of model.json. */
export const modelJsonSchema = z.strictObject({
  format_version: z.literal(1),
  metrics: z.array(z.string().min(1)).min(1),
  mean: finiteArray,
  scale: finiteArray,
  components: z.array(finiteArray).min(1),
  /** All d eigenvalues of the standardised covariance, descending. */
  eigenvalues: finiteArray,
  /** All d explained variance ratios. */
  explained_variance_ratio: finiteArray,
  n_components: z.number().int().min(1),
  n_samples: z.number().int().min(2),
  median: finiteArray,
  mad: finiteArray,
  /** The robust scale in use (DESIGN.md's fallbacks applied). */
  z_scale: finiteArray,
  spe_limit: finite,
  t2_limit: finite,
  z_limit: finite,
  limits: z.strictObject({
    spe: speLimitInfoSchema,
    t2: z.strictObject({ method: z.literal('f_distribution'), alpha: finite, f_quantile: finite }),
    z: z.strictObject({ method: z.literal('fixed'), given: z.boolean() }),
  }),
  dataset_id: z.string().nullable(),
  params: z.record(z.string(), z.unknown()),
  trained_at: z.string().min(1),
});

/** A parsed model.json. */
export type ModelJson = z.infer<typeof modelJsonSchema>;

/**
 * Checks what the schema cannot: per-metric lengths, the k × d components, the range of k,
 * positive scales and limits. Throws a RangeError naming the field, the expectation and the value.
 */
export function checkModelShape(m: ModelJson): void {
  const d = m.metrics.length;
  const k = m.n_components;
  const fail = (field: string, expected: string, got: unknown): never => {
    throw new RangeError(`model.${field} must be ${expected}; got ${String(got)}`);
  };
  for (const field of [
    'mean',
    'scale',
    'eigenvalues',
    'explained_variance_ratio',
    'median',
    'mad',
    'z_scale',
  ] as const) {
    if (m[field].length !== d) fail(`${field}.length`, `${d} (one per metric)`, m[field].length);
  }
  if (new Set(m.metrics).size !== d) fail('metrics', 'unique names', m.metrics.join(', '));
  const kMax = Math.max(1, d - 1);
  if (k > kMax) fail('n_components', `an integer in [1, ${kMax}]`, k);
  if (m.components.length !== k) fail('components.length', `n_components = ${k}`, m.components.length);
  m.components.forEach((row, c) => {
    if (row.length !== d) fail(`components[${c}].length`, `${d}`, row.length);
  });
  if (m.n_samples <= k + 1) fail('n_samples', `> n_components + 1 = ${k + 1}`, m.n_samples);
  m.scale.forEach((v, j) => {
    if (!(v > 0)) fail(`scale[${j}]`, '> 0', v);
  });
  m.z_scale.forEach((v, j) => {
    if (!(v > 0)) fail(`z_scale[${j}]`, '> 0', v);
  });
  m.mad.forEach((v, j) => {
    if (!(v >= 0)) fail(`mad[${j}]`, '>= 0', v);
  });
  m.eigenvalues.forEach((v, i) => {
    if (i < k ? !(v > 0) : !(v >= 0)) fail(`eigenvalues[${i}]`, i < k ? '> 0' : '>= 0', v);
  });
  if (d === 1) {
    if (m.limits.spe.method !== 'none')
      fail('limits.spe.method', "'none' when there is one metric", m.limits.spe.method);
    if (m.spe_limit !== 0) fail('spe_limit', '0 when there is one metric', m.spe_limit);
  } else {
    if (m.limits.spe.method === 'none')
      fail('limits.spe.method', 'a method other than none when d > 1', 'none');
    if (!(m.spe_limit > 0)) fail('spe_limit', '> 0', m.spe_limit);
  }
  if (!(m.t2_limit > 0)) fail('t2_limit', '> 0', m.t2_limit);
  if (!(m.z_limit > 0)) fail('z_limit', '> 0', m.z_limit);
}
