/**
 * Cooperative stopping of a job's worker thread. The queue sets a flag in shared memory; the job sees it at its
 * next progress call (or checkpoint) and unwinds with JobStopped. Terminating the thread instead would tear
 * onnxruntime down under a running session.run(), which aborts the whole process (issue 16, finding 0).
 */
export const STOP_REASONS = ['cancel', 'time-limit', 'shutdown'] as const;
export type StopReason = (typeof STOP_REASONS)[number];

export class StopFlag {
  private readonly cell: Int32Array;
  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(4)) {
    this.cell = new Int32Array(buffer);
  }

  /** The first reason set wins (a cancel after a time limit stays a time limit). */
  set(reason: StopReason): void {
    Atomics.compareExchange(this.cell, 0, 0, STOP_REASONS.indexOf(reason) + 1);
  }

  get reason(): StopReason | null {
    const v = Atomics.load(this.cell, 0);
    return v === 0 ? null : STOP_REASONS[v - 1];
  }
}

export class JobStopped extends Error {
  constructor(readonly reason: StopReason) {
    super(`job stopped (${reason})`);
    this.name = 'JobStopped';
  }
}
