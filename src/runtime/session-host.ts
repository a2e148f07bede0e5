/**
 * What owns onnxruntime sessions, in whichever thread runs it: the session worker (session-worker.ts) or, in inline
 * mode, the thread that asks (session.ts). onnxruntime-node's `session.run` computes on the calling thread (measured:
 * a 1 s run lets no timer fire), so the main thread of a server must not host it; a CLI process or a job's worker
 * thread may. Sessions are kept by the key the caller gives (a hash of the graph bytes).
 */
import ort from 'onnxruntime-node';
import { checkDevice, DeviceUnavailable, firstLine } from './device-probe.js';
import type { HostTensor, ResidentFeed, TensorArray, WorkerRequest, WorkerResponse } from './wire.js';

const sessions = new Map<string, ort.InferenceSession>();

type Failure = Extract<WorkerResponse, { ok: false }>;

/**
 * Data feeds kept between runs, by the ref the main thread assigned, so a batch used again (Hessian iterations, a
 * benchmark) crosses the thread boundary once. Map order is recency: a hit is re-inserted at the end, eviction takes
 * from the front until the total fits the limit. Nothing depends on a hit: a missing ref is reported and resent.
 */
const resident = new Map<number, { readonly tensor: ort.Tensor; readonly bytes: number }>();
let residentBytes = 0;
let residentLimit = 256 * 2 ** 20; // the main thread sets the real limit right after starting us

function takeResident(feed: ResidentFeed): ort.Tensor | null {
  const hit = resident.get(feed.ref);
  if (hit) {
    resident.delete(feed.ref);
    residentBytes -= hit.bytes;
  }
  if (feed.tensor) {
    const tensor = toOrt(feed.tensor);
    const bytes = feed.tensor.data.byteLength;
    // One tensor larger than the whole store is used for this run only.
    if (bytes <= residentLimit) {
      resident.set(feed.ref, { tensor, bytes });
      residentBytes += bytes;
    }
    return tensor;
  }
  if (!hit) return null;
  resident.set(feed.ref, hit);
  residentBytes += hit.bytes;
  return hit.tensor;
}

/** Drops least recently used entries until the store fits (tensors of the current run stay alive in its feeds). */
function evictResident(): void {
  for (const [ref, r] of resident) {
    if (residentBytes <= residentLimit) break;
    resident.delete(ref);
    residentBytes -= r.bytes;
  }
}

function toOrt(t: HostTensor): ort.Tensor {
  return new ort.Tensor(t.type, t.data as never, t.dims as number[]);
}

function fromOrt(t: ort.Tensor): HostTensor {
  const type = t.type as HostTensor['type'];
  const src = t.data as TensorArray;
  // Copy into a buffer we own so it can be transferred without touching onnxruntime's memory.
  const data = src.slice() as TensorArray;
  return { type, data, dims: [...t.dims] };
}

function classify(message: string): Failure['code'] {
  if (/NOT_IMPLEMENTED|Could not find an implementation/i.test(message)) return 'unsupported-op';
  if (/invalid dimensions|shape mismatch|ShapeInferenceError|broadcast|Invalid rank/i.test(message)) return 'shape-mismatch';
  if (/input .* is missing|invalid input name|invalid output name|Unexpected input data type|type mismatch/i.test(message)) {
    return 'invalid-input';
  }
  return null;
}

export async function handle(req: WorkerRequest): Promise<WorkerResponse> {
  switch (req.kind) {
    case 'create': {
      await checkDevice(req.device);
      let s = sessions.get(req.key);
      if (!s) {
        s = await ort.InferenceSession.create(req.bytes, {
          executionProviders: [req.device],
          intraOpNumThreads: req.threads,
          interOpNumThreads: 1,
          logSeverityLevel: 3,
          // Intra-op pool threads sleep between parallel sections instead of spinning. Measured on the 2-core
          // shared box (bench/repair.md §3, curve training at 2 threads): with spinning 3.3–3.5 s/epoch at load ~5,
          // without 1.6 s; on a quieter box (load 4.5) equal (1.0 s both). At 1 thread there is no pool: no change.
          extra: { session: { intra_op: { allow_spinning: '0' } } },
        });
        sessions.set(req.key, s);
      }
      return { id: req.id, ok: true, info: { inputNames: [...s.inputNames], outputNames: [...s.outputNames] } };
    }
    case 'run': {
      const s = sessions.get(req.key);
      if (!s) return { id: req.id, ok: false, code: null, message: `no session ${req.key} in the worker` };
      const feeds: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(req.feeds)) feeds[name] = toOrt(t);
      const missing: number[] = [];
      for (const [name, f] of Object.entries(req.resident ?? {})) {
        const t = takeResident(f);
        if (t) feeds[name] = t;
        else missing.push(f.ref);
      }
      evictResident();
      if (missing.length) return { id: req.id, ok: false, code: null, message: 'resident data feeds missing', missing };
      const out = req.fetches ? await s.run(feeds, req.fetches as string[]) : await s.run(feeds);
      const outputs: Record<string, HostTensor> = {};
      for (const [name, t] of Object.entries(out)) outputs[name] = fromOrt(t);
      return { id: req.id, ok: true, outputs };
    }
    case 'probe': {
      await checkDevice(req.device);
      return { id: req.id, ok: true };
    }
    case 'resident-limit': {
      residentLimit = req.bytes;
      evictResident();
      return { id: req.id, ok: true };
    }
    case 'release': {
      const s = sessions.get(req.key);
      sessions.delete(req.key);
      if (s) await s.release();
      return { id: req.id, ok: true };
    }
  }
}

/** handle, with failures turned into responses (what either transport sends back). */
export async function respond(req: WorkerRequest): Promise<WorkerResponse> {
  try {
    return await handle(req);
  } catch (e) {
    const message = e instanceof DeviceUnavailable ? e.message : firstLine(e);
    const code = e instanceof DeviceUnavailable ? 'device-unavailable' : classify(message);
    return { id: req.id, ok: false, code, message };
  }
}

/** Releases every session and resident feed (inline mode's shutdown). */
export async function releaseAll(): Promise<void> {
  const all = [...sessions.values()];
  sessions.clear();
  resident.clear();
  residentBytes = 0;
  await Promise.all(all.map((s) => s.release()));
}
