/**
 * The service's layering (issue 18 item 4): no route module imports another route module (shared helpers live in
 * http/, stores or jobs/), and the stores and the queue know nothing of HTTP — they raise domain errors
 * (ServiceError, WeightscopeError) that problem.ts alone maps to problem+json.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './helpers.js';

const SERVICE = join(REPO, 'src', 'service');
const importsOf = (file: string): string[] =>
  [...readFileSync(file, 'utf8').matchAll(/^\s*(?:import|export)[^'"]*from\s+'([^']+)'/gm)].map((m) => m[1]);
const tsFiles = (dir: string): string[] =>
  readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f));

test('no route module imports another route module (routes/index.ts lists them)', () => {
  const routes = tsFiles(join(SERVICE, 'routes')).filter((f) => !f.endsWith('index.ts'));
  assert.ok(routes.length >= 8, `only ${routes.length} route modules found`);
  for (const f of routes) {
    const siblings = importsOf(f).filter((s) => /^\.\/[^/]+$/.test(s));
    assert.deepEqual(siblings, [], `${f} imports ${siblings.join(', ')}`);
  }
});

test('stores and the job queue import neither express nor the HTTP layer', () => {
  const domain = [...tsFiles(join(SERVICE, 'store')), ...tsFiles(join(SERVICE, 'jobs'))];
  for (const f of domain) {
    const bad = importsOf(f).filter((s) => s === 'express' || /(^|\/)(problem|validate|http\/[^']*|routes\/[^']*)\.js$/.test(s));
    assert.deepEqual(bad, [], `${f} imports ${bad.join(', ')}`);
  }
});
