/**
 * Mode connectivity on surfaces (`surface`): a Bezier patch between 3 or 4 stored ONNX models of one graph trained
 * on a stored clean dataset (src/landscape/connectivity/connect-surface.ts); loss and accuracy over the grid, the
 * centre, the barrier and the ensembles in the result, and the best interior point written as a model under
 * $WEIGHTSCOPE_DATA/surfaces/<job id>/ ("model averaging"; GET /v1/surfaces/{id}/model).
 */
import { z } from 'zod';
import { hashOf } from '../hash.js';
import { CURVE_CAPS, surfaceSeconds } from '../limits.js';
import { defineJobKind } from '../types.js';
import { modelOutputs, writeJobModel } from './job-model.js';
import { inputsOf, Stored } from './model-on-data.js';

export const SurfacePayload = z.object({
  models: z.array(Stored).min(3).max(4),
  data: Stored,
  heldOutData: Stored.nullable().default(null),
  test: Stored.nullable().default(null),
  /** connectSurface() options, already validated by the route with parseSurfaceOptions. */
  options: z.record(z.string(), z.unknown()),
});
export type SurfacePayload = z.infer<typeof SurfacePayload>;

const { ts: _ts, ...TRAINING_CAPS } = CURVE_CAPS;

export const surfaceJob = defineJobKind({
  kind: 'surface',
  payload: SurfacePayload,
  // Seeded: the same inputs (content ids, corner order) and options give the same result; the device only the speed.
  cacheKey: (p) => {
    const { device: _d, ...options } = p.options;
    return hashOf({
      models: p.models.map((m) => m.id),
      data: p.data.id,
      heldOutData: p.heldOutData?.id ?? null,
      test: p.test?.id ?? null,
      options,
    });
  },
  limits: {
    caps: { ...TRAINING_CAPS, grid: 101, ensemble: 1000 },
    seconds: (p, work) => surfaceSeconds(p.options, work, p.models.length),
  },
  outputs: modelOutputs,
  inputs: (p) => inputsOf(p.models, [p.data, p.heldOutData, p.test]),
  async run(p, ctx) {
    const { connectSurface } = await import('../../../landscape/connectivity/connect-surface.js');
    const { writeModelPoint } = await import('../../../landscape/connectivity/export.js');
    ctx.progress(0, 1, 'reading the models');
    const run = await connectSurface(
      {
        models: p.models.map((m) => ctx.onnx(m.id)),
        data: ctx.dataset(p.data.id),
        ...(p.heldOutData ? { heldOutData: ctx.dataset(p.heldOutData.id) } : {}),
        ...(p.test ? { test: ctx.dataset(p.test.id) } : {}),
      },
      p.options,
      { progress: (done, total, msg) => ctx.progress(done, total, msg) },
    );
    const { best } = run.result;
    const { files } = await writeJobModel(ctx, 'surfaces', 'best', (path) =>
      writeModelPoint(run.best.model, run.best.params, path, { source: 'weightscope surface', u: String(best.u), v: String(best.v) }),
    );
    return {
      models: p.models.map((m) => m.id),
      dataset: p.data.id,
      heldOutData: p.heldOutData?.id ?? null,
      testData: p.test?.id ?? null,
      ...run.result,
      files,
    };
  },
});
