/**
 * The route groups of the API, in registration order. A group is a module exporting
 * `register(router, deps)`; add new groups to this list.
 */
import type { ApiDeps } from '../deps.js';
import * as openapi from '../openapi.js';
import type { Router } from '../router.js';
import * as dashboard from '../static.js';
import * as ws from '../ws.js';
import * as alerts from './alerts.js';
import * as analytics from './analytics.js';
import * as datasets from './datasets.js';
import * as evaluation from './evaluation.js';
import * as health from './health.js';
import * as inference from './inference.js';
import * as jobs from './jobs.js';
import * as models from './models.js';

/** A route group. */
export interface RouteGroup {
  register(router: Router, deps: ApiDeps): void;
}

/** Every route group of the API. */
export const ROUTE_GROUPS: readonly RouteGroup[] = [
  health,
  datasets,
  analytics,
  models,
  jobs,
  evaluation,
  inference,
  alerts,
  ws,
  dashboard,
  openapi,
];
