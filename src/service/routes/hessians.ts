/**
 * POST/GET /v1/datasets, POST /v1/hessians + GET /v1/hessians/{id}, POST /v1/comparisons + GET /v1/comparisons/{id}.
 * Hessians and comparisons are jobs (progress, SSE at /v1/jobs/{id}/events); their results are served here.
 */
import busboy from 'busboy';
import { Router, json, type Request } from 'express';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { WeightscopeError } from '../../errors.js';
import { parseHessianOptions } from '../../landscape/hessian/run.js';
import { CompareOptionsSchema } from '../../landscape/similarity/compare.js';
import type { ServiceContext } from '../context.js';
import type { IngestedPart } from '../store/blobs.js';
import { DatasetStore } from '../store/datasets.js';
import type { ModelRecord } from '../store/models.js';
import { ComparisonRequest, HessianRequest, IdParams } from '../schemas.js';
import { parseOr400 } from '../validate.js';
import { sendJob } from './analyses.js';

/** The ONNX file of a stored model: the file itself, or model.onnx / onnx/model.onnx in its folder. */
export function onnxPathOf(ctx: ServiceContext, m: ModelRecord): string {
  const p = ctx.models.path(m);
  if (m.format === 'onnx' || p.endsWith('.onnx')) return p;
  if (existsSync(p) && statSync(p).isDirectory()) {
    for (const rel of ['model.onnx', join('onnx', 'model.onnx')]) if (existsSync(join(p, rel))) return join(p, rel);
    const one = m.files.filter((f) => f.name.endsWith('.onnx'));
    if (one.length === 1) return join(p, one[0].name);
  }
  throw new WeightscopeError('invalid-input', `model ${m.id} has no ONNX graph: the Hessian and comparisons need an ONNX model (upload the .onnx file)`);
}

/** One file from a multipart body (the first file part), or the raw body. */
async function receiveOne(req: Request, ctx: ServiceContext): Promise<{ part: IngestedPart; name: string | null }> {
  const budget = { limit: ctx.config.maxUpload, used: 0 };
  if (!req.is('multipart/form-data')) {
    const part = await ctx.blobs.ingest(req, budget, (n) => (ctx.metrics.uploadBytes += n));
    return { part, name: typeof req.query.name === 'string' ? req.query.name : null };
  }
  return new Promise((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: req.headers, limits: { files: 1, fields: 4 } });
    } catch (e) {
      reject(new WeightscopeError('invalid-input', `bad multipart request: ${(e as Error).message}`));
      return;
    }
    let got: Promise<{ part: IngestedPart; name: string | null }> | null = null;
    bb.on('file', (_f, stream, info) => {
      if (got) {
        stream.resume();
        return;
      }
      got = ctx.blobs.ingest(stream, budget, (n) => (ctx.metrics.uploadBytes += n)).then((part) => ({ part, name: info.filename || null }));
      got.catch(() => stream.resume());
    });
    bb.on('close', () => {
      if (!got) reject(new WeightscopeError('invalid-input', 'no file in the request'));
      else got.then(resolve, reject);
    });
    bb.on('error', (e: Error) => reject(new WeightscopeError('invalid-input', `bad multipart body: ${e.message}`)));
    req.pipe(bb);
  });
}

export function hessianRoutes(ctx: ServiceContext): Router {
  const r = Router();
  const datasets = new DatasetStore(ctx.db, ctx.blobs, ctx.config.dataDir);

  r.post('/v1/datasets', async (req, res) => {
    const { part, name } = await receiveOne(req, ctx);
    const { dataset, created } = await datasets.add(part, name);
    res.status(created ? 201 : 200).location(`/v1/datasets/${dataset.id}`).json(dataset);
  });

  r.get('/v1/datasets', (_req, res) => {
    res.json({ datasets: datasets.list() });
  });

  r.get('/v1/datasets/:id', (req, res) => {
    const { id } = parseOr400(IdParams, req.params, 'params');
    res.json(datasets.require(id));
  });

  r.post('/v1/hessians', json({ limit: '64kb' }), (req, res) => {
    const body = parseOr400(HessianRequest, req.body, 'body');
    const model = ctx.models.require(body.model);
    const ds = datasets.require(body.dataset);
    const options = { ...parseHessianOptions(body.options ?? {}) };
    const { job, cached } = ctx.queue.submit('hessian', {
      model: model.id, path: onnxPathOf(ctx, model), dataset: ds.id, datasetPath: datasets.path(ds), options,
      device: body.device ?? 'cpu', untie: body.untie ?? false,
    });
    sendJob(res, job, cached);
  });

  r.get('/v1/hessians/:id', (req, res) => {
    const { id } = parseOr400(IdParams, req.params, 'params');
    res.type('application/json').send(ctx.queue.resultText(id, 'hessian'));
  });

  r.post('/v1/comparisons', json({ limit: '64kb' }), (req, res) => {
    const body = parseOr400(ComparisonRequest, req.body, 'body');
    const models = body.models.map((m) => ctx.models.require(m));
    const ds = datasets.require(body.dataset);
    const options = { ...CompareOptionsSchema.parse(body.options ?? {}) };
    const { job, cached } = ctx.queue.submit('comparison', {
      models: models.map((m) => ({ id: m.id, path: onnxPathOf(ctx, m) })), dataset: ds.id, datasetPath: datasets.path(ds), options,
      device: body.device ?? 'cpu',
    });
    sendJob(res, job, cached);
  });

  r.get('/v1/comparisons/:id', (req, res) => {
    const { id } = parseOr400(IdParams, req.params, 'params');
    res.type('application/json').send(ctx.queue.resultText(id, 'comparison'));
  });

  return r;
}
