/** `GET /health`: the server answers and its database does (503 when it does not). */
import { HealthSchema } from '../../contract/common.js';
import type { ApiDeps } from '../deps.js';
import type { Router } from '../router.js';

/** Registers `GET /health`. */
export function register(router: Router, deps: ApiDeps): void {
  router.route({
    method: 'get',
    path: '/health',
    summary: 'Liveness and database reachability',
    tags: ['health'],
    response: HealthSchema,
    errors: [503],
    handler: async () => {
      const t0 = performance.now();
      await deps.pool.query('SELECT 1');
      return { status: 'ok' as const, version: deps.version, database_ms: performance.now() - t0 };
    },
  });
}
