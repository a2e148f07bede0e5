import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { apiDocument } from '../../src/service/routes/index.js';

test('api-spec/openapi.json equals the document generated from the zod schemas (regenerate: npm run openapi)', () => {
  const onDisk = JSON.parse(readFileSync(new URL('../../api-spec/openapi.json', import.meta.url), 'utf8')) as unknown;
  assert.deepEqual(onDisk, apiDocument());
});

test('the document is OpenAPI 3.1 and every $ref resolves', () => {
  const doc = apiDocument() as { openapi: string; components: { schemas: Record<string, unknown> }; paths: Record<string, unknown> };
  assert.equal(doc.openapi, '3.1.0');
  const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]);
  assert.ok(refs.length > 20);
  for (const r of refs) assert.ok(r in doc.components.schemas, `dangling $ref ${r}`);
  for (const p of [
    '/v1/models',
    '/v1/models/import',
    '/v1/analyses',
    '/v1/rankings',
    '/v1/jobs/{id}',
    '/v1/jobs/{id}/events',
    '/healthz',
    '/metrics',
  ]) {
    assert.ok(p in doc.paths, p);
  }
  // The ranking metric enum is the one the server validates against.
  const metric = doc.components.schemas.RankingMetric as { enum: string[] };
  assert.deepEqual(metric.enum, [
    'alpha',
    'alpha_weighted',
    'log_alpha_norm',
    'log_norm',
    'log_spectral_norm',
    'stable_rank',
    'etpl_beta',
    'etpl_lambda',
    'exp_lambda',
  ]);
});

test('the document takes its version from package.json and names no fixed server address', () => {
  const doc = apiDocument() as { info: { version: string }; servers: { url: string }[] };
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(doc.info.version, pkg.version);
  assert.deepEqual(doc.servers, [{ url: '/' }]);
});
