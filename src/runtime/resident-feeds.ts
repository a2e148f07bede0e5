/**
 * Data feeds (a batch's x and y) kept resident in the place that runs them: each typed array gets a ref the first
 * time it is sent, and the places that hold it (by generation) are remembered, so later runs send the ref alone.
 * Keyed by the array object, never by content (hashing 3 MB per call would cost what residency saves): an array
 * mutated in place after use would go unseen. The store in each place is bounded (LRU, session-host.ts); results
 * never depend on it, as a ref the place lacks is sent again.
 */
import { WeightscopeError } from '../errors.js';
import type { Place } from './lanes.js';
import type { HostTensor, ResidentFeed, TensorArray } from './wire.js';

/** A data array's resident identity: its ref, the shape it was sent with, and the generation of each place holding it. */
export interface ResidentId {
  readonly ref: number;
  readonly type: HostTensor['type'];
  readonly dims: string;
  readonly held: Map<Place, number>;
}

export interface ResidentCounts {
  /** Sent in full. */
  readonly uploads: number;
  /** Passed by reference. */
  readonly reuses: number;
  /** Sent again after the place said it lacked them. */
  readonly resends: number;
}

function limitFromEnv(): number {
  const mib = Number(process.env.WEIGHTSCOPE_RESIDENT_MIB);
  return Number.isFinite(mib) && mib >= 0 ? Math.floor(mib * 2 ** 20) : 256 * 2 ** 20;
}

/** The tensor with an array that owns its whole buffer (structured clone copies the entire buffer of a view). */
function packed(t: HostTensor): HostTensor {
  const d = t.data;
  return d.byteOffset === 0 && d.byteLength === d.buffer.byteLength ? t : { ...t, data: d.slice() as TensorArray };
}

export class ResidentFeeds {
  readonly #ids = new WeakMap<TensorArray, ResidentId>();
  #nextRef = 1;
  #counts = { uploads: 0, reuses: 0, resends: 0 };
  #limit = limitFromEnv();

  /** Bytes each place may keep (default 256 MiB, or WEIGHTSCOPE_RESIDENT_MIB). */
  get limit(): number {
    return this.#limit;
  }
  set limit(bytes: number) {
    if (!(Number.isFinite(bytes) && bytes >= 0)) throw new WeightscopeError('invalid-input', `resident limit ${bytes} is not a byte count`);
    this.#limit = Math.floor(bytes);
  }

  stats(): ResidentCounts {
    return { ...this.#counts };
  }

  idOf(t: HostTensor): ResidentId {
    const dims = t.dims.join(',');
    let id = this.#ids.get(t.data);
    if (!id || id.type !== t.type || id.dims !== dims) {
      id = { ref: this.#nextRef++, type: t.type, dims, held: new Map() };
      this.#ids.set(t.data, id);
    }
    return id;
  }

  /**
   * The resident feeds of one attempt at a run in `place` (now at generation `gen`): a ref where the place holds
   * the array, else the array itself. `resend` lists refs the place said it lacks; `all` sends every array in full.
   */
  feeds(
    held: readonly { name: string; t: HostTensor; id: ResidentId }[],
    place: Place,
    gen: number,
    resend: ReadonlySet<number>,
    all: boolean,
  ): Record<string, ResidentFeed> {
    const out: Record<string, ResidentFeed> = {};
    for (const { name, t, id } of held) {
      if (id.held.get(place) === gen && !resend.has(id.ref) && !all) {
        out[name] = { ref: id.ref };
        this.#counts.reuses++;
      } else {
        out[name] = { ref: id.ref, tensor: packed(t) };
        id.held.set(place, gen);
        this.#counts.uploads++;
      }
    }
    return out;
  }

  countResends(n: number): void {
    this.#counts.resends += n;
  }
}
