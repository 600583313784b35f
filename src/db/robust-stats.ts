/**
 * The database side of the exact robust statistics (the maths is src/core/stats/robust.ts): the
 * filtered second pass, in which PostgreSQL counts and sums over the dataset's rows and sends
 * back only the values the selection keeps.
 */
import { z } from 'zod';
import { Id } from '../contract/common.js';
import type { FilteredPassPlan, FilteredPassResult } from '../core/stats/robust.js';
import { METRICS } from '../core/types.js';
import { toDatabaseError } from './errors.js';
import type { Queryable } from './pool.js';

/** A double as an exact SQL float8 literal (JavaScript prints the shortest exact decimal). */
function float8(v: number): string {
  if (Number.isNaN(v)) throw new RangeError('a filtered pass bound must not be NaN');
  return `'${v === Infinity ? 'Infinity' : v === -Infinity ? '-Infinity' : String(v)}'::float8`;
}

const count = z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative()]).transform(Number);
const sum = z
  .union([z.number(), z.string()])
  .nullable()
  .transform((v) => (v === null ? 0 : Number(v)));

/**
 * The second pass of the exact robust statistics done by the database: one scan of the
 * dataset's rows that counts and sums what the selection only needs counted (values below and
 * above each median bracket, values surely inside the MAD bracket) and sends back only the
 * values it keeps — typically about 1 % of them — instead of streaming every row again.
 *
 * Exactness: the bounds travel as exact float8 literals and PostgreSQL compares and subtracts
 * doubles as IEEE 754 does, so the rows are split exactly as `RobustStatsBuilder.feed`
 * would split them; the builder classifies the kept values again and verifies the result. Sums
 * run in scan order with parallel workers off, so two trainings give identical sums.
 *
 * @param db - a connection, inside the training's transaction (the same snapshot as pass 1)
 * @param datasetId - the dataset (a UUID)
 * @param excludeAnomalies - leave out rows labelled anomalous, as the first pass did
 * @param plans - `RobustStatsBuilder.filteredPassPlan`, one per metric in METRICS order
 * @returns one result per metric, for `RobustStatsBuilder.applyFilteredPass`
 */
export async function filteredSecondPass(
  db: Queryable,
  datasetId: string,
  excludeAnomalies: boolean,
  plans: readonly FilteredPassPlan[],
): Promise<FilteredPassResult[]> {
  // Validate: identifiers come from fixed lists, numbers become exact literals.
  if (!Id.safeParse(datasetId).success)
    throw new TypeError(`datasetId must be a UUID; got ${JSON.stringify(datasetId)}`);
  if (plans.length !== METRICS.length) {
    throw new RangeError(`plans must hold ${METRICS.length} entries; got ${plans.length}`);
  }
  const selects: string[] = [];
  plans.forEach((p, j) => {
    const c = METRICS[j]!;
    const lo = float8(p.lo);
    const hi = float8(p.hi);
    const inside = `(${c} >= ${lo} AND ${c} <= ${hi})`;
    selects.push(`count(*) FILTER (WHERE ${c} < ${lo}) AS nb${j}`, `sum(abs(${c} - ${lo})) AS s${j}`);
    if (p.mad) {
      const dmax = `greatest(abs(${c} - ${lo}), abs(${c} - ${hi}))`;
      const dmin = `(CASE WHEN ${c} < ${lo} THEN ${lo} - ${c} WHEN ${c} > ${hi} THEN ${c} - ${hi} ELSE 0 END)`;
      const tmin = float8(p.mad.tmin);
      const tmax = float8(p.mad.tmax);
      selects.push(
        `count(*) FILTER (WHERE ${dmax} <= ${tmin}) AS nl${j}`,
        `array_agg(${c}) FILTER (WHERE ${inside} OR (${dmax} > ${tmin} AND ${dmin} <= ${tmax})) AS k${j}`,
      );
    } else {
      selects.push(`0 AS nl${j}`, `array_agg(${c}) FILTER (WHERE ${inside}) AS k${j}`);
    }
  });
  const where = [`dataset_id = '${datasetId}'`];
  if (excludeAnomalies) where.push('NOT is_anomaly');
  const sql = `SELECT ${selects.join(',\n       ')}\n  FROM host_telemetry_archival WHERE ${where.join(' AND ')}`;

  // Run: sums in scan order (no parallel workers), so that they are reproducible.
  let row: Record<string, unknown>;
  try {
    await db.query('SET LOCAL max_parallel_workers_per_gather = 0');
    const res = await db.query(sql);
    row = z.record(z.string(), z.unknown()).parse(res.rows[0]);
  } catch (err) {
    throw toDatabaseError(err);
  }

  // Interpret
  const values = z
    .array(z.union([z.number(), z.string()]).transform(Number))
    .nullable()
    .transform((a) => Float64Array.from(a ?? []));
  return plans.map((_, j) => ({
    countBelow: count.parse(row[`nb${j}`]),
    sumAbsFromLo: sum.parse(row[`s${j}`]),
    surelyLow: count.parse(row[`nl${j}`]),
    kept: values.parse(row[`k${j}`]),
  }));
}
