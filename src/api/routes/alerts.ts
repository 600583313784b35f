/**
 * Alert routes: `GET /alerts` lists the alerts of the live scorer and of dataset jobs, newest
 * first, filtered by host, model, dataset, source, state and suppression.
 */
import { AlertListSchema, ListAlertsQuerySchema, type AlertWire } from '../../contract/alerts.js';
import { listAlerts, type StoredAlert } from '../../db/alerts.js';
import type { ApiDeps } from '../deps.js';
import type { Router } from '../router.js';

/** The wire form of a stored alert. */
export function alertToWire(a: StoredAlert): AlertWire {
  return {
    id: a.id,
    source: a.source,
    job_id: a.jobId,
    model_id: a.modelId,
    dataset_id: a.datasetId,
    host_id: a.hostId,
    state: a.state,
    suppressed: a.suppressed,
    opened_at: a.openedAt.toISOString(),
    closed_at: a.closedAt?.toISOString() ?? null,
    peak_score: a.peakScore,
    top_metric: a.topMetric,
    records: a.records,
    updated_at: a.updatedAt.toISOString(),
  };
}

/** Registers the alert routes. */
export function register(router: Router, deps: ApiDeps): void {
  router.route({
    method: 'get',
    path: '/alerts',
    summary: 'List alerts, newest first',
    description:
      'Alerts of the live scorer (`source=live`) and of dataset jobs (`source=<job id>`), newest opened first. ' +
      'Filters, combined with AND: `host_id` (or `host`), `model_id`, `dataset_id`, `source`, `state` (`open`, `closed`), `suppressed` (`true`, `false`).',
    tags: ['alerts'],
    query: ListAlertsQuerySchema,
    response: AlertListSchema,
    handler: async ({ query }) => {
      // Only the filters given are passed on (the store treats a present key as a filter).
      const page = await listAlerts(deps.pool, {
        limit: query.limit,
        cursor: query.cursor ?? null,
        ...(query.host !== undefined && { host: query.host }),
        ...(query.modelId !== undefined && { modelId: query.modelId }),
        ...(query.datasetId !== undefined && { datasetId: query.datasetId }),
        ...(query.source !== undefined && { source: query.source }),
        ...(query.state !== undefined && { state: query.state }),
        ...(query.suppressed !== undefined && { suppressed: query.suppressed }),
      });
      return { items: page.items.map(alertToWire), next_cursor: page.nextCursor };
    },
  });
}
