/**
 * A fixed pool of worker threads that run one request at a time each, for CPU-bound work (eigenvalues, layer
 * spectra). Requests carry transferable buffers (no copies); errors come back typed as WeightscopeErrors when they
 * were ones. A worker that dies mid-job fails that job and is replaced; one that fails before it is ready breaks the
 * pool (no respawn loop).
 */
import { Worker } from 'node:worker_threads';
import { parentPort, workerData as threadData } from 'node:worker_threads';
import { WeightscopeError, isWeightscopeError, type ErrorCode } from '../errors.js';

type Reply<Res> =
  | { ready: true }
  | { id: number; value: Res }
  | { id: number; error: { message: string; code?: string; details?: Record<string, unknown> } };

interface Pending<Req, Res> {
  id: number;
  req: Req;
  transfer: ArrayBuffer[];
  resolve: (v: Res) => void;
  reject: (e: Error) => void;
}

interface Slot<Req, Res> {
  worker: Worker;
  busy: Pending<Req, Res> | null;
  ready: boolean;
}

/**
 * Starts the worker module `path` (relative to the module at `callerUrl`, without extension): `.js` when the caller
 * is compiled, `.ts` under tsx (tests, benchmarks from sources). Node 20 does not carry tsx's loader hooks into
 * worker threads, so a two-line bootstrap registers tsx inside the worker first.
 */
function startWorker(callerUrl: string, path: string, workerData: unknown): Worker {
  if (!callerUrl.endsWith('.ts')) return new Worker(new URL(`${path}.js`, callerUrl), { workerData });
  const api = import.meta.resolve('tsx/esm/api');
  const target = new URL(`${path}.ts`, callerUrl).href;
  const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(target)}); })`;
  return new Worker(code, { eval: true, workerData });
}

export interface WorkerPoolOptions {
  size: number;
  /** import.meta.url of the module creating the pool, and the worker module relative to it, without extension. */
  callerUrl: string;
  worker: string;
  workerData?: unknown;
  /** Names the pool in errors ('eigen worker'). */
  label: string;
}

export class WorkerPool<Req, Res> {
  readonly size: number;
  readonly #opts: WorkerPoolOptions;
  readonly #slots: Slot<Req, Res>[] = [];
  readonly #queue: Pending<Req, Res>[] = [];
  #nextId = 1;
  #closed = false;
  #broken: Error | null = null;

  constructor(opts: WorkerPoolOptions) {
    if (!Number.isInteger(opts.size) || opts.size < 1) {
      throw new WeightscopeError('invalid-input', `pool size must be a positive integer, got ${opts.size}`);
    }
    this.size = opts.size;
    this.#opts = opts;
    for (let i = 0; i < opts.size; i++) this.#slots.push(this.#spawn());
  }

  get closed(): boolean {
    return this.#closed;
  }

  #spawn(): Slot<Req, Res> {
    const worker = startWorker(this.#opts.callerUrl, this.#opts.worker, this.#opts.workerData);
    const slot: Slot<Req, Res> = { worker, busy: null, ready: false };
    worker.unref(); // idle workers must not keep the process alive
    worker.on('message', (reply: Reply<Res>) => {
      if ('ready' in reply) {
        slot.ready = true;
        return;
      }
      const job = slot.busy;
      slot.busy = null;
      worker.unref();
      if (job) {
        if ('value' in reply) job.resolve(reply.value);
        else {
          const { message, code, details } = reply.error;
          job.reject(code ? new WeightscopeError(code as ErrorCode, message, details) : new Error(`${this.#opts.label}: ${message}`));
        }
      }
      this.#pump();
    });
    const fail = (err: Error): void => {
      const job = slot.busy;
      slot.busy = null;
      const died = new Error(`${this.#opts.label} died: ${err.message}`);
      job?.reject(died);
      const idx = this.#slots.indexOf(slot);
      if (!slot.ready && !this.#closed) {
        this.#broken = died;
        for (const q of this.#queue.splice(0)) q.reject(died);
        return;
      }
      if (idx >= 0 && !this.#closed) {
        this.#slots[idx] = this.#spawn();
        this.#pump();
      }
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (!this.#closed && this.#slots.includes(slot)) fail(new Error(`exit code ${code}`));
    });
    return slot;
  }

  #pump(): void {
    for (const slot of this.#slots) {
      if (this.#queue.length === 0) return;
      if (slot.busy) continue;
      const job = this.#queue.shift() as Pending<Req, Res>;
      slot.busy = job;
      slot.worker.ref();
      slot.worker.postMessage({ id: job.id, req: job.req }, job.transfer);
    }
  }

  /** Runs `req` on the next free worker; the `transfer` buffers move to it (and are detached here). */
  run(req: Req, transfer: ArrayBuffer[] = []): Promise<Res> {
    if (this.#closed) return Promise.reject(new WeightscopeError('invalid-input', `${this.#opts.label} pool is closed`));
    if (this.#broken) return Promise.reject(this.#broken);
    return new Promise((resolve, reject) => {
      this.#queue.push({ id: this.#nextId++, req, transfer, resolve, reject });
      this.#pump();
    });
  }

  /** Stops the workers; queued and running jobs are rejected. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const err = new WeightscopeError('invalid-input', `${this.#opts.label} pool closed before the job ran`);
    for (const job of this.#queue.splice(0)) job.reject(err);
    for (const s of this.#slots) s.busy?.reject(err);
    await Promise.all(this.#slots.map((s) => s.worker.terminate()));
  }
}

/**
 * The worker side: answers each request with `handle`'s value (its `transfer` buffers moved back) or its error,
 * as data so the pool can rethrow it typed. Returns the workerData the pool was started with.
 */
export function serveWorker<Req, Res>(
  handle: (req: Req) => Promise<{ value: Res; transfer?: ArrayBuffer[] }> | { value: Res; transfer?: ArrayBuffer[] },
): unknown {
  const port = parentPort;
  if (!port) throw new Error('serveWorker must run in a worker thread');
  // One request at a time: the pool never sends a second before the first is answered.
  port.on('message', async (msg: { id: number; req: Req }) => {
    let reply: Reply<Res>;
    let transfer: ArrayBuffer[] = [];
    try {
      const r = await handle(msg.req);
      reply = { id: msg.id, value: r.value };
      transfer = r.transfer ?? [];
    } catch (e) {
      reply = isWeightscopeError(e)
        ? { id: msg.id, error: { message: e.message, code: e.code, details: e.details } }
        : { id: msg.id, error: { message: e instanceof Error ? (e.stack ?? e.message) : String(e) } };
    }
    port.postMessage(reply, transfer);
  });
  port.postMessage({ ready: true } satisfies Reply<Res>);
  return threadData;
}
