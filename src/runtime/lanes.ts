/**
 * Where sessions live and how requests reach them: a worker thread per data-parallel lane (session-worker.ts), or,
 * in inline mode, this thread's own session host (session-host.ts). Each place has a generation, bumped when its
 * host starts, so a resident feed sent to an earlier worker is known to be gone. An idle worker is unref'd so it does
 * not keep the process alive.
 */
import { isMainThread, Worker } from 'node:worker_threads';
import type { WorkerRequest, WorkerResponse } from './wire.js';

/** Where a session lives: a worker lane, or this thread (inline mode). */
export type Place = number | 'inline';

export type RuntimeMode = 'inline' | 'worker';

type Host = typeof import('./session-host.js');
type Pending = { resolve: (r: WorkerResponse) => void; reject: (e: Error) => void; lane: number };

function modeFromEnv(): RuntimeMode {
  const env = process.env.WEIGHTSCOPE_RUNTIME;
  if (env === 'inline' || env === 'worker') return env;
  return isMainThread ? 'worker' : 'inline';
}

function workerEntry(): Worker {
  const self = import.meta.url;
  if (self.endsWith('.ts')) {
    // Running from source under tsx (tests, benches): workers do not inherit tsx's loader, so register it first.
    const api = import.meta.resolve('tsx/esm/api');
    const entry = new URL('./session-worker.ts', self).href;
    const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
    return new Worker(code, { eval: true });
  }
  return new Worker(new URL('./session-worker.js', self));
}

export interface LaneHooks {
  /** A lane's worker died or exited: the sessions it held are gone. */
  readonly lost: (lane: number) => void;
  /** The first request a new host gets (the resident store's limit); its answer is not awaited. */
  readonly greeting: (id: number) => WorkerRequest;
}

export class Lanes {
  mode: RuntimeMode = modeFromEnv();
  readonly #hooks: LaneHooks;
  readonly #workers = new Map<number, Worker>();
  readonly #pending = new Map<number, Pending>();
  /** Requests awaiting an answer, per lane. */
  readonly #inFlight = new Map<number, number>();
  readonly #generations = new Map<Place, number>();
  #nextGen = 1;
  #nextId = 1;
  #host: Promise<Host> | null = null;

  constructor(hooks: LaneHooks) {
    this.#hooks = hooks;
  }

  nextId(): number {
    return this.#nextId++;
  }

  /** The place of a session without a lane: this thread when inline, else the shared worker (lane 0). */
  defaultPlace(): Place {
    return this.mode === 'inline' ? 'inline' : 0;
  }

  /** Whether the place's host is running (a session there may still exist). */
  isLive(place: Place): boolean {
    return place === 'inline' ? this.#host !== null : this.#workers.has(place);
  }

  /** Every running host. */
  livePlaces(): Place[] {
    return [...this.#workers.keys(), ...(this.#host ? ['inline' as const] : [])];
  }

  /** Starts the place's host if needed; returns its current generation. */
  async ready(place: Place): Promise<number> {
    if (place === 'inline') await this.#inline();
    else this.#worker(place);
    return this.#generations.get(place)!;
  }

  request(req: WorkerRequest, place: Place, transfer: ArrayBuffer[] = []): Promise<WorkerResponse> {
    if (place === 'inline') return this.#inline().then((h) => h.respond(req));
    const w = this.#worker(place);
    return new Promise((resolve, reject) => {
      this.#pending.set(req.id, { resolve, reject, lane: place });
      this.#inFlight.set(place, (this.#inFlight.get(place) ?? 0) + 1);
      w.ref(); // keep the process alive while a run is in flight
      w.postMessage(req, transfer);
    });
  }

  /** Stops every worker and releases the inline host's sessions. */
  async shutdown(): Promise<void> {
    const ws = [...this.#workers.values()];
    this.#workers.clear();
    this.#inFlight.clear();
    await Promise.all(ws.map((w) => w.terminate()));
    const h = this.#host;
    this.#host = null;
    if (h) await (await h).releaseAll();
  }

  /** The in-thread session host (inline mode), loaded on first use; a new one is a new resident generation. */
  #inline(): Promise<Host> {
    if (this.#host) return this.#host;
    this.#generations.set('inline', this.#nextGen++);
    const greeting = this.#hooks.greeting(this.nextId());
    this.#host = import('./session-host.js').then(async (h) => {
      await h.respond(greeting);
      return h;
    });
    return this.#host;
  }

  #worker(lane: number): Worker {
    const have = this.#workers.get(lane);
    if (have) return have;
    const w = workerEntry();
    w.unref();
    w.on('message', (res: WorkerResponse) => {
      const p = this.#pending.get(res.id);
      if (!p) return;
      this.#pending.delete(res.id);
      const left = (this.#inFlight.get(lane) ?? 1) - 1;
      this.#inFlight.set(lane, left);
      if (left === 0) w.unref();
      p.resolve(res);
    });
    const fail = (e: Error) => {
      if (this.#workers.get(lane) === w) {
        this.#workers.delete(lane);
        this.#generations.delete(lane);
        this.#hooks.lost(lane);
      }
      for (const [id, p] of this.#pending) {
        if (p.lane !== lane) continue;
        this.#pending.delete(id);
        p.reject(e);
      }
      this.#inFlight.delete(lane);
    };
    w.on('error', (e) => fail(e instanceof Error ? e : new Error(String(e))));
    w.on('exit', (code) => fail(new Error(`onnxruntime worker exited (code ${code})`)));
    this.#workers.set(lane, w);
    this.#generations.set(lane, this.#nextGen++);
    // Its reply carries an id nobody waits for, and is dropped; messages are handled in order, so every run sees it.
    w.postMessage(this.#hooks.greeting(this.nextId()));
    return w;
  }
}
