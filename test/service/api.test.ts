/**
 * The HTTP API against a real listening server (ephemeral port, temp WEIGHTSCOPE_DATA): upload, dedupe, analyse
 * (alphas = WeightWatcher 0.7.5.5's), ranking with correlations, multipart, import, and each bad input's 4xx.
 */
import test, { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { fixture, SHARED } from '../helpers/fixtures.js';
import { startTestServer, waitJob } from './helpers.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const STORIES = fixture('stories260k', 'model.safetensors');
const GPT2 = fixture('gpt2-tiny', 'model.safetensors');
const MLP48 = fixture('fmnist-hessian', 'mlp48.safetensors');

function wwPL(name: string): { name: string; alpha: number }[] {
  const ref = JSON.parse(readFileSync(join(SHARED, 'reference', 'weightwatcher', `${name}.json`), 'utf8')) as Json;
  return ref.fits.PL.layers as { name: string; alpha: number }[];
}
const mean = (a: number[]): number => a.reduce((s, v) => s + v, 0) / a.length;

async function upload(
  base: string,
  file: string | Uint8Array,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Json }> {
  const body = typeof file === 'string' ? readFileSync(file) : file;
  const r = await fetch(`${base}/v1/models`, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream', ...headers } });
  return { status: r.status, body: (await r.json()) as Json };
}

async function postJson(
  base: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Json; location: string | null }> {
  const r = await fetch(`${base}${path}`, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
  });
  return { status: r.status, body: (await r.json()) as Json, location: r.headers.get('location') };
}

function assertProblem(res: { status: number; body: Json }, status: number, slug: string): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body.type, `urn:weightscope:problem:${slug}`, JSON.stringify(res.body));
  assert.equal(res.body.status, status);
  assert.equal(typeof res.body.title, 'string');
}

describe('service API', () => {
  let s: Awaited<ReturnType<typeof startTestServer>>;
  let storiesId = '';
  let storiesAnalysis = '';
  before(async () => {
    s = await startTestServer({ WEIGHTSCOPE_DEBUG_JOBS: '1', WEIGHTSCOPE_IMPORT_ROOTS: join(SHARED, 'fixtures') });
  });
  after(async () => {
    await s.cleanup();
  });

  test('upload stories260k: 201, then the same bytes again: 200 with the same id', async () => {
    const a = await upload(s.url, STORIES);
    assert.equal(a.status, 201);
    assert.match(a.body.id, /^[0-9a-f]{64}$/);
    assert.equal(a.body.format, 'safetensors');
    assert.equal(a.body.bytes, 1044992);
    assert.equal(a.body.parameters, 260032);
    const b = await upload(s.url, STORIES);
    assert.equal(b.status, 200);
    assert.equal(b.body.id, a.body.id);
    storiesId = a.body.id;
    const list = (await (await fetch(`${s.url}/v1/models`)).json()) as Json;
    assert.equal(list.models.length, 1);
    assert.equal(readdirSync(join(s.dataDir, 'blobs')).length, 1);
    assert.equal(readdirSync(join(s.dataDir, 'tmp')).length, 0);
  });

  test('analysis: alphas equal WeightWatcher 0.7.5.5 (PL) to 1e-6; cached on resubmission; CSV', async () => {
    const sub = await postJson(s.url, '/v1/analyses', { model: storiesId, fits: ['pl'] });
    assert.equal(sub.status, 202);
    assert.equal(sub.location, `/v1/jobs/${sub.body.job.id}`);
    const job = await waitJob(s.url, sub.body.job.id);
    assert.equal(job.state, 'succeeded', JSON.stringify(job.error));
    assert.equal(job.result, `/v1/analyses/${sub.body.job.id}`);
    const report = (await (await fetch(`${s.url}${job.result}`)).json()) as Json;
    const ref = wwPL('stories260k');
    assert.equal(report.layers.length, ref.length);
    ref.forEach((r, i) => {
      const row = report.layers[i];
      assert.equal(row.name, r.name);
      assert.ok(Math.abs(row.alpha - r.alpha) <= 1e-6 * Math.abs(r.alpha), `${r.name}: alpha ${row.alpha} vs WW ${r.alpha}`);
    });
    assert.equal(report.model.source, storiesId);
    storiesAnalysis = sub.body.job.id;

    const again = await postJson(s.url, '/v1/analyses', { model: storiesId, fits: ['pl'] });
    assert.equal(again.status, 200);
    assert.equal(again.body.job.id, sub.body.job.id);
    assert.equal(again.body.job.state, 'succeeded');

    const csv = await fetch(`${s.url}${job.result}?format=csv`);
    assert.match(csv.headers.get('content-type') ?? '', /text\/csv/);
    const lines = (await csv.text()).trim().split('\n');
    assert.equal(lines.length, ref.length + 1);
    assert.ok(lines[0].split(',').includes('alpha'));
  });

  test("ESD endpoint: the layer's eigenvalues and PL fit when the analysis kept them, else 404", async () => {
    const full = (await (await fetch(`${s.url}/v1/analyses/${storiesAnalysis}?eigenvalues=1`)).json()) as Json;
    const layer0 = full.layers[0];
    const r = await fetch(`${s.url}/v1/analyses/${storiesAnalysis}/esd/${layer0.layer_id}`);
    const body = (await r.json()) as Json;
    // The service keeps them by default (analysisOptions: keepEigenvalues true unless the request says false).
    assert.ok(Array.isArray(layer0.eigenvalues), 'the service analysis kept the eigenvalues');
    assert.equal(r.status, 200);
    assert.equal(body.eigenvalues.length, layer0.num_evals);
    assert.equal(body.alpha, layer0.alpha);
    assert.equal(body.xmin, layer0.xmin);
    assert.ok(Math.abs(Math.max(...body.eigenvalues) - layer0.lambda_max) <= 1e-9 * layer0.lambda_max);
    // The plain report leaves them out.
    const plain = (await (await fetch(`${s.url}/v1/analyses/${storiesAnalysis}`)).json()) as Json;
    assert.equal(plain.layers[0].eigenvalues, undefined);
    const none = await fetch(`${s.url}/v1/analyses/${storiesAnalysis}/esd/99999`);
    assertProblem({ status: none.status, body: (await none.json()) as Json }, 404, 'not-found');
    // An analysis that asked not to keep them has no ESD to serve.
    const lean = await postJson(s.url, '/v1/analyses', { model: storiesId, fits: ['pl'], options: { keepEigenvalues: false } });
    assert.equal((await waitJob(s.url, lean.body.job.id)).state, 'succeeded');
    const noEsd = await fetch(`${s.url}/v1/analyses/${lean.body.job.id}/esd/${layer0.layer_id}`);
    assertProblem({ status: noEsd.status, body: (await noEsd.json()) as Json }, 404, 'not-found');
  });

  test('ranking of three fixtures: ordered by mean alpha, Spearman and Kendall as computed here', async () => {
    const ids: Record<string, string> = { stories: storiesId };
    ids.gpt2 = (await upload(s.url, GPT2)).body.id;
    ids.mlp = (await upload(s.url, MLP48)).body.id;
    const scores = { [ids.stories]: 0.2, [ids.gpt2]: 0.5, [ids.mlp]: 0.9 };
    const sub = await postJson(s.url, '/v1/rankings', {
      models: [ids.stories, ids.gpt2, ids.mlp],
      metric: 'alpha',
      scores,
      options: { fits: ['pl'] },
    });
    assert.equal(sub.status, 202, JSON.stringify(sub.body));
    const job = await waitJob(s.url, sub.body.job.id, {}, 300_000);
    assert.equal(job.state, 'succeeded', JSON.stringify(job.error));
    const ranking = (await (await fetch(`${s.url}${job.result}`)).json()) as Json;
    assert.equal(ranking.metric, 'alpha');
    assert.equal(ranking.direction, 'asc');
    const expected = [
      { id: ids.gpt2, v: mean(wwPL('gpt2-tiny').map((l) => l.alpha)) },
      { id: ids.mlp, v: mean(wwPL('fmnist-hessian-mlp48').map((l) => l.alpha)) },
      { id: ids.stories, v: mean(wwPL('stories260k').map((l) => l.alpha)) },
    ].sort((a, b) => a.v - b.v);
    assert.deepEqual(
      ranking.rows.map((r: Json) => r.model),
      expected.map((e) => e.id),
    );
    assert.deepEqual(
      ranking.rows.map((r: Json) => r.rank),
      [1, 2, 3],
    );
    ranking.rows.forEach((r: Json, i: number) =>
      assert.ok(Math.abs(r.value - expected[i].v) <= 1e-6 * expected[i].v, `${r.value} vs ${expected[i].v}`),
    );

    // Independent Spearman: 1 − 6Σd²/(n(n²−1)) on the ranks of value and score (no ties here); p for n = 3 from
    // scipy.stats.spearmanr: ρ = ±0.5 → p = 2/3, ρ = ±1 → 0.
    const vRank = new Map(expected.map((e, i) => [e.id, i + 1]));
    const byScore = Object.entries(scores)
      .sort((a, b) => a[1] - b[1])
      .map(([id]) => id);
    const d2 = byScore.reduce((acc, id, i) => acc + (vRank.get(id)! - (i + 1)) ** 2, 0);
    const rho = 1 - (6 * d2) / (3 * (9 - 1));
    assert.ok(Math.abs(ranking.correlation.spearman.rho - rho) < 1e-12, `rho ${ranking.correlation.spearman.rho} vs ${rho}`);
    const pExpected = Math.abs(rho) === 1 ? 0 : 2 / 3;
    assert.ok(Math.abs(ranking.correlation.spearman.p - pExpected) < 1e-9);
    // Kendall τ = (concordant − discordant)/3 over the 3 pairs.
    const ids3 = expected.map((e) => e.id);
    let cd = 0;
    for (let i = 0; i < 3; i++)
      for (let j = i + 1; j < 3; j++) cd += Math.sign((vRank.get(ids3[i])! - vRank.get(ids3[j])!) * (scores[ids3[i]] - scores[ids3[j]]));
    assert.ok(Math.abs(ranking.correlation.kendall.tau - cd / 3) < 1e-12);
    assert.equal(ranking.correlation.n, 3);

    // The ranking's analyses joined the result cache: the same analysis request is answered at once.
    const cachedGpt2 = await postJson(s.url, '/v1/analyses', { model: ids.gpt2, fits: ['pl'] });
    assert.equal(cachedGpt2.status, 200);
    assert.equal(cachedGpt2.body.job.state, 'succeeded');
    const gpt2Report = (await (await fetch(`${s.url}/v1/analyses/${cachedGpt2.body.job.id}`)).json()) as Json;
    assert.equal(gpt2Report.layers.length, wwPL('gpt2-tiny').length);
  });

  test('multipart with several files → one model; its analysis works on the folder', async () => {
    const form = new FormData();
    form.append('name', 'stories260k');
    form.append('files', new Blob([readFileSync(fixture('stories260k', 'config.json'))]), 'config.json');
    form.append('files', new Blob([readFileSync(STORIES)]), 'model.safetensors');
    const r = await fetch(`${s.url}/v1/models`, { method: 'POST', body: form });
    const m = (await r.json()) as Json;
    assert.equal(r.status, 201, JSON.stringify(m));
    assert.equal(m.name, 'stories260k');
    assert.deepEqual(
      m.files.map((f: Json) => f.name),
      ['config.json', 'model.safetensors'],
    );
    assert.notEqual(m.id, storiesId);
    const again = await fetch(`${s.url}/v1/models`, { method: 'POST', body: form });
    assert.equal(again.status, 200);
    const sub = await postJson(s.url, '/v1/analyses', {
      model: m.id,
      fits: ['pl'],
      layers: ['model.embed_tokens', 'model.layers.0.mlp.down_proj'],
    });
    const job = await waitJob(s.url, sub.body.job.id);
    assert.equal(job.state, 'succeeded', JSON.stringify(job.error));
    const report = (await (await fetch(`${s.url}${job.result}`)).json()) as Json;
    assert.equal(report.layers.length, 2);
  });

  test('import: a path under an allowed root, an HF cache id; paths outside → 403', async () => {
    const p = await postJson(s.url, '/v1/models/import', { path: join(SHARED, 'fixtures', 'fmnist-hessian', 'mlp48.safetensors') });
    assert.equal(p.status, 200, JSON.stringify(p.body)); // uploaded in the ranking test: same content, same id
    assert.equal(p.body.format, 'safetensors');
    assertProblem(await postJson(s.url, '/v1/models/import', { path: '/etc/passwd' }), 403, 'path-not-allowed');
    assertProblem(
      await postJson(s.url, '/v1/models/import', { path: join(SHARED, 'fixtures', '..', 'reference') }),
      403,
      'path-not-allowed',
    );

    // A Hugging Face cache laid out as huggingface_hub does: snapshots/<rev>/file → ../../blobs/<hash>.
    const repo = join(s.dataDir, 'no-hf', 'models--acme--stories');
    mkdirSync(join(repo, 'blobs'), { recursive: true });
    mkdirSync(join(repo, 'snapshots', '0123456789abcdef0123456789abcdef01234567'), { recursive: true });
    mkdirSync(join(repo, 'refs'), { recursive: true });
    writeFileSync(join(repo, 'blobs', 'deadbeef'), readFileSync(STORIES));
    symlinkSync('../../blobs/deadbeef', join(repo, 'snapshots', '0123456789abcdef0123456789abcdef01234567', 'model.safetensors'));
    writeFileSync(join(repo, 'refs', 'main'), '0123456789abcdef0123456789abcdef01234567');
    const h = await postJson(s.url, '/v1/models/import', { hf: 'acme/stories' });
    assert.equal(h.status, 200, JSON.stringify(h.body));
    assert.equal(h.body.id, storiesId);
    assertProblem(await postJson(s.url, '/v1/models/import', { hf: 'acme/absent' }), 404, 'not-found');
  });

  test('bad inputs: malformed JSON, unknown ids, unknown metric, malicious pickle, truncated file', async () => {
    const bad = await fetch(`${s.url}/v1/analyses`, {
      method: 'POST',
      body: '{"model": ',
      headers: { 'content-type': 'application/json' },
    });
    assertProblem({ status: bad.status, body: (await bad.json()) as Json }, 400, 'malformed-json');
    assert.match(bad.headers.get('content-type') ?? '', /application\/problem\+json/);

    const unknown = 'f'.repeat(64);
    assertProblem(await postJson(s.url, '/v1/analyses', { model: unknown }), 404, 'not-found');
    const g = await fetch(`${s.url}/v1/models/${unknown}`);
    assertProblem({ status: g.status, body: (await g.json()) as Json }, 404, 'not-found');
    const j = await fetch(`${s.url}/v1/jobs/00000000-0000-4000-8000-000000000000`);
    assertProblem({ status: j.status, body: (await j.json()) as Json }, 404, 'not-found');
    assertProblem(await postJson(s.url, '/v1/analyses', { model: 'not-a-hash' }), 400, 'validation');
    assertProblem(await postJson(s.url, '/v1/analyses', { model: storiesId, options: { minEvals: -1 } }), 400, 'invalid-input');
    assertProblem(
      await postJson(s.url, '/v1/rankings', { models: [storiesId, storiesId.replace(/^./, '0')], metric: 'beauty' }),
      400,
      'validation',
    );
    const nr = await fetch(`${s.url}/v1/nothing`);
    assertProblem({ status: nr.status, body: (await nr.json()) as Json }, 404, 'route-not-found');

    const modelsBefore = ((await (await fetch(`${s.url}/v1/models`)).json()) as Json).models.length;
    const blobsBefore = readdirSync(join(s.dataDir, 'blobs')).sort();
    // A torch.save-style zip whose pickle calls os.system: GLOBAL 'os system', an argument tuple, REDUCE.
    const marker = join(s.dataDir, 'pwned');
    const cmd = Buffer.from(`touch ${marker}`);
    const pkl = Buffer.concat([
      Buffer.from([0x80, 0x02]),
      Buffer.from('cos\nsystem\n'),
      Buffer.from([0x58]),
      Buffer.from(Uint32Array.of(cmd.length).buffer),
      cmd,
      Buffer.from([0x85, 0x52, 0x2e]),
    ]);
    const zip = zipSync({ 'archive/data.pkl': pkl, 'archive/version': Buffer.from('3\n') }, { level: 0 });
    const evil = await upload(s.url, zip, {});
    assertProblem(evil, 422, 'unsafe-pickle');
    const trunc = await upload(s.url, readFileSync(STORIES).subarray(0, 500_000));
    assertProblem(trunc, 422, 'corrupt-file');
    const junk = await upload(s.url, Buffer.from('hello, this is not a checkpoint'));
    assertProblem(junk, 415, 'unsupported-format');
    assert.equal(((await (await fetch(`${s.url}/v1/models`)).json()) as Json).models.length, modelsBefore);
    assert.deepEqual(readdirSync(join(s.dataDir, 'blobs')).sort(), blobsBefore);
    assert.deepEqual(readdirSync(join(s.dataDir, 'tmp')), []);
    assert.throws(() => readFileSync(marker), /ENOENT/);
  });

  test('jobs: SSE stream ends with the terminal state; DELETE cancels a running job; failures carry the error', async () => {
    const sub = await postJson(s.url, '/v1/debug/jobs', { steps: 4, ms: 50, value: 7 });
    const r = await fetch(`${s.url}/v1/jobs/${sub.body.job.id}/events`);
    assert.equal(r.headers.get('content-type'), 'text/event-stream');
    const text = await r.text();
    const events = [...text.matchAll(/event: (\w+)\ndata: (.*)\n/g)].map((m) => ({ event: m[1], job: JSON.parse(m[2]) as Json }));
    assert.equal(events[0].event, 'state');
    assert.equal(events.at(-1)!.event, 'end');
    assert.equal(events.at(-1)!.job.state, 'succeeded');
    assert.ok(events.some((e) => e.event === 'progress' && e.job.progress > 0 && e.job.progress <= 1));

    const long = await postJson(s.url, '/v1/debug/jobs', { steps: 1000, ms: 50, cache: false });
    for (let i = 0; i < 100 && ((await (await fetch(`${s.url}/v1/jobs/${long.body.job.id}`)).json()) as Json).state !== 'running'; i++) {
      await new Promise((res) => setTimeout(res, 50));
    }
    const del = await fetch(`${s.url}/v1/jobs/${long.body.job.id}`, { method: 'DELETE' });
    assert.equal(((await del.json()) as Json).state, 'cancelled');
    await new Promise((res) => setTimeout(res, 300));
    const after1 = (await (await fetch(`${s.url}/v1/jobs/${long.body.job.id}`)).json()) as Json;
    assert.equal(after1.state, 'cancelled');
    assert.equal(after1.result, null);

    const failing = await postJson(s.url, '/v1/debug/jobs', { steps: 1, ms: 1, fail: 'boom' });
    const f = await waitJob(s.url, failing.body.job.id);
    assert.equal(f.state, 'failed');
    assert.deepEqual(f.error, { code: 'numerical', message: 'boom' });
  });

  test('health, readiness, metrics, OpenAPI, dashboard', async () => {
    assert.deepEqual(await (await fetch(`${s.url}/healthz`)).json(), { status: 'ok' });
    assert.equal((await fetch(`${s.url}/readyz`)).status, 200);
    const m = await (await fetch(`${s.url}/metrics`)).text();
    assert.match(m, /^weightscope_jobs\{state="succeeded"\} [1-9]\d*$/m);
    assert.match(m, /^weightscope_upload_bytes_total [1-9]\d*$/m);
    assert.match(m, /^weightscope_job_duration_seconds_count\{kind="analysis",state="succeeded"\} [1-9]/m);
    // prom-client's process metrics and per-route request histograms.
    assert.match(m, /^process_open_fds \d+/m);
    assert.match(m, /^nodejs_eventloop_lag_seconds [\d.e-]+$/m);
    assert.match(m, /^weightscope_http_request_duration_seconds_count\{method="POST",route="\/v1\/models",status="201"\} [1-9]/m);
    assert.match(m, /^weightscope_http_request_duration_seconds_count\{method="GET",route="\/v1\/jobs\/\{id\}",status="200"\} [1-9]/m);
    const doc = (await (await fetch(`${s.url}/v1/openapi.json`)).json()) as Json;
    assert.equal(doc.openapi, '3.1.0');
    const page = await fetch(`${s.url}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>weightscope/);
  });
});

describe('service limits and auth', () => {
  test('over-limit upload: 413, the partial file removed, nothing stored', async () => {
    const s = await startTestServer({ WEIGHTSCOPE_MAX_UPLOAD: '100KiB' });
    try {
      const r = await upload(s.url, STORIES);
      assertProblem(r, 413, 'too-large');
      // Without a declared length (chunked), the limit is enforced while streaming.
      const bytes = readFileSync(STORIES);
      const chunked = await fetch(`${s.url}/v1/models`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: new ReadableStream({
          start(c) {
            for (let o = 0; o < bytes.length; o += 65536) c.enqueue(bytes.subarray(o, o + 65536));
            c.close();
          },
        }),
        duplex: 'half',
      } as RequestInit);
      assertProblem({ status: chunked.status, body: (await chunked.json()) as Json }, 413, 'too-large');
      const form = new FormData();
      form.append('a', new Blob([readFileSync(STORIES).subarray(0, 60_000)]), 'a.safetensors');
      form.append('b', new Blob([readFileSync(STORIES).subarray(0, 60_000)]), 'b.safetensors');
      const mp = await fetch(`${s.url}/v1/models`, { method: 'POST', body: form });
      assertProblem({ status: mp.status, body: (await mp.json()) as Json }, 413, 'too-large');
      assert.deepEqual(readdirSync(join(s.dataDir, 'tmp')), []);
      assert.deepEqual(readdirSync(join(s.dataDir, 'blobs')), []);
    } finally {
      await s.cleanup();
    }
  });

  test('API keys: 401 without, 403 wrong, 200 right; health open', async () => {
    const s = await startTestServer({ WEIGHTSCOPE_API_KEYS: 'k1, k2' });
    try {
      const none = await fetch(`${s.url}/v1/models`);
      assertProblem({ status: none.status, body: (await none.json()) as Json }, 401, 'unauthorized');
      assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
      const wrong = await fetch(`${s.url}/v1/models`, { headers: { authorization: 'Bearer nope' } });
      assertProblem({ status: wrong.status, body: (await wrong.json()) as Json }, 403, 'forbidden');
      const up = await upload(s.url, STORIES);
      assertProblem(up, 401, 'unauthorized');
      assert.equal((await fetch(`${s.url}/v1/models`, { headers: { authorization: 'Bearer k2' } })).status, 200);
      assert.equal((await fetch(`${s.url}/metrics`)).status, 401);
      assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
      assert.equal((await fetch(`${s.url}/readyz`)).status, 200);
    } finally {
      await s.cleanup();
    }
  });
});

test('a JSON endpoint given a body that is not declared as JSON answers 415 naming the expected type', async () => {
  const s = await startTestServer();
  try {
    const r = await fetch(`${s.url}/v1/analyses`, {
      method: 'POST',
      body: JSON.stringify({ model: 'f'.repeat(64) }),
      headers: { 'content-type': 'text/plain' },
    });
    const body = (await r.json()) as Json;
    assertProblem({ status: r.status, body }, 415, 'unsupported-media-type');
    assert.match(body.detail, /application\/json/);
  } finally {
    await s.cleanup();
  }
});
