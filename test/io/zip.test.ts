import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { ZipArchive, crc32, writeZipStored } from '../../src/io/zip.js';
import { WeightscopeError } from '../../src/errors.js';
import { fixture } from '../helpers/fixtures.js';

const dir = await mkdtemp(join(tmpdir(), 'ws-zip-'));
test.after(() => rm(dir, { recursive: true, force: true }));

test('crc32 of "123456789" is the standard check value', () => {
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
});

test('STORED round trip with ranged reads; DEFLATED entries inflate and pass CRC', async () => {
  const a = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) & 0xff);
  const p = join(dir, 's.zip');
  await writeZipStored(p, [
    { name: 'arc/a', data: a },
    { name: 'arc/empty', data: new Uint8Array(0) },
  ]);
  const z = await ZipArchive.open(p);
  assert.deepEqual([...z.entries.keys()], ['arc/a', 'arc/empty']);
  assert.deepEqual(await z.read('arc/a'), a);
  assert.deepEqual(await z.readRange('arc/a', 10, 5), a.subarray(10, 15));
  await assert.rejects(z.readRange('arc/a', 998, 5), (e: unknown) => e instanceof WeightscopeError && e.code === 'corrupt-file');
  await z.close();
  const text = new TextEncoder().encode('hello '.repeat(500));
  const d = join(dir, 'd.zip');
  await writeFile(d, zipSync({ 'x/data.pkl': [text, { level: 6 }] }));
  const zd = await ZipArchive.open(d);
  assert.equal(zd.entry('x/data.pkl').method, 8);
  assert.deepEqual(await zd.read('x/data.pkl'), text);
  await zd.close();
});

test('torch archive: central directory lists every storage', async () => {
  const z = await ZipArchive.open(fixture('gpt2-tiny', 'pytorch_model.bin'));
  assert.equal(z.entries.size, 54);
  assert.equal(z.entry('pytorch_model/data/0').size, 131072);
  await z.close();
});

test('truncated or garbage zips are corrupt-file', async () => {
  const buf = await readFile(fixture('fmnist-backdoor', 'model_a.pt'));
  const p = join(dir, 't.zip');
  await writeFile(p, buf.subarray(0, buf.length - 100));
  await assert.rejects(ZipArchive.open(p), (e: unknown) => e instanceof WeightscopeError && e.code === 'corrupt-file');
  await writeFile(p, new Uint8Array(100));
  await assert.rejects(ZipArchive.open(p), (e: unknown) => e instanceof WeightscopeError && /end-of-central-directory/.test(e.message));
});

test('zip64 end-of-central-directory records are followed', async () => {
  const a = Uint8Array.from({ length: 64 }, (_, i) => i);
  const p = join(dir, 'z64.zip');
  await writeZipStored(p, [{ name: 'arc/a', data: a }]);
  const buf = await readFile(p);
  const eocd = buf.subarray(buf.length - 22);
  const cdSize = eocd.readUInt32LE(12);
  const cdOffset = eocd.readUInt32LE(16);
  const body = buf.subarray(0, buf.length - 22);
  const z64 = Buffer.alloc(56);
  z64.writeUInt32LE(0x06064b50, 0);
  z64.writeBigUInt64LE(44n, 4);
  z64.writeBigUInt64LE(1n, 24);
  z64.writeBigUInt64LE(1n, 32);
  z64.writeBigUInt64LE(BigInt(cdSize), 40);
  z64.writeBigUInt64LE(BigInt(cdOffset), 48);
  const loc = Buffer.alloc(20);
  loc.writeUInt32LE(0x07064b50, 0);
  loc.writeBigUInt64LE(BigInt(body.length), 8);
  loc.writeUInt32LE(1, 16);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(0xffff, 8);
  end.writeUInt16LE(0xffff, 10);
  end.writeUInt32LE(0xffffffff, 12);
  end.writeUInt32LE(0xffffffff, 16);
  await writeFile(p, Buffer.concat([body, z64, loc, end]));
  const z = await ZipArchive.open(p);
  assert.deepEqual(await z.read('arc/a'), a);
  await z.close();
});
