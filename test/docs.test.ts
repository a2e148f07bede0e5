/**
 * The repository stands alone: what the code cites lives in docs/. Comments may cite `docs/<page>.md` (and a
 * section `§N.M` of it), never the design notes a clone does not have; every docs page's relative links resolve.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const SELF = fileURLToPath(import.meta.url);

function files(dir: string, ext: RegExp): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) return name === 'node_modules' || name.startsWith('.') ? [] : files(p, ext);
      return ext.test(name) ? [p] : [];
    });
}

const code = ['src', 'test', 'bench', 'fuzz', 'scripts']
  .flatMap((d) => files(join(ROOT, d), /\.(ts|mjs|js|py|sh)$/))
  .filter((f) => f !== SELF);

/** Section numbers a page defines: headings that start with "N." or "N.M". */
function sections(page: string): Set<string> {
  const out = new Set<string>();
  for (const m of readFileSync(page, 'utf8').matchAll(/^#{2,4} (\d+(?:\.\d+)?)\.? /gm)) out.add(m[1]);
  return out;
}

test('no source cites a document outside the repository', () => {
  const outside = /\bDESIGN\.md\b|\bhtsr\.md\b|\bhessian_and_connectivity\.md\b|\becosystem\.md\b|shared\/research\b|\bresearch notes\b/;
  const hits = code.flatMap((f) =>
    readFileSync(f, 'utf8')
      .split('\n')
      .flatMap((line, i) => (outside.test(line) ? [`${relative(ROOT, f)}:${i + 1}`] : [])),
  );
  assert.deepEqual(hits, []);
});

test('every docs/ page and section the code cites exists', () => {
  const missing: string[] = [];
  for (const f of code) {
    for (const m of readFileSync(f, 'utf8').matchAll(/docs\/([\w-]+\.md)(?: §(\d+(?:\.\d+)?)(?:[–-](\d+(?:\.\d+)?))?)?/g)) {
      const page = join(ROOT, 'docs', m[1]);
      if (!existsSync(page)) {
        missing.push(`${relative(ROOT, f)}: docs/${m[1]}`);
        continue;
      }
      const have = sections(page);
      for (const s of [m[2], m[3]]) if (s && !have.has(s)) missing.push(`${relative(ROOT, f)}: docs/${m[1]} §${s}`);
    }
  }
  assert.deepEqual(missing, []);
  assert.ok(sections(join(ROOT, 'docs', 'algorithms.md')).has('1.5'), 'algorithms.md numbers its sections');
});

test('relative links between the docs and the README resolve', () => {
  const pages = [join(ROOT, 'README.md'), ...files(join(ROOT, 'docs'), /\.md$/)];
  const broken: string[] = [];
  for (const page of pages) {
    for (const m of readFileSync(page, 'utf8').matchAll(/\]\(([^)#:\s]+)(?:#[^)]*)?\)/g)) {
      if (!existsSync(resolve(dirname(page), m[1]))) broken.push(`${relative(ROOT, page)} → ${m[1]}`);
    }
  }
  assert.deepEqual(broken, []);
});
