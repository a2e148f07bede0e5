/**
 * Acceptance (issue 13): an analysis killed part-way (SIGKILL, as a crash or Ctrl-\ would) and restarted with the
 * same options recomputes no finished layer: the restart's eigensolve count is the number of layers the first run
 * had not finished (as recorded in the per-layer cache when it died).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { writeSafetensors } from '../../src/io/safetensors-writer.js';
import { gaussian } from '../linalg/linalg-fixtures.js';
import { MAIN, ROOT, runCli } from '../helpers/cli.js';

const LAYERS = 16;
const SIDE = 480;

test('kill -9 mid-analysis, restart: no finished layer is solved again', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ws-resume-'));
  try {
    const model = join(dir, 'model.safetensors');
    await writeSafetensors(
      model,
      Array.from({ length: LAYERS }, (_, i) => ({
        name: `layer${String(i).padStart(2, '0')}.weight`,
        dtype: 'F32' as const,
        shape: [SIDE, SIDE],
        data: gaussian(SIDE * SIDE, i + 1),
      })),
    );
    const env = { ...process.env, WEIGHTSCOPE_DATA: join(dir, 'data') };
    // The pure-TypeScript solver and one worker make each layer take a while, so the kill lands mid-run.
    const args = ['analyze', model, '--json', '--fits', 'pl', '--eigen-backend', 'ts', '--workers', '1', '--progress'];
    const reported = new Set<number>();
    const killed = await new Promise<boolean>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
      let buf = '';
      let sent = false;
      child.stderr.on('data', (d: Buffer) => {
        buf += d.toString();
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          const ev = JSON.parse(line) as { type: string; done: number; layer_id?: number };
          if (ev.type === 'progress' && ev.layer_id !== undefined) reported.add(ev.layer_id);
          if (!sent && ev.type === 'progress' && ev.done >= 2) {
            sent = true;
            child.kill('SIGKILL');
          }
        }
      });
      child.on('error', reject);
      child.on('exit', (_code, signal) => resolve(signal === 'SIGKILL'));
    });
    assert.ok(killed, 'the first run was killed before it finished (make the layers bigger if this machine is faster)');
    const db = new Database(join(dir, 'data', 'cache', 'layers.db'), { readonly: true });
    const finished = (db.prepare('SELECT COUNT(*) AS n FROM spectra').get() as { n: number }).n;
    db.close();
    assert.ok(finished >= reported.size && finished >= 2 && finished < LAYERS, `finished ${finished}, reported ${reported.size}`);

    const again = await runCli(['analyze', model, '--json', '--fits', 'pl', '--eigen-backend', 'ts', '--workers', '1'], {
      WEIGHTSCOPE_DATA: join(dir, 'data'),
    });
    assert.equal(again.code, 0, again.stderr);
    const out = JSON.parse(again.stdout) as { layers: { status: string }[]; work: { layers_computed: number; layers_cached: number } };
    assert.equal(out.layers.length, LAYERS);
    assert.ok(out.layers.every((l) => l.status === 'success'));
    assert.equal(out.work.layers_cached, finished, 'every layer finished before the kill comes from the cache');
    assert.equal(out.work.layers_computed, LAYERS - finished, 'eigensolves in the restart = layers not finished before the kill');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
