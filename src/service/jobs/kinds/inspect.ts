/**
 * Reading an upload before it becomes a model or dataset, on a worker node (the distributed mode): the API node
 * stores the bytes in the shared blob store and queues this light job; the worker names and inspects the files as
 * the embedded store does in its own bounded thread (store/models.ts, store/inspect.ts); the API node then writes
 * the catalog rows. Same files → same cache key → one inspection.
 */
import { z } from 'zod';
import type { ModelInput } from '../../store/inspect.js';
import { hashOf } from '../hash.js';
import { defineJobKind } from '../types.js';

const Sha = z.string().regex(/^[0-9a-f]{64}$/);
/** The API node's inspection bounds (WEIGHTSCOPE_INSPECT_HEAP, WEIGHTSCOPE_INSPECT_TIMEOUT), applied as it would apply them. */
const Limits = z.object({ heapBytes: z.number().positive(), timeoutMs: z.number().positive(), concurrency: z.number().int().min(1) });

export const InspectPayload = z.discriminatedUnion('what', [
  z.object({
    what: z.literal('model'),
    files: z
      .array(z.object({ name: z.string().nullable(), sha256: Sha, bytes: z.number().int().min(0) }))
      .min(1)
      .max(256),
    limits: Limits,
  }),
  z.object({ what: z.literal('dataset'), sha256: Sha, bytes: z.number().int().min(0), limits: Limits }),
]);
export type InspectPayload = z.infer<typeof InspectPayload>;

export interface ModelInspection {
  format: string;
  tensors: number;
  parameters: number;
  /** The ONNX graph's data inputs, or null (no graph). */
  inputs?: ModelInput[] | null;
  files: { name: string; sha256: string; bytes: number }[];
}

export const inspectJob = defineJobKind({
  kind: 'inspect',
  payload: InspectPayload,
  light: true,
  cacheKey: (p) => hashOf(p),
  inputs: (p) => ({ blobs: p.what === 'model' ? p.files.map((f) => f.sha256) : [p.sha256] }),
  async run(p, ctx) {
    const { isolatedInspector } = await import('../../store/inspect.js');
    // The readers run in a thread of their own with the heap and time bounds, exactly as on an embedded server.
    const inspector = isolatedInspector(p.limits);
    ctx.progress(0, 1, 'reading the upload');
    if (p.what === 'dataset') return inspector.dataset(ctx.blob(p.sha256));
    const { fileNames, inspectLaidOut } = await import('../../store/models.js');
    const { join } = await import('node:path');
    const names = await fileNames(p.files.map((f) => ({ name: f.name, path: ctx.blob(f.sha256), bytes: f.bytes })));
    const summary = await inspectLaidOut(
      inspector.checkpoint,
      join(ctx.dataDir, 'staging'),
      p.files.map((f, i) => ({ name: names[i], path: ctx.blob(f.sha256) })),
    );
    const out: ModelInspection = { ...summary, files: p.files.map((f, i) => ({ name: names[i], sha256: f.sha256, bytes: f.bytes })) };
    return out;
  },
});
