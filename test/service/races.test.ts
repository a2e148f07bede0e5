/**
 * Issue 16 finding 5: identical uploads at once are one model (no 500, no row without files); an upload racing a
 * delete leaves either a complete model or none; an import copies the file (rewriting the original cannot change a
 * stored blob); blobs and model folders a crash left without rows are swept at start; finished jobs are kept for
 * WEIGHTSCOPE_RETENTION_DAYS.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture } from '../helpers/fixtures.js';
import { startTestServer, tempDataDir } from './helpers.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const STORIES = fixture('stories260k', 'model.safetensors');

async function upload(base: string, body: Uint8Array): Promise<{ status: number; body: Json }> {
  const r = await fetch(`${base}/v1/models`, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });
  return { status: r.status, body: (await r.json()) as Json };
}

function modelIsWhole(dataDir: string, m: Json): void {
  for (const f of m.files as Json[]) {
    const p = join(dataDir, 'models', m.id, f.name);
    assert.ok(existsSync(p), `model ${m.id} lists ${f.name}, which is missing`);
    assert.equal(createHash('sha256').update(readFileSync(p)).digest('hex'), f.sha256);
    assert.ok(existsSync(join(dataDir, 'blobs', f.sha256)), `blob ${f.sha256} missing`);
  }
}

test('identical uploads at once: one 201, the rest 200, one model whose files are all there', async () => {
  const s = await startTestServer({ WEIGHTSCOPE_MAX_UPLOADS: '8' });
  try {
    const bytes = readFileSync(STORIES);
    const rs = await Promise.all(Array.from({ length: 6 }, () => upload(s.url, bytes)));
    assert.deepEqual(rs.map((r) => r.status).sort(), [200, 200, 200, 200, 200, 201], JSON.stringify(rs.map((r) => r.body)));
    assert.equal(new Set(rs.map((r) => r.body.id)).size, 1);
    const { models } = (await (await fetch(`${s.url}/v1/models`)).json()) as Json;
    assert.equal(models.length, 1);
    modelIsWhole(s.dataDir, models[0]);
  } finally {
    await s.cleanup();
  }
});

test('uploads racing deletes of the same content: every stored model is whole, no blob without a model', async () => {
  const s = await startTestServer();
  try {
    const bytes = readFileSync(STORIES);
    const id = (await upload(s.url, bytes)).body.id as string;
    for (let round = 0; round < 8; round++) {
      const results = await Promise.all([
        upload(s.url, bytes),
        fetch(`${s.url}/v1/models/${id}`, { method: 'DELETE' }).then((r) => ({ status: r.status, body: {} })),
        upload(s.url, bytes),
      ]);
      for (const r of results) assert.ok([200, 201, 204, 404].includes(r.status), JSON.stringify(r));
      const { models } = (await (await fetch(`${s.url}/v1/models`)).json()) as Json;
      for (const m of models) modelIsWhole(s.dataDir, m);
      const blobs = readdirSync(join(s.dataDir, 'blobs'));
      assert.equal(blobs.length, models.length, `blobs ${blobs.join(',')} for ${models.length} model(s)`);
    }
  } finally {
    await s.cleanup();
  }
});

test('an imported file is copied: rewriting the original in place leaves the stored model unchanged', async () => {
  const t = tempDataDir();
  const root = join(t.dir, 'imports');
  mkdirSync(root);
  const original = join(root, 'model.safetensors');
  writeFileSync(original, readFileSync(STORIES));
  const s = await startTestServer({ WEIGHTSCOPE_IMPORT_ROOTS: root });
  try {
    const r = await fetch(`${s.url}/v1/models/import`, {
      method: 'POST',
      body: JSON.stringify({ path: original }),
      headers: { 'content-type': 'application/json' },
    });
    const m = (await r.json()) as Json;
    assert.equal(r.status, 201, JSON.stringify(m));
    // Same inode, new bytes (what an editor or a training run writing its checkpoint does).
    const changed = readFileSync(STORIES);
    changed[changed.length - 1] ^= 0xff;
    writeFileSync(original, changed);
    modelIsWhole(s.dataDir, m);
  } finally {
    await s.cleanup();
    t.cleanup();
  }
});

test('at start, blobs and model folders without rows (a crash between commit and insert) are removed; stored ones stay', async () => {
  const t = tempDataDir();
  let s = await startTestServer({}, t.dir);
  const kept = (await upload(s.url, readFileSync(STORIES))).body;
  await s.close();
  const orphanBlob = join(t.dir, 'blobs', 'ab'.repeat(32));
  writeFileSync(orphanBlob, 'left by a crash');
  const orphanDir = join(t.dir, 'models', 'cd'.repeat(32));
  mkdirSync(orphanDir, { recursive: true });
  writeFileSync(join(orphanDir, 'model.safetensors'), 'left by a crash');
  s = await startTestServer({}, t.dir);
  try {
    assert.ok(!existsSync(orphanBlob), 'orphan blob still there');
    assert.ok(!existsSync(orphanDir), 'orphan model folder still there');
    modelIsWhole(t.dir, kept);
  } finally {
    await s.close();
    t.cleanup();
  }
});

test('finished jobs older than WEIGHTSCOPE_RETENTION_DAYS are removed with their files; recent ones stay', async () => {
  const t = tempDataDir();
  let s = await startTestServer({}, t.dir);
  const db = s.context.db;
  const old = Date.now() - 40 * 86_400_000;
  const ins = db.prepare(
    `INSERT INTO jobs (id, kind, state, payload, result, created_at, finished_at, updated_at) VALUES (?, 'repair', ?, '{}', ?, ?, ?, ?)`,
  );
  const oldId = '00000000-0000-4000-8000-0000000000a1';
  const newId = '00000000-0000-4000-8000-0000000000a2';
  const runId = '00000000-0000-4000-8000-0000000000a3';
  ins.run(oldId, 'succeeded', '{}', old, old, old);
  ins.run(newId, 'succeeded', '{}', Date.now(), Date.now(), Date.now());
  ins.run(runId, 'queued', null, old, null, old);
  mkdirSync(join(t.dir, 'repairs', oldId), { recursive: true });
  writeFileSync(join(t.dir, 'repairs', oldId, 'model.onnx'), 'x');
  await s.close();
  s = await startTestServer({ WEIGHTSCOPE_RETENTION_DAYS: '30' }, t.dir);
  try {
    const ids = (s.context.db.prepare('SELECT id FROM jobs ORDER BY id').all() as { id: string }[]).map((r) => r.id);
    assert.deepEqual(ids, [newId, runId]);
    assert.ok(!existsSync(join(t.dir, 'repairs', oldId)));
  } finally {
    await s.close();
    t.cleanup();
  }
});
