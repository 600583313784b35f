/**
 * `GET /openapi.json` (src/api/openapi.ts) from a full server: bad query first, then coverage —
 * every route the router declares is in the document with its parameters, body, success schema
 * and error responses — and the document is the one built from the router's own schemas.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOpenApi, openApiPath } from '../../src/api/openapi.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

type Json = Record<string, unknown>;

let srv: TestServer;
let doc: Json & {
  paths: Record<string, Record<string, Json>>;
  components: { schemas: Record<string, Json> };
};

beforeAll(async () => {
  srv = await startTestServer();
  const res = await fetch(`${srv.apiUrl}/openapi.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  doc = (await res.json()) as typeof doc;
});
afterAll(async () => {
  await srv?.close();
});

describe('GET /openapi.json', () => {
  it('refuses a query it does not take', async () => {
    const res = await fetch(`${srv.apiUrl}/openapi.json?format=yaml`);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_input' } });
  });

  it('is OpenAPI 3.1 with the package version', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info).toMatchObject({ title: 'TADS API' });
    expect(String((doc.info as Json).version)).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('covers every declared route, and nothing else', () => {
    const routes = srv.system.api.router.routes;
    const declared = routes.map((r) => `${r.method} ${openApiPath(r.path)}`).sort();
    const documented = Object.entries(doc.paths)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`))
      .sort();
    expect(documented).toEqual(declared);
    // The routes of DESIGN.md are among them.
    for (const r of [
      'get /health',
      'get /datasets',
      'post /datasets',
      'get /datasets/{id}',
      'delete /datasets/{id}',
      'get /datasets/{id}/summary',
      'get /datasets/{id}/topk',
      'get /datasets/{id}/timeseries',
      'get /datasets/{id}/histogram',
      'get /models',
      'get /models/{id}',
      'delete /models/{id}',
      'post /train',
      'post /inference',
      'get /inference_runs',
      'get /inference_runs/{id}',
      'post /jobs/score_dataset',
      'get /jobs',
      'get /jobs/{id}',
      'get /jobs/{id}/progress',
      'post /jobs/{id}/cancel',
      'get /models/{id}/eval',
      'get /models/{id}/error_distribution',
      'get /alerts',
      'get /openapi.json',
    ]) {
      expect(declared, r).toContain(r);
    }
  });

  it('gives every operation its parameters, body, success schema and error responses', () => {
    for (const def of srv.system.api.router.routes) {
      const op = doc.paths[openApiPath(def.path)]![def.method] as Json & {
        responses: Record<string, Json & { content?: Record<string, { schema: Json }> }>;
        parameters?: { name: string; in: string; required: boolean }[];
        requestBody?: Json;
      };
      const where = `${def.method} ${def.path}`;
      const status = String(def.status ?? 200);
      const success = op.responses[status]!;
      expect(success, where).toBeDefined();
      if (status !== '204') {
        const schema = success.content!['application/json']!.schema;
        // A schema that degraded to "anything" would be an empty object.
        expect(Object.keys(schema).length, where).toBeGreaterThan(0);
      }
      for (const code of ['400', '503', ...(def.errors ?? []).map(String)]) {
        expect(op.responses[code]?.content?.['application/json']?.schema, `${where} ${code}`).toEqual({
          $ref: '#/components/schemas/Error',
        });
      }
      expect(Boolean(op.requestBody), where).toBe(Boolean(def.body));
      if (def.body) expect(op.responses['413'], where).toBeDefined();
      for (const m of def.path.matchAll(/:(\w+)/g)) {
        expect(op.parameters, where).toContainEqual(
          expect.objectContaining({ name: m[1], in: 'path', required: true }),
        );
      }
    }
  });

  it('documents query parameters from the query schemas', () => {
    const list = doc.paths['/datasets']!.get as {
      parameters: { name: string; in: string; required: boolean }[];
    };
    expect(list.parameters).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'limit', in: 'query', required: false }),
        expect.objectContaining({ name: 'cursor', in: 'query', required: false }),
        expect.objectContaining({ name: 'status', in: 'query', required: false }),
      ]),
    );
    const topk = doc.paths['/datasets/{id}/topk']!.get as { parameters: { name: string; schema: Json }[] };
    const column = topk.parameters.find((p) => p.name === 'column')!;
    expect(JSON.stringify(column.schema)).toContain('anomaly_type');
  });

  it('describes the error body and the WebSocket messages', () => {
    const error = doc.components.schemas.Error as { properties: { error: { properties: Json } } };
    expect(Object.keys(error.properties.error.properties).sort()).toEqual(['code', 'details', 'message']);
    expect(JSON.stringify(doc.components.schemas.WsServerMessage)).toContain('alert.opened');
    expect(JSON.stringify(doc.components.schemas.WsClientMessage)).toContain('subscribe');
  });

  it('is exactly the document built from the router’s schemas', () => {
    expect(doc).toEqual(
      JSON.parse(
        JSON.stringify(buildOpenApi(srv.system.api.router.routes, String((doc.info as Json).version))),
      ),
    );
  });
});
