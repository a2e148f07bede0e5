/** `weightscope rank` as users run it: a child process; values are the WeightWatcher means, order by direction. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixture, SHARED } from '../helpers/fixtures.js';
import { runCli } from '../helpers/cli.js';

const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli(args, env);

async function wwMeanAlpha(name: string): Promise<number> {
  const ref = JSON.parse(await readFile(join(SHARED, 'reference', 'weightwatcher', `${name}.json`), 'utf8')) as {
    fits: { PL: { layers: { alpha: number }[] } };
  };
  const a = ref.fits.PL.layers.map((l) => l.alpha);
  return a.reduce((s, v) => s + v, 0) / a.length;
}

test('rank --json --scores: ordered by mean alpha (ascending), values = WW means, correlation present', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ws-rank-'));
  try {
    const stories = fixture('stories260k', 'model.safetensors');
    const mlp = fixture('fmnist-hessian', 'mlp48.safetensors');
    const scores = join(dir, 'scores.json');
    await writeFile(scores, JSON.stringify({ [stories]: 1, [mlp]: 2 }));
    const r = await cli(['rank', stories, mlp, '--json', '--scores', scores]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as {
      metric: string;
      direction: string;
      rows: { model: string; value: number; rank: number }[];
      correlation: { n: number; spearman: { rho: number } };
    };
    assert.equal(out.direction, 'asc');
    assert.deepEqual(
      out.rows.map((x) => x.model),
      [mlp, stories],
    );
    const [m1, m2] = [await wwMeanAlpha('fmnist-hessian-mlp48'), await wwMeanAlpha('stories260k')];
    assert.ok(Math.abs(out.rows[0].value - m1) <= 1e-6 * m1);
    assert.ok(Math.abs(out.rows[1].value - m2) <= 1e-6 * m2);
    // The larger mean alpha (stories) has the smaller score: values and scores go opposite ways.
    assert.equal(out.correlation.n, 2);
    assert.equal(out.correlation.spearman.rho, -1);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('rank: unknown metric and a single model are usage errors (exit 2)', async () => {
  const bad = await cli(['rank', 'a', 'b', '--metric', 'beauty']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown metric "beauty"/);
  const one = await cli(['rank', fixture('stories260k', 'model.safetensors')]);
  assert.equal(one.code, 2);
});

test('rank across families: the table says so and ranks within each family (model_type, else layer signature)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ws-rank-fam-'));
  try {
    const stories = fixture('stories260k'); // config.json: model_type llama
    const gpt2 = fixture('gpt2-tiny'); // model_type gpt2
    const mlpA = fixture('surface-mlp', 'm1.safetensors'); // no config: the layer signature
    const mlpB = fixture('surface-mlp', 'm2.safetensors');
    const scores = join(dir, 'scores.json');
    await writeFile(scores, JSON.stringify({ [stories]: 1, [gpt2]: 2, [mlpA]: 3, [mlpB]: 4 }));
    const r = await cli(['rank', stories, gpt2, mlpA, mlpB, '--json', '--scores', scores, '--no-cache']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as {
      rows: { model: string; rank: number }[];
      cross_family: boolean;
      note: string;
      correlation: { cross_family: boolean; n: number };
      families: { family: string; rows: { model: string; rank: number }[]; correlation?: { n: number } }[];
    };
    assert.equal(out.rows.length, 4);
    assert.equal(out.cross_family, true);
    assert.equal(out.correlation.cross_family, true);
    assert.match(out.note, /evidence does not support a ranking/);
    const fam = Object.fromEntries(out.families.map((f) => [f.family, f.rows.map((x) => x.model)]));
    assert.deepEqual(fam.llama, [stories]);
    assert.deepEqual(fam.gpt2, [gpt2]);
    const sig = out.families.find((f) => f.family.startsWith('signature:'))!;
    assert.deepEqual(new Set(sig.rows.map((x) => x.model)), new Set([mlpA, mlpB]));
    assert.deepEqual(
      sig.rows.map((x) => x.rank),
      [1, 2],
    );
    assert.equal(sig.correlation?.n, 2);
    const table = await cli(['rank', stories, gpt2, '--no-cache']);
    assert.match(table.stdout, /note: these models come from different families/);
    assert.match(table.stdout, /family llama:\n1 /);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
