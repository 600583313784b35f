/**
 * `GET /openapi.json`: the API's OpenAPI 3.1 document, generated from the very zod schemas the
 * router validates with ({@link Router.routes}), so the documentation cannot drift from what the
 * server accepts and answers. Built once, at the first request (every route is declared by
 * then), and served from memory after.
 */
import { z } from 'zod';
import { ErrorBodySchema } from '../contract/errors.js';
import { WsClientMessageSchema, WsServerMessageSchema } from '../contract/ws.js';
import type { ApiDeps } from './deps.js';
import { rawReply, type RouteDef, type Router } from './router.js';

/** A JSON Schema object (as z.toJSONSchema returns it). */
type JsonSchema = Record<string, unknown>;

/** The shape of the document as the route declares it (the body is sent pre-serialized). */
export const OpenApiDocumentSchema = z
  .object({
    openapi: z.string(),
    info: z.object({ title: z.string(), version: z.string() }).loose(),
    paths: z.record(z.string(), z.record(z.string(), z.unknown())),
  })
  .loose();
export type OpenApiDocument = z.infer<typeof OpenApiDocumentSchema>;

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Bad input: a parameter, the query or the body breaks the contract',
  404: 'Unknown id',
  409: 'Conflict with the resource’s state',
  413: 'Body larger than the configured limit',
  500: 'Unexpected server failure',
  503: 'Database unavailable',
};

/**
 * JSON Schema of what travels on the wire. Requests are parsed (zod input side); responses are
 * checked with `encode`, whose result is the input side too.
 */
function jsonSchema(schema: z.ZodType): JsonSchema {
  const out = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io: 'input',
    unrepresentable: 'any',
  }) as JsonSchema;
  delete out.$schema;
  return out;
}

/** `/datasets/:id/summary` → `/datasets/{id}/summary`. */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function parameters(def: RouteDef): JsonSchema[] {
  const out: JsonSchema[] = [];
  const add = (where: 'path' | 'query', schema: z.ZodType | undefined) => {
    if (!schema) return;
    const js = jsonSchema(schema);
    const props = (js.properties ?? {}) as Record<string, JsonSchema>;
    const required = new Set((js.required ?? []) as string[]);
    for (const [name, s] of Object.entries(props)) {
      const { description, ...rest } = s;
      out.push({
        name,
        in: where,
        required: where === 'path' || required.has(name),
        schema: rest,
        ...(typeof description === 'string' ? { description } : {}),
      });
    }
  };
  add('path', def.params);
  add('query', def.query);
  // Path parameters not covered by a schema are still parameters.
  for (const m of def.path.matchAll(/:([A-Za-z0-9_]+)/g)) {
    if (!out.some((p) => p.in === 'path' && p.name === m[1])) {
      out.push({ name: m[1], in: 'path', required: true, schema: { type: 'string' } });
    }
  }
  return out;
}

function operation(def: RouteDef): JsonSchema {
  const status = def.status ?? 200;
  const responses: Record<string, JsonSchema> = {};
  responses[String(status)] =
    status === 204
      ? { description: 'No content' }
      : { description: def.summary, content: { 'application/json': { schema: jsonSchema(def.response) } } };
  const errors = new Set<number>([400, 503, ...(def.errors ?? [])]);
  if (def.body) errors.add(413);
  for (const code of [...errors].sort((a, b) => a - b)) {
    responses[String(code)] = {
      description: ERROR_DESCRIPTIONS[code] ?? 'Error',
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
    };
  }
  const params = parameters(def);
  return {
    operationId: operationId(def),
    summary: def.summary,
    ...(def.description ? { description: def.description } : {}),
    tags: def.tags ?? [def.path.split('/').filter(Boolean)[0] ?? 'root'],
    ...(params.length > 0 ? { parameters: params } : {}),
    ...(def.body
      ? {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: jsonSchema(def.body) } },
          },
        }
      : {}),
    responses,
  };
}

/** `get /datasets/:id/summary` → `getDatasetsIdSummary`. */
function operationId(def: RouteDef): string {
  const words = def.path
    .split(/[/_:-]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1));
  return def.method + words.join('');
}

/**
 * Builds the OpenAPI 3.1 document of `routes`.
 *
 * @param routes - the router's declared routes
 * @param version - the API's version (the package version)
 * @throws Error when two routes map to one operation id
 * @example
 * const doc = buildOpenApi(router.routes, '0.1.0');
 * Object.keys(doc.paths); // ['/health', '/datasets', …]
 */
export function buildOpenApi(routes: readonly RouteDef[], version: string): OpenApiDocument {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  const ids = new Set<string>();
  for (const def of routes) {
    const op = operation(def);
    if (ids.has(op.operationId as string))
      throw new Error(`duplicate operation id ${String(op.operationId)}`);
    ids.add(op.operationId as string);
    (paths[openApiPath(def.path)] ??= {})[def.method] = op;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'TADS API',
      version,
      description:
        'Telemetry Anomaly Detection System. JSON, snake_case, RFC 3339 UTC timestamps; lists are ' +
        'paginated with `limit` and `cursor`, newest first. Errors: `{ "error": { "code", "message", ' +
        '"details" } }`. Live events: WebSocket `/ws`, messages in `components.schemas.WsServerMessage` ' +
        'and `WsClientMessage`. The dashboard is served under `/app/`.',
    },
    paths,
    components: {
      schemas: {
        Error: jsonSchema(ErrorBodySchema),
        WsServerMessage: jsonSchema(WsServerMessageSchema),
        WsClientMessage: jsonSchema(WsClientMessageSchema),
      },
    },
  };
}

/**
 * Route group of `GET /openapi.json`. Register it with the other groups; the document covers
 * every route of the router, itself included.
 */
export function register(router: Router, deps: ApiDeps): void {
  let cached: string | undefined;
  router.route({
    method: 'get',
    path: '/openapi.json',
    summary: 'This API’s OpenAPI 3.1 document, generated from its zod schemas',
    tags: ['meta'],
    response: OpenApiDocumentSchema,
    handler: () => {
      cached ??= JSON.stringify(buildOpenApi(router.routes, deps.version));
      return Promise.resolve(
        rawReply(200, cached, 'application/json; charset=utf-8', { 'cache-control': 'no-cache' }),
      );
    },
  });
}
