/** Progress callbacks of long computations (analysis, training, Hessian runs); the CLI and the job workers implement it. */
export interface ProgressHook {
  (done: number, total: number, message: string): void;
}
