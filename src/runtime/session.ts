/**
 * onnxruntime sessions for in-memory graphs. One place owns all sessions (session-host.ts): a worker thread
 * (session-worker.ts) when this is the main thread, else — in inline mode — this thread itself. This side keeps a
 * cache keyed by the SHA-256 of the graph bytes and the device, so asking again for the same graph — with any
 * weights, since parameters are graph inputs — never rebuilds a session.
 *
 * Modes: 'worker' keeps the event loop free while a graph runs (a server's main thread needs that); 'inline' runs
 * on the calling thread, saving the thread round trip and the copies of feeds and outputs (0.1–0.5 ms a call,
 * bench/autodiff.bench.ts) — for threads with nothing else to do: a job's worker thread, the CLI process.
 * Default: inline off the main thread, worker on it; WEIGHTSCOPE_RUNTIME=inline|worker or setRuntimeMode overrides.
 */
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { isMainThread, Worker } from 'node:worker_threads';
import onnxProto from 'onnx-proto';
import { WeightscopeError } from '../errors.js';
import {
  DEVICES,
  type Device,
  type HostTensor,
  type ResidentFeed,
  type SessionInfo,
  type TensorArray,
  type WorkerRequest,
  type WorkerResponse,
} from './wire.js';

const { onnx } = onnxProto;

export type { Device, HostTensor } from './wire.js';

export interface SessionOptions {
  /** Execution provider; a missing one is an error, never a silent fallback to the CPU. Default 'cpu'. */
  readonly device?: Device;
  /**
   * A data-parallel lane (0, 1, …): the session lives in that lane's own worker thread, whatever the runtime mode,
   * so sessions of different lanes run at the same time (engine.ts shards a batch across them). Unset: the mode's
   * place (this thread when inline, else the shared session worker, which is lane 0).
   */
  readonly lane?: number;
  /** onnxruntime intra-op threads of this session (default intraOpThreads()). */
  readonly threads?: number;
}

export interface RunOptions {
  /**
   * Feeds that are data (a batch's x and y) rather than parameters: they are kept resident in the worker, keyed by
   * the identity of their typed array, and after the first run only a reference crosses the thread boundary.
   * Assumption: such arrays are never mutated in place once used — a caller that changes the data must build new
   * arrays (a new Batch); an in-place change would go unseen by later runs.
   */
  readonly resident?: readonly string[];
}

export interface RuntimeSession {
  readonly key: string;
  readonly device: Device;
  /** The worker lane it lives in, or 'inline' (this thread). */
  readonly place: number | 'inline';
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Runs the graph where the session lives (see `place`); `fetches` limits the outputs computed. */
  run(
    feeds: Readonly<Record<string, HostTensor>>,
    fetches?: readonly string[],
    opts?: RunOptions,
  ): Promise<Record<string, HostTensor>>;
}

type Pending = { resolve: (r: WorkerResponse) => void; reject: (e: Error) => void };

export type RuntimeMode = 'inline' | 'worker';

function modeFromEnv(): RuntimeMode {
  const env = process.env.WEIGHTSCOPE_RUNTIME;
  if (env === 'inline' || env === 'worker') return env;
  return isMainThread ? 'worker' : 'inline';
}
let mode: RuntimeMode = modeFromEnv();
let host: Promise<typeof import('./session-host.js')> | null = null;

/**
 * Where sessions run from now on (see the module comment). Sessions built in the other mode are dropped; call it
 * before building any. WEIGHTSCOPE_RUNTIME, when set, wins (a user can force either).
 */
export async function setRuntimeMode(m: RuntimeMode): Promise<void> {
  const env = process.env.WEIGHTSCOPE_RUNTIME;
  const next = env === 'inline' || env === 'worker' ? env : m;
  if (next === mode) return;
  await shutdownRuntime();
  mode = next;
}

export function runtimeMode(): RuntimeMode {
  return mode;
}

/** Where a session lives: a worker lane, or this thread (inline mode). */
type Place = number | 'inline';

const workers = new Map<number, Worker>();
let nextId = 1;
const pending = new Map<number, Pending & { lane: number }>();
/** Requests awaiting an answer, per lane (an idle worker is unref'd so it does not keep the process alive). */
const inFlight = new Map<number, number>();
const cache = new Map<string, Promise<RuntimeSession>>();
/** getSession calls not yet given back by releaseSession, per cached session. */
const holders = new Map<string, number>();
let sessionsCreated = 0;
/** Per place, bumped when its worker (or inline host) starts: a resident ref sent to an earlier one is sent again. */
const generations = new Map<Place, number>();
let nextGen = 1;

/** A data array's resident identity: its ref, the shape it was sent with, and the generation of each place holding it. */
interface ResidentId {
  readonly ref: number;
  readonly type: HostTensor['type'];
  readonly dims: string;
  readonly held: Map<Place, number>;
}
// Keyed by the array object, never by content (hashing 3 MB per call would cost what residency saves).
const residentIds = new WeakMap<TensorArray, ResidentId>();
let nextRef = 1;
const residentCounts = { uploads: 0, reuses: 0, resends: 0 };
let residentLimit = residentLimitFromEnv();

function residentLimitFromEnv(): number {
  const mib = Number(process.env.WEIGHTSCOPE_RESIDENT_MIB);
  return Number.isFinite(mib) && mib >= 0 ? Math.floor(mib * 2 ** 20) : 256 * 2 ** 20;
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

function getWorker(lane: number): Worker {
  const have = workers.get(lane);
  if (have) return have;
  const w = workerEntry();
  w.unref();
  w.on('message', (res: WorkerResponse) => {
    const p = pending.get(res.id);
    if (!p) return;
    pending.delete(res.id);
    const left = (inFlight.get(lane) ?? 1) - 1;
    inFlight.set(lane, left);
    if (left === 0) w.unref();
    p.resolve(res);
  });
  const fail = (e: Error) => {
    if (workers.get(lane) === w) {
      workers.delete(lane);
      generations.delete(lane);
      for (const k of [...cache.keys()]) {
        if (!k.endsWith(`@${lane}`)) continue;
        cache.delete(k);
        holders.delete(k);
      }
    }
    for (const [id, p] of pending) {
      if (p.lane !== lane) continue;
      pending.delete(id);
      p.reject(e);
    }
    inFlight.delete(lane);
  };
  w.on('error', (e) => fail(e instanceof Error ? e : new Error(String(e))));
  w.on('exit', (code) => fail(new Error(`onnxruntime worker exited (code ${code})`)));
  workers.set(lane, w);
  generations.set(lane, nextGen++);
  // Its reply carries an id nobody waits for, and is dropped; messages are handled in order, so every run sees it.
  const limit: WorkerRequest = { id: nextId++, kind: 'resident-limit', bytes: residentLimit };
  w.postMessage(limit);
  return w;
}

/** The in-thread session host (inline mode), loaded on first use; a new one is a new resident generation. */
function getHost(): Promise<typeof import('./session-host.js')> {
  if (host) return host;
  generations.set('inline', nextGen++);
  const bytes = residentLimit;
  host = import('./session-host.js').then(async (h) => {
    await h.respond({ id: nextId++, kind: 'resident-limit', bytes });
    return h;
  });
  return host;
}

/** Starts the place's host if needed; returns its current generation. */
async function ready(place: Place): Promise<number> {
  if (place === 'inline') await getHost();
  else getWorker(place);
  return generations.get(place)!;
}

function request(req: WorkerRequest, place: Place, transfer: ArrayBuffer[] = []): Promise<WorkerResponse> {
  if (place === 'inline') return getHost().then((h) => h.respond(req));
  const w = getWorker(place);
  return new Promise((resolve, reject) => {
    pending.set(req.id, { resolve, reject, lane: place });
    inFlight.set(place, (inFlight.get(place) ?? 0) + 1);
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
  if (opts.lane !== undefined && !(Number.isInteger(opts.lane) && opts.lane >= 0)) {
    throw new WeightscopeError('invalid-input', `lane ${opts.lane} is not a non-negative integer`);
  }
  const place: Place = opts.lane ?? (mode === 'inline' ? 'inline' : 0);
  const threads = opts.threads ?? intraOpThreads();
  const key = `${graphKey(bytes)}:${device}:${threads}@${place}`;
  let s = cache.get(key);
  if (!s) {
    s = createSession(key, bytes, device, place, threads);
    cache.set(key, s);
    holders.set(key, 0);
    s.catch(() => {
      cache.delete(key);
      holders.delete(key);
    });
  }
  holders.set(key, (holders.get(key) ?? 0) + 1);
  return s;
}

/** onnxruntime intra-op threads: every core, unless WEIGHTSCOPE_THREADS says otherwise (benchmarks, shared hosts). */
export function intraOpThreads(): number {
  const env = Number(process.env.WEIGHTSCOPE_THREADS);
  return Number.isInteger(env) && env > 0 ? env : availableParallelism();
}

async function createSession(key: string, bytes: Uint8Array, device: Device, place: Place, threads: number): Promise<RuntimeSession> {
  const res = check(
    await request({ id: nextId++, kind: 'create', key, bytes, device, threads }, place),
    'cannot create an onnxruntime session',
  );
  sessionsCreated++;
  const info = res.info as SessionInfo;
  return {
    key,
    device,
    place,
    inputNames: info.inputNames,
    outputNames: info.outputNames,
    async run(feeds, fetches, opts) {
      for (const n of info.inputNames) {
        if (!(n in feeds)) throw new WeightscopeError('invalid-input', `graph input '${n}' was not given`);
      }
      const data = new Set(opts?.resident ?? []);
      const plain: Record<string, HostTensor> = {};
      const held: { name: string; t: HostTensor; id: ResidentId }[] = [];
      for (const [name, t] of Object.entries(feeds)) {
        if (data.has(name)) held.push({ name, t, id: residentId(t) });
        else plain[name] = t;
      }
      let resend = new Set<number>();
      // The worker may lack a ref (evicted, restarted): it says which, and they go again with their bytes. A third
      // try, after refs evicted by a concurrent run in between, sends every data feed in full.
      for (let attempt = 0; ; attempt++) {
        const gen = await ready(place);
        const resident: Record<string, ResidentFeed> = {};
        for (const { name, t, id } of held) {
          if (id.held.get(place) === gen && !resend.has(id.ref) && attempt < 2) {
            resident[name] = { ref: id.ref };
            residentCounts.reuses++;
          } else {
            resident[name] = { ref: id.ref, tensor: packed(t) };
            id.held.set(place, gen);
            residentCounts.uploads++;
          }
        }
        const fetch = fetches ? [...fetches] : null;
        const res = await request({ id: nextId++, kind: 'run', key, feeds: plain, resident, fetches: fetch }, place);
        if (!res.ok && res.missing && attempt < 2) {
          resend = new Set(res.missing);
          residentCounts.resends += res.missing.length;
          continue;
        }
        return check(res, 'onnxruntime run failed').outputs ?? {};
      }
    },
  };
}

function residentId(t: HostTensor): ResidentId {
  const dims = t.dims.join(',');
  let id = residentIds.get(t.data);
  if (!id || id.type !== t.type || id.dims !== dims) {
    id = { ref: nextRef++, type: t.type, dims, held: new Map() };
    residentIds.set(t.data, id);
  }
  return id;
}

/** The tensor with an array that owns its whole buffer (structured clone copies the entire buffer of a view). */
function packed(t: HostTensor): HostTensor {
  const d = t.data;
  return d.byteOffset === 0 && d.byteLength === d.buffer.byteLength ? t : { ...t, data: d.slice() as TensorArray };
}

/**
 * Bounds the worker's store of resident data feeds (default 256 MiB, or WEIGHTSCOPE_RESIDENT_MIB); least recently
 * used feeds are evicted past it. Results never depend on it: an evicted feed is sent again.
 */
export async function setResidentLimit(bytes: number): Promise<void> {
  if (!(Number.isFinite(bytes) && bytes >= 0)) throw new WeightscopeError('invalid-input', `resident limit ${bytes} is not a byte count`);
  residentLimit = Math.floor(bytes);
  const places: Place[] = [...workers.keys(), ...(host ? ['inline' as const] : [])];
  for (const place of places) {
    check(await request({ id: nextId++, kind: 'resident-limit', bytes: residentLimit }, place), 'cannot set the resident limit');
  }
}

/** Counts of data feeds uploaded in full, passed by reference, and resent after the worker lacked them (tests, benches). */
export function residentStats(): { readonly uploads: number; readonly reuses: number; readonly resends: number } {
  return { ...residentCounts };
}

/**
 * Gives back one getSession of this session; the last one drops it from the cache and frees it in its worker
 * (long-running services call this for old models). Engines on the same graph share a session, so one engine's
 * dispose must not free it under another.
 */
export async function releaseSession(session: RuntimeSession): Promise<void> {
  const left = (holders.get(session.key) ?? 1) - 1;
  if (left > 0) {
    holders.set(session.key, left);
    return;
  }
  holders.delete(session.key);
  if (!cache.delete(session.key)) return;
  const live = session.place === 'inline' ? host !== null : workers.has(session.place);
  if (!live) return;
  check(await request({ id: nextId++, kind: 'release', key: session.key }, session.place), 'cannot release an onnxruntime session');
}

/** How many sessions were actually built since start (tests use it to prove the cache works). */
export function sessionsBuilt(): number {
  return sessionsCreated;
}

/** Releases every session and stops the worker (the worker is unref'd when idle, so this is optional). */
export async function shutdownRuntime(): Promise<void> {
  const ws = [...workers.values()];
  workers.clear();
  inFlight.clear();
  cache.clear();
  holders.clear();
  await Promise.all(ws.map((w) => w.terminate()));
  const h = host;
  host = null;
  if (h) await (await h).releaseAll();
}
