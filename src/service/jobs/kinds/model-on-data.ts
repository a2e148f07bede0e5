/** The payload of the kinds that read one stored ONNX model and one stored dataset (Hessian, collapse, flatness). */
import { z } from 'zod';

export const ModelOnDataPayload = z.object({
  /** Model id = content hash, so the cache key needs no file hashing. */
  model: z.string(),
  /** The ONNX file of the model. Not part of the cache key. */
  path: z.string(),
  dataset: z.string(),
  datasetPath: z.string(),
  /** The kind's options, already validated by the route with the library's parser (defaults filled in). */
  options: z.record(z.string(), z.unknown()),
});
export type ModelOnDataPayload = z.infer<typeof ModelOnDataPayload>;
