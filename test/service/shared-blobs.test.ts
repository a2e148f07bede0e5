/**
 * The shared blob stores of the distributed mode, one contract for both: `file://` (a temporary folder standing in
 * for an NFS mount) and `s3://` against s3rver, an S3 protocol stand-in on loopback (not AWS). Then a worker's
 * cache over each: a blob is fetched once, checked against its sha256, evicted least-recently-used first but never
 * while a job holds it, and one process owns a cache folder.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { BlobCache } from '../../src/service/store/cache.js';
import { openSharedBlobs, type SharedBlobs } from '../../src/service/store/shared-blobs.js';
import { startS3StandIn, type S3StandIn } from '../helpers/s3.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
/** A stream in 64 KiB chunks (a network body, not one buffer). */
const chunked = (b: Buffer): Readable =>
  Readable.from(
    (function* () {
      for (let i = 0; i < b.length; i += 65536) yield b.subarray(i, i + 65536);
    })(),
  );

const unlimited = () => ({ limit: Number.MAX_SAFE_INTEGER, used: 0 });

async function listAll(blobs: SharedBlobs): Promise<string[]> {
  const out: string[] = [];
  for await (const b of blobs.list()) out.push(b.sha256);
  return out.sort();
}

interface Store {
  name: string;
  blobs: SharedBlobs;
  /** Staged parts left in the store (files in tmp/, objects or multipart uploads under tmp/). */
  staged(): Promise<number>;
  close(): Promise<void>;
}

async function fileStore(): Promise<Store> {
  const root = mkdtempSync(join(tmpdir(), 'weightscope-shared-'));
  const { blobs } = openSharedBlobs(`file://${root}`, '/nonexistent');
  return {
    name: 'file://',
    blobs,
    staged: async () => readdirSync(join(root, 'tmp')).length,
    close: async () => rmSync(root, { recursive: true, force: true }),
  };
}

async function s3Store(s3: S3StandIn): Promise<Store> {
  const { blobs } = openSharedBlobs(`s3://${s3.bucket}/team/`, '/nonexistent', s3.env);
  const { S3Client, ListObjectsV2Command, ListMultipartUploadsCommand } = await import('@aws-sdk/client-s3');
  const client = new S3Client({
    region: 'us-east-1',
    endpoint: s3.env.AWS_ENDPOINT_URL,
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  return {
    name: 's3:// (s3rver protocol stand-in)',
    blobs,
    staged: async () => {
      const objs = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'team/tmp/' }));
      const mp = await client
        .send(new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix: 'team/tmp/' }))
        .catch(() => ({ Uploads: [] }));
      return (objs.Contents?.length ?? 0) + (mp.Uploads?.length ?? 0);
    },
    close: async () => client.destroy(),
  };
}

async function contract(t: test.TestContext, store: Store): Promise<void> {
  const { blobs } = store;
  // 20 MiB: three multipart parts on S3.
  const big = randomBytes(20 * 2 ** 20);
  const part = await blobs.ingest(chunked(big), unlimited());
  assert.equal(part.sha256, sha(big));
  assert.equal(part.bytes, big.length);
  assert.equal(await blobs.has(part.sha256), false, 'staged bytes are no blob before commit');
  await blobs.commit(part);
  assert.equal(await blobs.has(part.sha256), true);
  assert.equal(await store.staged(), 0, 'commit leaves nothing staged');
  assert.ok((await buffer(await blobs.read(part.sha256))).equals(big), 'read returns the bytes');

  // The same bytes again: still one blob.
  const again = await blobs.ingest(chunked(big), unlimited());
  await blobs.commit(again);
  assert.deepEqual(await listAll(blobs), [part.sha256]);

  // Over the budget: too-large, nothing stored, nothing staged.
  const small = randomBytes(3 * 2 ** 20);
  await assert.rejects(blobs.ingest(chunked(small), { limit: 2 ** 20, used: 0 }), (e: Error & { code?: string }) => e.code === 'too-large');
  assert.equal(await blobs.has(sha(small)), false);
  assert.equal(await store.staged(), 0);

  // A staged part whose node died is swept; a young one is not.
  const orphan = await blobs.ingest(chunked(small), unlimited());
  assert.equal(await store.staged(), 1);
  assert.equal(await blobs.sweepTmp(3600_000), 0);
  assert.equal(await blobs.sweepTmp(0), 1);
  assert.equal(await store.staged(), 0);
  assert.equal(await blobs.has(orphan.sha256), false);

  await assert.rejects(blobs.read('0'.repeat(64)), (e: Error & { code?: string }) => e.code === 'not-found');
  await assert.rejects(blobs.read('../etc/passwd'), (e: Error & { code?: string }) => e.code === 'invalid-input');

  // A worker's cache over this store.
  const cacheDir = mkdtempSync(join(tmpdir(), 'weightscope-cache-'));
  t.after(() => rmSync(cacheDir, { recursive: true, force: true }));
  const b1 = Buffer.from('first blob, 40 bytes long ..............');
  const b2 = Buffer.from('second blob, also 40 bytes long ........');
  const b3 = Buffer.from('third blob, 40 bytes as well ...........');
  for (const b of [b1, b2, b3]) await blobs.commit(await blobs.ingest(chunked(b), unlimited()));
  const cache = await BlobCache.open(cacheDir, 100, blobs);
  const l1 = await cache.lease([sha(b1)]);
  const l1b = await cache.lease([sha(b1)]);
  assert.equal(cache.fetched, 1, 'a blob is fetched once per node');
  const dir = await cache.model('m1', [{ name: 'onnx/model.onnx', sha256: sha(b1) }]);
  assert.ok(readFileSync(join(dir, 'onnx', 'model.onnx')).equals(b1), 'the model is laid out under its file names');
  await l1.release();
  // 20 MiB + 40 B > 100 B: the big blob cannot stay, the held one must.
  const l2 = await cache.lease([part.sha256]);
  await l2.release();
  assert.ok(!existsSync(cache.blobPath(part.sha256)), 'the unheld big blob was evicted');
  assert.ok(existsSync(cache.blobPath(sha(b1))), 'a held blob is never evicted');
  await l1b.release();
  // b1 (least recently used) goes once b2 and b3 need its room; its layout goes with it.
  for (const b of [b2, b3]) await (await cache.lease([sha(b)])).release();
  assert.ok(cache.size <= 100, `cache holds ${cache.size} bytes`);
  assert.ok(!existsSync(cache.blobPath(sha(b1))), 'the least recently used blob was evicted');
  assert.ok(existsSync(cache.blobPath(sha(b3))));
  assert.ok(!existsSync(dir), 'layouts of evicted blobs go with them');
  assert.equal(cache.fetched, 4);
  await cache.close();

  // One process per cache folder: a live owner's lock is refused.
  writeFileSync(join(cacheDir, 'lock'), String(process.ppid));
  await assert.rejects(BlobCache.open(cacheDir, 100, blobs), /in use by process/);
  rmSync(join(cacheDir, 'lock'));
}

test('file:// shared store: staging, commit, dedup, budget, sweep; a worker cache over it', async (t) => {
  const store = await fileStore();
  t.after(() => store.close());
  await contract(t, store);
  // The cache checks what it copies: a blob changed in the store is refused.
  const cacheDir = mkdtempSync(join(tmpdir(), 'weightscope-cache-'));
  t.after(() => rmSync(cacheDir, { recursive: true, force: true }));
  const b = Buffer.from('will be tampered with');
  const p = await store.blobs.ingest(chunked(b), unlimited());
  await store.blobs.commit(p);
  const path = store.blobs.localPath!(p.sha256);
  rmSync(path);
  writeFileSync(path, 'something else entirely');
  // Linking shares the inode (nothing to check); a different file system forces the checked copy.
  const copying: SharedBlobs = { ...store.blobs, read: (s) => store.blobs.read(s), localPath: undefined } as SharedBlobs;
  const cache = await BlobCache.open(cacheDir, 1e9, copying);
  await assert.rejects(cache.lease([p.sha256]), (e: Error & { code?: string }) => e.code === 'corrupt-file');
  await cache.close();
});

test('s3:// shared store against s3rver (S3 protocol stand-in on loopback): the same contract', async (t) => {
  const s3 = await startS3StandIn();
  t.after(() => s3.close());
  const store = await s3Store(s3);
  t.after(() => store.close());
  await contract(t, store);
});
