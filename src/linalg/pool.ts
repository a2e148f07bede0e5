/**
 * A fixed pool of worker threads computing matrixEigenvalues, so several layers' spectra are solved at once
 * (one per core). Matrices travel by transferring their ArrayBuffer: no copies, and the caller's array is
 * detached afterwards unless `copy: true` is asked for.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { WeightscopeError, type ErrorCode } from '../errors.js';
import { checkMatrix } from './gram.js';
import type { EigenBackend } from './eigen.js';
import { getBlasThreads, setBlasThreads } from './lapack.js';
import type { EigenReply, EigenTask } from './eigen-worker.js';

export interface EigenPoolOptions {
  /** Worker count; default os.availableParallelism(). */
  size?: number;
  backend?: EigenBackend;
  /**
   * OpenBLAS threads (a process-wide setting, applied when the pool starts). Default: 1 when the pool has more
   * than one worker (each worker keeps one core busy), otherwise the library's own default.
   */
  blasThreads?: number;
}

export interface EigenRunOptions {
  /** Copy W instead of transferring (and detaching) its buffer. Default false. */
  copy?: boolean;
}

interface Pending {
  task: EigenTask;
  transfer: ArrayBuffer[];
  resolve: (v: Float64Array) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  busy: Pending | null;
  ready: boolean;
}

/**
 * The worker module beside this one. Compiled (dist/*.js): eigen-worker.js directly. From sources under tsx
 * (tests): Node 20 does not carry tsx's loader hooks into worker threads, so a two-line bootstrap registers
 * tsx inside the worker and then imports eigen-worker.ts.
 */
function startWorker(workerData: unknown): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./eigen-worker.js', import.meta.url), { workerData });
  const api = import.meta.resolve('tsx/esm/api');
  const target = new URL('./eigen-worker.ts', import.meta.url).href;
  const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(target)}); })`;
  return new Worker(code, { eval: true, workerData });
}

export class EigenPool {
  readonly size: number;
  private readonly backend: EigenBackend;
  private readonly blasThreads: number | undefined;
  /** OpenBLAS threads before the pool changed them, restored by close(). */
  private readonly blasThreadsBefore: number | null;
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closed = false;
  /** Set when a worker fails before it is ready (e.g. its module cannot load): no respawn loop, jobs reject. */
  private broken: Error | null = null;

  constructor(opts: EigenPoolOptions = {}) {
    const size = opts.size ?? availableParallelism();
    if (!Number.isInteger(size) || size < 1) throw new WeightscopeError('invalid-input', `pool size must be a positive integer, got ${size}`);
    this.size = size;
    this.backend = opts.backend ?? 'auto';
    this.blasThreads = opts.blasThreads ?? (size > 1 ? 1 : undefined);
    this.blasThreadsBefore = this.blasThreads !== undefined ? getBlasThreads() : null;
    if (this.blasThreads !== undefined) setBlasThreads(this.blasThreads);
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
  }

  private spawn(): Slot {
    const worker = startWorker({ blasThreads: this.blasThreads });
    const slot: Slot = { worker, busy: null, ready: false };
    worker.unref(); // idle workers must not keep the process alive
    worker.on('message', (reply: EigenReply) => {
      if ('ready' in reply) {
        slot.ready = true;
        return;
      }
      const job = slot.busy;
      slot.busy = null;
      worker.unref();
      if (job) {
        if ('values' in reply) job.resolve(reply.values);
        else {
          const { message, code, details } = reply.error;
          job.reject(code ? new WeightscopeError(code as ErrorCode, message, details) : new Error(`eigen worker: ${message}`));
        }
      }
      this.pump();
    });
    const fail = (err: Error): void => {
      const job = slot.busy;
      slot.busy = null;
      const died = new Error(`eigen worker died: ${err.message}`);
      job?.reject(died);
      const idx = this.slots.indexOf(slot);
      if (!slot.ready && !this.closed) {
        this.broken = died;
        for (const q of this.queue.splice(0)) q.reject(died);
        return;
      }
      if (idx >= 0 && !this.closed) {
        this.slots[idx] = this.spawn();
        this.pump();
      }
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (!this.closed && this.slots.includes(slot)) fail(new Error(`exit code ${code}`));
    });
    return slot;
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (slot.busy) continue;
      const job = this.queue.shift() as Pending;
      slot.busy = job;
      slot.worker.ref();
      slot.worker.postMessage(job.task, job.transfer);
    }
  }

  /** Eigenvalues (ascending) of the smaller Gram matrix of W, computed in a worker. */
  run(W: Float64Array, rows: number, cols: number, opts: EigenRunOptions = {}): Promise<Float64Array> {
    if (this.closed) return Promise.reject(new WeightscopeError('invalid-input', 'EigenPool is closed'));
    if (this.broken) return Promise.reject(this.broken);
    try {
      checkMatrix(W, rows, cols);
    } catch (e) {
      return Promise.reject(e);
    }
    // Transfer only a buffer the array owns whole; a view into a larger (or shared) buffer is copied.
    const owns = !opts.copy && W.byteOffset === 0 && W.buffer.byteLength === W.byteLength && W.buffer instanceof ArrayBuffer;
    const data = owns ? W : W.slice();
    const buffer = data.buffer as ArrayBuffer;
    const task: EigenTask = { id: this.nextId++, buffer, byteOffset: 0, rows, cols, backend: this.backend };
    return new Promise((resolve, reject) => {
      this.queue.push({ task, transfer: [buffer], resolve, reject });
      this.pump();
    });
  }

  /** Stops the workers; queued and running jobs are rejected. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = new WeightscopeError('invalid-input', 'EigenPool closed before the job ran');
    for (const job of this.queue.splice(0)) job.reject(err);
    for (const s of this.slots) s.busy?.reject(err);
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    if (this.blasThreadsBefore !== null) setBlasThreads(this.blasThreadsBefore);
  }
}
