/**
 * onnxruntime sessions for in-memory graphs. One worker thread owns all sessions (see session-worker.ts); this side
 * keeps a cache keyed by the SHA-256 of the graph bytes and the device, so asking again for the same graph — with any
 * weights, since parameters are graph inputs — never rebuilds a session.
 */
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import onnxProto from 'onnx-proto';
import { WeightscopeError } from '../errors.js';
import { DEVICES, type Device, type HostTensor, type SessionInfo, type WorkerRequest, type WorkerResponse } from './wire.js';

const { onnx } = onnxProto;

export type { Device, HostTensor } from './wire.js';

export interface SessionOptions {
  /** Execution provider; a missing one is an error, never a silent fallback to the CPU. Default 'cpu'. */
  readonly device?: Device;
}

export interface RuntimeSession {
  readonly key: string;
  readonly device: Device;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Runs the graph off the main thread; `fetches` limits the outputs computed. */
  run(feeds: Readonly<Record<string, HostTensor>>, fetches?: readonly string[]): Promise<Record<string, HostTensor>>;
}

type Pending = { resolve: (r: WorkerResponse) => void; reject: (e: Error) => void };

let worker: Worker | null = null;
let nextId = 1;
const pending = new Map<number, Pending>();
const cache = new Map<string, Promise<RuntimeSession>>();
let sessionsCreated = 0;

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

function getWorker(): Worker {
  if (worker) return worker;
  const w = workerEntry();
  w.unref();
  w.on('message', (res: WorkerResponse) => {
    const p = pending.get(res.id);
    if (!p) return;
    pending.delete(res.id);
    if (pending.size === 0) w.unref();
    p.resolve(res);
  });
  const fail = (e: Error) => {
    if (worker === w) {
      worker = null;
      cache.clear();
    }
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  };
  w.on('error', (e) => fail(e instanceof Error ? e : new Error(String(e))));
  w.on('exit', (code) => fail(new Error(`onnxruntime worker exited (code ${code})`)));
  worker = w;
  return w;
}

function request(req: WorkerRequest, transfer: ArrayBuffer[] = []): Promise<WorkerResponse> {
  const w = getWorker();
  return new Promise((resolve, reject) => {
    pending.set(req.id, { resolve, reject });
    w.ref(); // keep the process alive while a run is in flight
    w.postMessage(req, transfer);
  });
}

function check(res: WorkerResponse, what: string): Extract<WorkerResponse, { ok: true }> {
  if (res.ok) return res;
  throw new WeightscopeError(res.code ?? 'invalid-input', `${what}: ${res.message}`);
}

/** Stable key of a graph: SHA-256 of its serialized bytes. */
export function graphKey(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function encodeModel(model: Uint8Array | onnxProto.onnx.IModelProto): Uint8Array {
  return model instanceof Uint8Array ? model : onnx.ModelProto.encode(model).finish();
}

export function parseDevice(device: string | undefined): Device {
  const d = device ?? 'cpu';
  if (!(DEVICES as readonly string[]).includes(d)) {
    throw new WeightscopeError('invalid-input', `unknown device '${d}' (expected one of ${DEVICES.join(', ')})`);
  }
  return d as Device;
}

/** A session for this graph on this device, created once and reused for every later call. */
export function getSession(model: Uint8Array | onnxProto.onnx.IModelProto, opts: SessionOptions = {}): Promise<RuntimeSession> {
  const device = parseDevice(opts.device);
  const bytes = encodeModel(model);
  const key = `${graphKey(bytes)}:${device}`;
  let s = cache.get(key);
  if (!s) {
    s = createSession(key, bytes, device);
    cache.set(key, s);
    s.catch(() => cache.delete(key));
  }
  return s;
}

/** onnxruntime intra-op threads: every core, unless WEIGHTSCOPE_THREADS says otherwise (benchmarks, shared hosts). */
export function intraOpThreads(): number {
  const env = Number(process.env.WEIGHTSCOPE_THREADS);
  return Number.isInteger(env) && env > 0 ? env : availableParallelism();
}

async function createSession(key: string, bytes: Uint8Array, device: Device): Promise<RuntimeSession> {
  const res = check(
    await request({ id: nextId++, kind: 'create', key, bytes, device, threads: intraOpThreads() }),
    'cannot create an onnxruntime session',
  );
  sessionsCreated++;
  const info = res.info as SessionInfo;
  return {
    key,
    device,
    inputNames: info.inputNames,
    outputNames: info.outputNames,
    async run(feeds, fetches) {
      for (const n of info.inputNames) {
        if (!(n in feeds)) throw new WeightscopeError('invalid-input', `graph input '${n}' was not given`);
      }
      const r = check(
        await request({ id: nextId++, kind: 'run', key, feeds, fetches: fetches ? [...fetches] : null }),
        'onnxruntime run failed',
      );
      return r.outputs ?? {};
    },
  };
}

/** Drops a session from the cache and frees it in the worker (long-running services call this for old models). */
export async function releaseSession(session: RuntimeSession): Promise<void> {
  if (!cache.delete(session.key) || !worker) return;
  check(await request({ id: nextId++, kind: 'release', key: session.key }), 'cannot release an onnxruntime session');
}

/** How many sessions were actually built since start (tests use it to prove the cache works). */
export function sessionsBuilt(): number {
  return sessionsCreated;
}

/** Releases every session and stops the worker (the worker is unref'd when idle, so this is optional). */
export async function shutdownRuntime(): Promise<void> {
  const w = worker;
  worker = null;
  cache.clear();
  if (w) await w.terminate();
}
