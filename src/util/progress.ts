/**
 * Progress of long computations (analysis, ranking, training, Hessian runs): one callback shape for the library,
 * the CLI (a terminal bar, or JSON lines with --progress: src/cli/progress.ts) and the service's job progress (SSE).
 */
export interface ProgressDetail {
  /**
   * Share of the work done (0..1) when steps differ in cost (an LLM's layers: the embeddings cost 8× a projection),
   * so ETAs follow the work, not the step count.
   */
  fraction?: number;
  /** Anything else worth a JSON line: the layer's GFLOP/s, whether it came from the cache, … */
  [key: string]: unknown;
}

export type ProgressHook = (done: number, total: number, message: string, detail?: ProgressDetail) => void;
