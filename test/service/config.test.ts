import test from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { loadConfig, parseSize } from '../../src/service/config.js';
import { isCode } from '../helpers/errors.js';

test('parseSize: binary and decimal units', () => {
  assert.equal(parseSize('2GiB'), 2 * 2 ** 30);
  assert.equal(parseSize('100KiB'), 102400);
  assert.equal(parseSize('5MB'), 5_000_000);
  assert.equal(parseSize('1048576'), 1048576);
  assert.throws(() => parseSize('lots'), isCode('invalid-input', /not a size: "lots"/));
  assert.throws(() => parseSize('3 parsecs'), isCode('invalid-input', /not a size/));
  assert.throws(() => parseSize('3qb'), isCode('invalid-input', /not a size/));
  assert.throws(() => parseSize('3iB'), isCode('invalid-input', /unknown size unit in "3iB"/));
});

test('loadConfig: defaults (127.0.0.1:8080, ./data, 2 GiB, no keys) and parsed values', () => {
  const d = loadConfig({});
  assert.equal(d.port, 8080);
  assert.equal(d.host, '127.0.0.1');
  assert.equal(d.dataDir, resolve('./data'));
  assert.equal(d.maxUpload, 2 * 2 ** 30);
  assert.deepEqual(d.apiKeys, []);
  assert.ok(d.importRoots.includes(d.modelsDir));
  const c = loadConfig({ PORT: '9000', WEIGHTSCOPE_API_KEYS: ' a ,b,, ', WEIGHTSCOPE_MAX_UPLOAD: '10MiB', HF_HUB_CACHE: '/x/hub' });
  assert.equal(c.port, 9000);
  assert.deepEqual(c.apiKeys, ['a', 'b']);
  assert.equal(c.maxUpload, 10 * 2 ** 20);
  assert.equal(c.hfCacheDirs[0], '/x/hub');
  assert.throws(() => loadConfig({ PORT: 'eighty' }), isCode('invalid-input', /bad environment: PORT: /));
  assert.throws(() => loadConfig({ WEIGHTSCOPE_MAX_UPLOAD: 'huge' }), /WEIGHTSCOPE_MAX_UPLOAD/);
});
