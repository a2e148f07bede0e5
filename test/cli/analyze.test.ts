/** The CLI as users run it: a child process, stdout/stderr and the exit code. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixture } from '../helpers/fixtures.js';
import { MAIN, runCli } from '../helpers/cli.js';
import { wwReference } from '../helpers/reference.js';

const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli(args, env);

test('analyze --json --csv on stories260k: WW rows, E-TPL/EXP objects, summary; CSV has the same rows', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ws-cli-'));
  try {
    const csv = join(dir, 'out.csv');
    const r = await cli(['analyze', fixture('stories260k', 'model.safetensors'), '--json', '--csv', csv]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '', 'no progress bar when stderr is not a TTY');
    const out = JSON.parse(r.stdout) as {
      model: { format: string; tensors: number; parameters: number };
      layers: Record<string, unknown>[];
      summary: Record<string, number>;
    };
    assert.equal(out.model.format, 'safetensors');
    assert.equal(out.model.tensors, 47);
    const want = wwReference('stories260k').fits.PL.layers;
    assert.deepEqual(
      out.layers.map((l) => [l.layer_id, l.name]),
      want.map((w) => [w.layer_id, w.name]),
    );
    const first = out.layers[0];
    // Every column WeightWatcher's own output has (the reference rows hold exactly its columns).
    const cols = Object.keys(want[0]);
    assert.equal(cols.length, 32);
    for (const c of cols) assert.ok(c in first, `column ${c}`);
    assert.ok(Math.abs((first.alpha as number) - (want[0].alpha as number)) <= 1e-6 * (want[0].alpha as number));
    for (const k of ['beta', 'lambda', 'xmin', 'D', 'loglik', 'status']) assert.ok(k in (first.etpl as object), `etpl.${k}`);
    for (const k of ['lambda', 'xmin', 'D', 'status']) assert.ok(k in (first.exp as object), `exp.${k}`);
    assert.equal(typeof out.summary.alpha, 'number');
    const lines = (await readFile(csv, 'utf8')).trimEnd().split('\n');
    assert.equal(lines.length, 1 + want.length);
    assert.ok(lines[0].startsWith('layer_id,name,longname,layer_type,N,M,rf,Q,'));
    assert.ok(lines[1].startsWith('0,model.embed_tokens,model.embed_tokens,dense,512,64,1,8,true,64,'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('analyze prints a table by default', async () => {
  const r = await cli(['analyze', fixture('fmnist-hessian', 'mlp48.safetensors'), '--fits', 'pl']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.match(lines[0], /^id\s+name\s+type\s+N\s+M\s+rf\s+alpha/);
  assert.match(lines[1], /^\s*0\s+layers\.0\s+dense\s+784\s+48\s+1\s+/);
  assert.match(r.stdout, /summary \(mean over layers\): .*alpha=/);
});

test('bad input: one line on stderr, exit 1; bad usage: exit 2; never a stack trace', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ws-cli-'));
  try {
    const junk = join(dir, 'junk.safetensors');
    await writeFile(junk, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3]));
    for (const [args, code] of [
      [['analyze', junk], 1],
      [['analyze', join(dir, 'nothing-here.safetensors')], 1],
      [['analyze'], 2],
      [['analyze', junk, '--fits', 'pl,foo'], 2],
      [['analyze', junk, '--min-evals', 'ten'], 2],
      [['analyze', junk, '--bogus'], 2],
      [['no-such-command'], 2],
    ] as [string[], number][]) {
      const r = await cli(args);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      const lines = r.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, `${args.join(' ')}: one line, got ${JSON.stringify(r.stderr)}`);
      assert.match(lines[0], /^weightscope: /);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('--help lists commands; the entry keeps its shebang', async () => {
  const r = await cli(['--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /analyze\s+per-layer heavy-tail/);
  assert.ok((await readFile(MAIN, 'utf8')).startsWith('#!/usr/bin/env node\n'));
});
