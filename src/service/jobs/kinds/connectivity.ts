/**
 * Mode connectivity (`connectivity`, optionally with robustness along the path) and repair of backdoored or
 * error-injected models (`repair`) of stored models (ONNX, or Hugging Face folders by their config.json graph) on
 * stored datasets, in a worker thread (src/landscape/connectivity, src/landscape/repair). A repair writes its model
 * under $WEIGHTSCOPE_DATA/repairs/<job id>/ in its input's format (job-model.ts) and names the files in its result.
 */
import { z } from 'zod';
import { hashOf } from '../hash.js';
import { REPAIR_RECIPES } from '../../../landscape/repair/recipes.js';
import { CURVE_CAPS, curveSeconds } from '../limits.js';
import { defineJobKind } from '../types.js';
import { modelOutputs, writeJobFolder, writeJobModel } from './job-model.js';
import { inputsOf, Stored } from './model-on-data.js';

/** A stored model or dataset, by id (its files are found on the worker's machine). */

export const ConnectivityPayload = z.object({
  models: z.array(Stored).length(2),
  data: Stored,
  evalData: z.array(Stored).default([]),
  triggered: Stored.nullable().default(null),
  /** connect() options, already validated by the route with parseConnectOptions. */
  options: z.record(z.string(), z.unknown()),
});
export type ConnectivityPayload = z.infer<typeof ConnectivityPayload>;

export const RepairPayload = z.object({
  models: z.array(Stored).min(1).max(2),
  data: Stored,
  evalData: Stored.nullable().default(null),
  triggered: Stored.nullable().default(null),
  /** Error-injection targets (report only). */
  targets: Stored.nullable().default(null),
  /** repair() options, already validated by the route with parseRepairOptions. */
  options: z.record(z.string(), z.unknown()),
});
export type RepairPayload = z.infer<typeof RepairPayload>;

/** Seeded runs: same inputs (by content id) and options → same result; the device changes only the speed. */
function keyOf(p: ConnectivityPayload | RepairPayload): string {
  const ids = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(ids) : v && typeof v === 'object' && 'id' in v ? (v as { id: string }).id : v;
  const { device: _d, ...options } = p.options;
  return hashOf({
    ...Object.fromEntries(
      Object.entries(p)
        .filter(([k]) => k !== 'options')
        .map(([k, v]) => [k, ids(v)]),
    ),
    options,
  });
}

export const connectivityJob = defineJobKind({
  kind: 'connectivity',
  payload: ConnectivityPayload,
  cacheKey: (p) => keyOf(p),
  limits: { caps: { ...CURVE_CAPS, bends: 16 }, seconds: (p, work) => curveSeconds(p.options, work) },
  inputs: (p) => inputsOf(p.models, [p.data, ...p.evalData, p.triggered]),
  async run(p, ctx) {
    const { connect } = await import('../../../landscape/connectivity/connect.js');
    const { result } = await connect(
      {
        modelA: ctx.modelArg(p.models[0].id),
        modelB: ctx.modelArg(p.models[1].id),
        data: ctx.dataset(p.data.id),
        evalData: p.evalData.map((d, i) => ({ name: p.evalData.length === 1 ? 'eval' : `eval${i + 1}`, path: ctx.dataset(d.id) })),
        ...(p.triggered ? { triggered: ctx.dataset(p.triggered.id) } : {}),
      },
      p.options,
      { progress: (done, total, msg) => ctx.progress(done, total, msg) },
    );
    return {
      models: p.models.map((m) => m.id),
      data: p.data.id,
      evalData: p.evalData.map((d) => d.id),
      triggered: p.triggered?.id ?? null,
      ...result,
    };
  },
});

export const repairJob = defineJobKind({
  kind: 'repair',
  payload: RepairPayload,
  cacheKey: (p) => keyOf(p),
  limits: {
    caps: { ...CURVE_CAPS, bends: 16, polishEpochs: 10_000, polishSamplesPerEpoch: 10_000_000, cleanseSteps: 10_000, verifyTries: 16 },
    seconds: (p, work) =>
      // Unset polishing epochs and unlearning depend on the model's recipe (known once it is opened): the largest bounds the job.
      curveSeconds(
        {
          epochs: 20,
          samplesPerEpoch: 10_000,
          polishTries: 3,
          baseline: true,
          ...p.options,
          polishEpochs:
            (p.options.polishEpochs as number | undefined) ?? Math.max(...Object.values(REPAIR_RECIPES).map((r) => r.polishEpochs)),
          unlearn: (p.options.unlearn as number | undefined) ?? Math.max(...Object.values(REPAIR_RECIPES).map((r) => r.unlearn)),
        },
        work,
      ),
  },
  outputs: modelOutputs,
  inputs: (p) => inputsOf(p.models, [p.data, p.evalData, p.triggered, p.targets]),
  async run(p, ctx) {
    const { repair, writeRepaired } = await import('../../../landscape/repair/repair.js');
    const r = await repair(
      {
        modelA: ctx.modelArg(p.models[0].id),
        ...(p.models[1] ? { modelB: ctx.modelArg(p.models[1].id) } : {}),
        data: ctx.dataset(p.data.id),
        ...(p.evalData ? { evalData: ctx.dataset(p.evalData.id) } : {}),
        ...(p.triggered ? { triggered: ctx.dataset(p.triggered.id) } : {}),
        ...(p.targets ? { targets: ctx.dataset(p.targets.id) } : {}),
      },
      p.options,
      { progress: (done, total, msg) => ctx.progress(done, total, msg) },
    );
    const metadata = { source: 'weightscope repair', t: String(r.report.choice.t) };
    const written =
      r.source.route === 'config.json'
        ? await writeJobFolder(ctx, 'repairs', async (dir) => {
            const { writeModelLike } = await import('../../../model-io/write.js');
            await writeModelLike(r.source, r.params, dir, { format: 'hf', metadata });
          })
        : await writeJobModel(ctx, 'repairs', 'model', (path) => writeRepaired(r, path));
    // Stored paths are implementation details: clients know models and datasets by id.
    const { models: _m, ...report } = r.report;
    return {
      models: p.models.map((m) => m.id),
      dataset: p.data.id,
      evalData: p.evalData?.id ?? null,
      triggered: p.triggered?.id ?? null,
      targets: p.targets?.id ?? null,
      ...report,
      ...written,
    };
  },
});
