/**
 * Every route the express app registers is an operation of the OpenAPI document, and every operation there is a
 * registered route. Routes come from router 2.3's public `listRoutes()` (express 5's `app.router`), recursing into
 * mounted routers, on the app exactly as server.ts builds it (not listening).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createApp } from '../../src/service/app.js';
import { loadConfig } from '../../src/service/config.js';
import { apiDocument } from '../../src/service/routes/index.js';
import { buildContext } from '../../src/service/server.js';
import { tempDataDir } from './helpers.js';

interface RouteInfo {
  path: string | RegExp;
  methods: string[] | undefined;
  router: unknown;
}
interface Lister {
  listRoutes(): RouteInfo[];
}
const isLister = (x: unknown): x is Lister => typeof (x as Partial<Lister> | null)?.listRoutes === 'function';

/** Routes registered only with WEIGHTSCOPE_DEBUG_JOBS=1, for tests; deliberately not part of the public API. */
const UNDOCUMENTED = new Set(['POST /v1/debug/jobs']);

/** express path syntax → OpenAPI template: `/a/:id` → `/a/{id}`; wildcards and optional parts are not expected. */
function toTemplate(path: string): string {
  if (/[*{}()?]/.test(path)) throw new Error(`route path ${path} uses syntax this test cannot map to OpenAPI; extend toTemplate()`);
  return path.replace(/:(\w+)/g, '{$1}');
}

/** "METHOD /path" of every route, mounted routers included (HEAD, automatic for GET, is left out). */
function registeredOperations(router: unknown, prefix = ''): string[] {
  assert.ok(isLister(router), 'express app.router has no listRoutes() (router >= 2.3 is needed)');
  const out: string[] = [];
  for (const r of router.listRoutes()) {
    assert.equal(typeof r.path, 'string', `a route registered with a RegExp (${String(r.path)}) cannot be checked`);
    const path = prefix + (r.path === '/' && r.router ? '' : (r.path as string)) || '/';
    if (r.router) {
      out.push(...registeredOperations(r.router, path === '/' ? '' : path));
      continue;
    }
    assert.ok(r.methods && r.methods.length > 0, `route ${path} has no methods`);
    for (const m of r.methods) {
      assert.notEqual(m, '*', `route ${path} uses .all(); document its methods explicitly`);
      if (m !== 'HEAD') out.push(`${m} ${toTemplate(path)}`);
    }
  }
  return out;
}

const METHODS = new Set(['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace']);

function documentedOperations(): string[] {
  const doc = apiDocument() as { paths: Record<string, Record<string, unknown>> };
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.keys(item)
      .filter((k) => METHODS.has(k))
      .map((m) => `${m.toUpperCase()} ${path}`),
  );
}

async function appOperations(env: Record<string, string>): Promise<string[]> {
  const t = tempDataDir();
  const ctx = buildContext(
    loadConfig({ WEIGHTSCOPE_DATA: t.dir, WEIGHTSCOPE_MODELS_DIR: join(t.dir, 'no-models'), HF_HUB_CACHE: join(t.dir, 'no-hf'), ...env }),
  );
  try {
    return registeredOperations(createApp(ctx).router);
  } finally {
    await ctx.queue.close();
    ctx.db.close();
    t.cleanup();
  }
}

test('every route registered on the app is documented in apiDocument(), and every documented operation is registered', async () => {
  const registered = await appOperations({});
  const documented = documentedOperations();
  assert.ok(registered.length >= 29, `only ${registered.length} routes found: is the walk still seeing mounted routers?`);
  assert.equal(new Set(registered).size, registered.length, `a route is registered twice: ${registered.join(', ')}`);
  const missing = registered.filter((op) => !documented.includes(op));
  assert.deepEqual(missing, [], `routes missing from src/service/openapi.ts (then run npm run openapi): ${missing.join(', ')}`);
  const stale = documented.filter((op) => !registered.includes(op));
  assert.deepEqual(stale, [], `documented operations with no route: ${stale.join(', ')}`);
});

test('with debug jobs on, the only undocumented routes are the known debug ones', async () => {
  const registered = await appOperations({ WEIGHTSCOPE_DEBUG_JOBS: '1' });
  const documented = new Set(documentedOperations());
  assert.deepEqual(registered.filter((op) => !documented.has(op)).sort(), [...UNDOCUMENTED].sort());
});

test('the route walk maps express paths to OpenAPI templates and fails loudly on what it cannot map', () => {
  assert.equal(toTemplate('/v1/analyses/:id/esd/:layer'), '/v1/analyses/{id}/esd/{layer}');
  assert.throws(() => toTemplate('/v1/files/*rest'), /cannot map/);
});

test('every {param} of a documented path is declared as a required path parameter, and nothing else is', () => {
  const doc = apiDocument() as { paths: Record<string, Record<string, unknown>> };
  for (const [path, item] of Object.entries(doc.paths)) {
    const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    for (const [key, op] of Object.entries(item)) {
      if (!METHODS.has(key)) continue;
      const params = [
        ...((item.parameters ?? []) as { name: string; in: string; required?: boolean }[]),
        ...(((op as { parameters?: unknown[] }).parameters ?? []) as { name: string; in: string; required?: boolean }[]),
      ];
      const declared = params.filter((p) => p.in === 'path');
      assert.deepEqual(declared.map((p) => p.name).sort(), inPath, `${key.toUpperCase()} ${path}`);
      for (const p of declared) assert.equal(p.required, true, `${path}: ${p.name} must be required`);
    }
  }
});
