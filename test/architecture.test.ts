/**
 * The shape of src/: no import circle (type-only, re-exports and dynamic imports count, as TypeScript's own
 * pre-processor lists them), and no source file over 400 lines unless its top comment says why ("over 400 lines
 * because …").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));
const MAX_LINES = 400;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) return sourceFiles(p);
      return p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
    });
}

/** Every relative module a file imports, resolved to a source path. */
function importsOf(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return info.importedFiles
    .map((f) => f.fileName)
    .filter((s) => s.startsWith('.'))
    .map((s) => resolve(dirname(file), s).replace(/\.js$/, '.ts'));
}

/** Circles in the import graph, each as the list of files (relative to root) around it. */
function cycles(files: readonly string[], root = SRC): string[][] {
  const edges = new Map(files.map((f) => [f, importsOf(f).filter((t) => t !== f)]));
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (v: string): void => {
    state.set(v, 'open');
    stack.push(v);
    for (const w of edges.get(v) ?? []) {
      if (state.get(w) === 'open') found.push([...stack.slice(stack.indexOf(w)), w].map((p) => relative(root, p)));
      else if (!state.has(w) && edges.has(w)) visit(w);
    }
    stack.pop();
    state.set(v, 'done');
  };
  for (const f of files) if (!state.has(f)) visit(f);
  return found;
}

test('the import graph of src/ has no circle', () => {
  const files = sourceFiles(SRC);
  assert.ok(files.length > 100, `${files.length} source files`);
  assert.deepEqual(
    cycles(files).map((c) => c.join(' → ')),
    [],
  );
});

test('the circle check sees a circle made of a type-only import and a dynamic import', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ws-cycles-'));
  try {
    writeFileSync(join(dir, 'a.ts'), "import type { B } from './b.js';\nexport type A = B;\n");
    writeFileSync(join(dir, 'b.ts'), "export type B = number;\nexport const load = () => import('./a.js');\n");
    writeFileSync(join(dir, 'c.ts'), "export * from './a.js';\n");
    const files = ['a.ts', 'b.ts', 'c.ts'].map((n) => join(dir, n));
    assert.deepEqual(cycles(files, dir), [['a.ts', 'b.ts', 'a.ts']]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The file's leading comment (the text before its first statement). */
function topComment(text: string): string {
  const m = /^\s*\/\*\*?([\s\S]*?)\*\//.exec(text);
  return m ? m[1] : '';
}

test(`no source file is over ${MAX_LINES} lines unless its top comment says why`, () => {
  const long: string[] = [];
  for (const f of sourceFiles(SRC)) {
    const text = readFileSync(f, 'utf8');
    const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
    if (lines > MAX_LINES && !/over \d+ lines because \S/i.test(topComment(text))) long.push(`${relative(SRC, f)}: ${lines} lines`);
  }
  assert.deepEqual(long, []);
});
