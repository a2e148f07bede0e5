/**
 * Payload pieces of the kinds that read stored models and datasets. Payloads name inputs by id only: the node that
 * runs the job finds their files (JobContext.onnx / .dataset), so a payload means the same on every worker.
 */
import { z } from 'zod';

/** A stored model or dataset named in a payload. Its id is its content hash, so cache keys need no file hashing. */
export const Stored = z.object({ id: z.string() });

/** The job's stored inputs (JobKind.inputs), each dataset once. */
export function inputsOf(
  models: readonly { id: string }[],
  data: readonly ({ id: string } | null)[],
): { models: string[]; datasets: string[] } {
  return { models: models.map((m) => m.id), datasets: [...new Set(data.flatMap((d) => (d ? [d.id] : [])))] };
}

/** The payload of the kinds that read one stored ONNX model and one stored dataset (Hessian, collapse, flatness). */
export const ModelOnDataPayload = z.object({
  model: z.string(),
  dataset: z.string(),
  /** The kind's options, already validated by the route with the library's parser (defaults filled in). */
  options: z.record(z.string(), z.unknown()),
});
export type ModelOnDataPayload = z.infer<typeof ModelOnDataPayload>;

export const modelOnDataInputs = (p: ModelOnDataPayload): { models: string[]; datasets: string[] } => ({
  models: [p.model],
  datasets: [p.dataset],
});
