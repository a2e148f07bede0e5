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
 *
 * The state lives in three objects: the lanes (lanes.ts: where sessions run), the resident data feeds
 * (resident-feeds.ts) and the session cache (session-cache.ts). A device 'auto' is resolved here, once per process.
 */
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import onnxProto from 'onnx-proto';
import { WeightscopeError } from '../errors.js';
import { AUTO_ORDER, parseDevice, type Device, type DeviceChoice } from './devices.js';
import { Lanes, type Place, type RuntimeMode } from './lanes.js';
import { ResidentFeeds, type ResidentCounts, type ResidentId } from './resident-feeds.js';
import { SessionCache } from './session-cache.js';
import type { HostTensor, SessionInfo, WorkerRequest, WorkerResponse } from './wire.js';

const { onnx } = onnxProto;

export type { Device, HostTensor } from './wire.js';
export type { DeviceChoice } from './devices.js';
export type { RuntimeMode } from './lanes.js';
export { parseDevice } from './devices.js';

export interface SessionOptions {
  /**
   * Execution provider, or 'auto' (a usable GPU, else the CPU; resolveDevice); a named one that is missing is an
   * error, never a silent fallback to the CPU. Default 'cpu'.
   */
  readonly device?: DeviceChoice;
  /**
   * A data-parallel lane (0, 1, …): the session lives in that lane's own worker thread, whatever the runtime mode,
   * so sessions of different lanes run at the same time (the engine shards a batch across them). Unset: the mode's
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
  /** The device it runs on ('auto' resolved). */
  readonly device: Device;
  /** The worker lane it lives in, or 'inline' (this thread). */
  readonly place: number | 'inline';
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Runs the graph where the session lives (see `place`); `fetches` limits the outputs computed. */
  run(feeds: Readonly<Record<string, HostTensor>>, fetches?: readonly string[], opts?: RunOptions): Promise<Record<string, HostTensor>>;
}

const resident = new ResidentFeeds();
const cache = new SessionCache<RuntimeSession>();
const lanes = new Lanes({
  lost: (lane) => cache.dropWhere(`@${lane}`),
  greeting: (id) => ({ id, kind: 'resident-limit', bytes: resident.limit }),
});

/**
 * Where sessions run from now on (see the module comment). Sessions built in the other mode are dropped; call it
 * before building any. WEIGHTSCOPE_RUNTIME, when set, wins (a user can force either).
 */
export async function setRuntimeMode(m: RuntimeMode): Promise<void> {
  const env = process.env.WEIGHTSCOPE_RUNTIME;
  const next = env === 'inline' || env === 'worker' ? env : m;
  if (next === lanes.mode) return;
  await shutdownRuntime();
  lanes.mode = next;
}

export function runtimeMode(): RuntimeMode {
  return lanes.mode;
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

let auto: Promise<Device> | null = null;

/**
 * The device a choice means: itself, or for 'auto' the first of AUTO_ORDER whose provider is present and starts
 * (probed where sessions run, once per process), else 'cpu'.
 */
export function resolveDevice(choice: DeviceChoice | undefined): Promise<Device> {
  const d = parseDevice(choice);
  if (d !== 'auto') return Promise.resolve(d);
  if (!auto) {
    auto = (async () => {
      for (const device of AUTO_ORDER) {
        const res = await lanes.request({ id: lanes.nextId(), kind: 'probe', device }, lanes.defaultPlace());
        if (res.ok) return device;
      }
      return 'cpu' as const;
    })();
    auto.catch(() => (auto = null)); // a worker lost mid-probe: ask again next time
  }
  return auto;
}

/** A session for this graph on this device, created once and reused for every later call. */
export async function getSession(model: Uint8Array | onnxProto.onnx.IModelProto, opts: SessionOptions = {}): Promise<RuntimeSession> {
  if (opts.lane !== undefined && !(Number.isInteger(opts.lane) && opts.lane >= 0)) {
    throw new WeightscopeError('invalid-input', `lane ${opts.lane} is not a non-negative integer`);
  }
  const device = await resolveDevice(opts.device);
  const bytes = encodeModel(model);
  const place: Place = opts.lane ?? lanes.defaultPlace();
  const threads = opts.threads ?? intraOpThreads();
  const key = `${graphKey(bytes)}:${device}:${threads}@${place}`;
  return cache.hold(key, () => createSession(key, bytes, device, place, threads));
}

/** onnxruntime intra-op threads: every core, unless WEIGHTSCOPE_THREADS says otherwise (benchmarks, shared hosts). */
export function intraOpThreads(): number {
  const env = Number(process.env.WEIGHTSCOPE_THREADS);
  return Number.isInteger(env) && env > 0 ? env : availableParallelism();
}

async function createSession(key: string, bytes: Uint8Array, device: Device, place: Place, threads: number): Promise<RuntimeSession> {
  const res = check(
    await lanes.request({ id: lanes.nextId(), kind: 'create', key, bytes, device, threads }, place),
    'cannot create an onnxruntime session',
  );
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
        if (data.has(name)) held.push({ name, t, id: resident.idOf(t) });
        else plain[name] = t;
      }
      let resend = new Set<number>();
      // The worker may lack a ref (evicted, restarted): it says which, and they go again with their bytes. A third
      // try, after refs evicted by a concurrent run in between, sends every data feed in full.
      for (let attempt = 0; ; attempt++) {
        const gen = await lanes.ready(place);
        const req: WorkerRequest = {
          id: lanes.nextId(),
          kind: 'run',
          key,
          feeds: plain,
          resident: resident.feeds(held, place, gen, resend, attempt >= 2),
          fetches: fetches ? [...fetches] : null,
        };
        const out = await lanes.request(req, place);
        if (!out.ok && out.missing && attempt < 2) {
          resend = new Set(out.missing);
          resident.countResends(out.missing.length);
          continue;
        }
        return check(out, 'onnxruntime run failed').outputs ?? {};
      }
    },
  };
}

/**
 * Bounds the worker's store of resident data feeds (default 256 MiB, or WEIGHTSCOPE_RESIDENT_MIB); least recently
 * used feeds are evicted past it. Results never depend on it: an evicted feed is sent again.
 */
export async function setResidentLimit(bytes: number): Promise<void> {
  resident.limit = bytes;
  for (const place of lanes.livePlaces()) {
    check(
      await lanes.request({ id: lanes.nextId(), kind: 'resident-limit', bytes: resident.limit }, place),
      'cannot set the resident limit',
    );
  }
}

/** Counts of data feeds uploaded in full, passed by reference, and resent after the worker lacked them (tests, benches). */
export function residentStats(): ResidentCounts {
  return resident.stats();
}

/**
 * Gives back one getSession of this session; the last one drops it from the cache and frees it in its worker
 * (long-running services call this for old models). Engines on the same graph share a session, so one engine's
 * dispose must not free it under another.
 */
export async function releaseSession(session: RuntimeSession): Promise<void> {
  if (!cache.release(session.key) || !lanes.isLive(session.place)) return;
  check(
    await lanes.request({ id: lanes.nextId(), kind: 'release', key: session.key }, session.place),
    'cannot release an onnxruntime session',
  );
}

/** How many sessions were actually built since start (tests use it to prove the cache works). */
export function sessionsBuilt(): number {
  return cache.built;
}

/** Releases every session and stops the worker (the worker is unref'd when idle, so this is optional). */
export async function shutdownRuntime(): Promise<void> {
  cache.clear();
  await lanes.shutdown();
}
