/**
 * POST /v1/connectivity + GET /v1/connectivity/{id}; POST /v1/repairs + GET /v1/repairs/{id} +
 * GET /v1/repairs/{id}/model?format=onnx|safetensors. Models and datasets are stored ones (by id); the work runs as
 * jobs (progress and SSE at /v1/jobs/{id}).
 */
import { Router, json } from 'express';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, normalize, sep } from 'node:path';
import { WeightscopeError } from '../../errors.js';
import { parseConnectOptions } from '../../landscape/connectivity/connect.js';
import { parseRepairOptions } from '../../landscape/repair/repair.js';
import type { ServiceContext } from '../context.js';
import { DatasetStore } from '../store/datasets.js';
import { ConnectivityRequest, IdParams, RepairModelQuery, RepairRequest } from '../schemas.js';
import { parseOr400 } from '../validate.js';
import { sendJob } from './analyses.js';
import { onnxPathOf } from './hessians.js';

export function connectivityRoutes(ctx: ServiceContext): Router {
  const r = Router();
  const datasets = new DatasetStore(ctx.db, ctx.blobs, ctx.config.dataDir);
  const model = (id: string) => {
    const m = ctx.models.require(id);
    return { id: m.id, path: onnxPathOf(ctx, m) };
  };
  const dataset = (id: string) => {
    const d = datasets.require(id);
    return { id: d.id, path: datasets.path(d) };
  };

  r.post('/v1/connectivity', json({ limit: '64kb' }), (req, res) => {
    const body = parseOr400(ConnectivityRequest, req.body, 'body');
    const options = { ...parseConnectOptions(body.options ?? {}) };
    const { job, cached } = ctx.queue.submit('connectivity', {
      models: body.models.map(model),
      data: dataset(body.data),
      evalData: (body.evalData ?? []).map(dataset),
      triggered: body.triggered ? dataset(body.triggered) : null,
      options,
    });
    sendJob(res, job, cached);
  });

  r.get('/v1/connectivity/:id', (req, res) => {
    const { id } = parseOr400(IdParams, req.params, 'params');
    res.type('application/json').send(ctx.queue.resultText(id, 'connectivity'));
  });

  r.post('/v1/repairs', json({ limit: '64kb' }), (req, res) => {
    const body = parseOr400(RepairRequest, req.body, 'body');
    const options = { ...parseRepairOptions(body.options ?? {}) };
    const { job, cached } = ctx.queue.submit('repair', {
      models: body.models.map(model),
      data: dataset(body.data),
      evalData: body.evalData ? dataset(body.evalData) : null,
      triggered: body.triggered ? dataset(body.triggered) : null,
      options,
    });
    sendJob(res, job, cached);
  });

  r.get('/v1/repairs/:id', (req, res) => {
    const { id } = parseOr400(IdParams, req.params, 'params');
    res.type('application/json').send(ctx.queue.resultText(id, 'repair'));
  });

  r.get('/v1/repairs/:id/model', async (req, res) => {
    const { id } = parseOr400(IdParams, req.params, 'params');
    const { format } = parseOr400(RepairModelQuery, req.query, 'query');
    const result = JSON.parse(ctx.queue.resultText(id, 'repair')) as { files?: Record<string, string> };
    const rel = result.files?.[format];
    const root = normalize(ctx.config.dataDir + sep);
    const file = rel ? normalize(join(ctx.config.dataDir, rel)) : '';
    if (!rel || !file.startsWith(root)) throw new WeightscopeError('not-found', `repair ${id} has no ${format} model`);
    const st = await stat(file).catch(() => null);
    if (!st) throw new WeightscopeError('not-found', `the ${format} model of repair ${id} is no longer stored`);
    res.type('application/octet-stream').setHeader('content-length', String(st.size));
    res.setHeader('content-disposition', `attachment; filename="repaired.${format}"`);
    createReadStream(file).pipe(res);
  });

  return r;
}
