/**
 * Cooperative stopping of a job's worker thread. The queue sets a flag in shared memory; the job sees it at its
 * next progress call (or checkpoint) and unwinds with JobStopped. Terminating the thread instead would tear
 * onnxruntime down under a running session.run(), which aborts the whole process (issue 16, finding 0).
 */
import { isWeightscopeError } from '../../errors.js';

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

/**
 * The error a job failed with: the stop reason when it was stopped (whatever the job made of the JobStopped it
 * threw), a WeightscopeError's code and message, or 'internal' for anything else (a bug).
 */
export function jobErrorOf(e: unknown, reason: StopReason | null): { code: string; message: string } {
  if (reason) return { code: reason === 'time-limit' ? 'time-limit' : 'cancelled', message: `stopped: ${reason}` };
  if (isWeightscopeError(e)) return { code: e.code, message: e.message };
  return { code: 'internal', message: e instanceof Error ? e.message : String(e) };
}
