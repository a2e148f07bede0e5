/**
 * The OpenAPI 3.1 document, generated from the route list (routes/index.ts: each operation's own OpenAPI object and
 * the zod schemas it validates with, turned into components by zod 4's z.toJSONSchema — JSON Schema 2020-12, which
 * OpenAPI 3.1 uses as is). api-spec/openapi.json is this document; a test fails when they differ, and another when
 * a route registered on the express app is missing here (or a path here has no route). Regenerate: `npm run openapi`.
 */
import { z } from 'zod';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { documentPaths, type Operation } from './http/operation.js';
import type { Json } from './http/doc.js';
import { OPERATIONS } from './routes/index.js';

/** package.json's version (two folders up from src/service and from dist/service alike). */
const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Every schema an operation names, as components by id (one id, one schema). */
function components(ops: readonly Operation[]): Record<string, Json> {
  const reg = z.registry<{ id: string }>();
  const seen = new Map<string, z.ZodType>();
  for (const [id, schema] of ops.flatMap((op) => op.components ?? [])) {
    const prior = seen.get(id);
    if (prior === schema) continue;
    if (prior) throw new Error(`two schemas are documented as component ${id}`);
    seen.set(id, schema);
    reg.add(schema, { id });
  }
  const out = z.toJSONSchema(reg, { target: 'draft-2020-12', io: 'input', uri: (id) => `#/components/schemas/${id}` });
  const schemas: Record<string, Json> = {};
  for (const [id, s] of Object.entries(out.schemas)) {
    const { $schema: _s, $id: _i, ...rest } = s as Json;
    schemas[id] = rest;
  }
  return schemas;
}

export function buildOpenApi(ops: readonly Operation[] = OPERATIONS): Json {
  return {
    openapi: '3.1.0',
    info: {
      title: 'weightscope',
      version: PACKAGE_VERSION,
      description:
        'Data-free HT-SR diagnostics of checkpoints (upload or import models, analyse, rank) and, with data, Hessian spectra, model comparison, mode connectivity, backdoor repair, neural collapse, local entropy and the loss-landscape taxonomy. Errors are RFC 9457 problem+json with a stable `type`.',
    },
    // Relative: the document describes whichever server serves it (npm start's is http://127.0.0.1:8080).
    servers: [{ url: '/' }],
    components: {
      schemas: components(ops),
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'One of WEIGHTSCOPE_API_KEYS (only when set)' } },
    },
    security: [{ bearer: [] }, {}],
    paths: documentPaths(ops),
  };
}

// `npx tsx src/service/openapi.ts` prints the document (the `npm run openapi` script writes it to api-spec/).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.stdout.write(JSON.stringify(buildOpenApi(), null, 2) + '\n');
}
