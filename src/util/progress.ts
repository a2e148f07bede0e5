/** Progress callbacks of long computations (analysis, training, Hessian runs); the CLI and the job workers implement it. */
export type ProgressHook = (done: number, total: number, message: string) => void;
