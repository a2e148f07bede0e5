/**
 * A pickle virtual machine that executes nothing. Globals are resolved only through an allow-list supplied by
 * the caller (module.name → handler); any other global is refused with 'unsafe-pickle' the moment it is named,
 * before any call. Dicts are `PyDict` (a Map), so keys such as "__proto__" stay data. Every opcode consumes
 * input bytes, and the stack, memo, MARK nesting, integer lengths and the total number of container elements are
 * capped (UNPICKLE_LIMITS), so running time and memory are linear in the input and bounded independently of it.
 *
 * Over 400 lines because it is one opcode interpreter: each opcode's caps are checked against the others'.
 */
import { WeightscopeError } from '../errors.js';

export type PyKey = string | number | bigint | boolean | null;

/** An allow-listed global used as a value (e.g. `torch.FloatStorage` inside a persistent id). */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

export class PyTuple {
  constructor(readonly items: readonly PyValue[]) {}
}

export class PyDict {
  readonly map = new Map<PyKey, PyValue>();
  /** State given by BUILD (e.g. the `_metadata` attribute torch attaches to state dicts); kept, not interpreted. */
  state: PyValue | undefined;
}

/** A value produced by a handler (a tensor reference, …); opaque to the VM. */
export class PyOpaque<T = unknown> {
  constructor(
    readonly kind: string,
    readonly value: T,
  ) {}
}

export type PyValue = null | boolean | number | bigint | string | Uint8Array | PyValue[] | PyTuple | PyDict | PyGlobal | PyOpaque;

export interface UnpickleOptions {
  /** "module.name" → what calling it (REDUCE/NEWOBJ) returns. A null handler: allowed as a value, not callable. */
  readonly globals: ReadonlyMap<string, ((args: readonly PyValue[]) => PyValue) | null>;
  /** Resolves BINPERSID / PERSID. Without it persistent ids are refused. */
  readonly persistentLoad?: (pid: PyValue) => PyValue;
  readonly maxStack?: number;
  readonly maxMemo?: number;
  /** Elements put into lists, tuples, dicts and sets, all together (default UNPICKLE_LIMITS.elements). */
  readonly maxElements?: number;
}

/**
 * Bounds far above any real checkpoint: a torch state dict holds a few hundred to a few thousand tensors of ~10
 * pickle elements each, and its ints are shapes, strides and offsets (8 bytes). A hostile pickle past them is
 * refused instead of costing seconds (a 160 KB LONG4 took 10.5 s to decode byte by byte) or gigabytes.
 */
export const UNPICKLE_LIMITS = {
  /** Bytes of a LONG1/LONG4 integer, characters of a text INT/LONG. */
  longBytes: 1024,
  /** MARKs open at once (nested tuples, lists and dicts being built). */
  depth: 1000,
  elements: 10_000_000,
} as const;

const MARK = Symbol('mark');
type Slot = PyValue | typeof MARK;

function bad(msg: string): WeightscopeError {
  return new WeightscopeError('corrupt-file', `pickle: ${msg}`);
}

function isKey(v: PyValue): v is PyKey {
  return v === null || ['string', 'number', 'bigint', 'boolean'].includes(typeof v);
}

/** Little-endian two's complement, via one hex string (linear; shifting a BigInt per byte is quadratic). */
function decodeLong(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let hex = '';
  for (let i = b.length - 1; i >= 0; i--) hex += b[i].toString(16).padStart(2, '0');
  let v = BigInt(`0x${hex}`);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

export function unpickle(data: Uint8Array, opts: UnpickleOptions): PyValue {
  const maxStack = opts.maxStack ?? 1_000_000;
  const maxMemo = opts.maxMemo ?? 1_000_000;
  const maxElements = opts.maxElements ?? UNPICKLE_LIMITS.elements;
  let elements = 0;
  /** Counts `n` more container elements against the cap. */
  const grow = (n: number): void => {
    elements += n;
    if (elements > maxElements) {
      throw new WeightscopeError('too-large', `pickle: more than ${maxElements} container elements; refused as a memory bomb`, {
        limit: maxElements,
      });
    }
  };
  const longBytes = (n: number, what: string): number => {
    if (n < 0 || n > UNPICKLE_LIMITS.longBytes)
      throw bad(`${what} of ${n} bytes is over the ${UNPICKLE_LIMITS.longBytes}-byte limit for integers`);
    return n;
  };
  const numberText = (s: string, what: string): string => {
    if (s.length > UNPICKLE_LIMITS.longBytes)
      throw bad(`${what} of ${s.length} characters is over the ${UNPICKLE_LIMITS.longBytes}-character limit for integers`);
    return s;
  };
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  let pos = 0;
  let stack: Slot[] = [];
  const metastack: Slot[][] = [];
  const memo = new Map<number, PyValue>();

  const need = (n: number): void => {
    if (n < 0 || pos + n > data.length) throw bad(`truncated at byte ${pos} (needs ${n} more)`);
  };
  const bytes = (n: number): Uint8Array => {
    need(n);
    const b = data.subarray(pos, pos + n);
    pos += n;
    return b;
  };
  const u8 = (): number => {
    need(1);
    return data[pos++];
  };
  const u16 = (): number => {
    need(2);
    const v = dv.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = dv.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = (): number => {
    need(8);
    const v = dv.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(data.length)) throw bad(`length ${v} exceeds the input`);
    return Number(v);
  };
  const line = (): string => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) throw bad(`unterminated text argument at byte ${pos}`);
    const s = new TextDecoder('latin1').decode(data.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const str = (n: number): string => {
    try {
      return utf8.decode(bytes(n));
    } catch (e) {
      if (e instanceof WeightscopeError) throw e;
      throw bad('invalid UTF-8 in a string');
    }
  };
  const push = (v: Slot): void => {
    if (stack.length >= maxStack) throw bad(`stack exceeds ${maxStack} items`);
    stack.push(v);
  };
  const pop = (): PyValue => {
    if (stack.length === 0) throw bad('stack underflow');
    const v = stack.pop() as Slot;
    if (v === MARK) throw bad('unexpected MARK');
    return v;
  };
  const top = (): PyValue => {
    const v = stack[stack.length - 1];
    if (stack.length === 0 || v === MARK) throw bad('stack underflow');
    return v;
  };
  const popMark = (): PyValue[] => {
    const items = stack as PyValue[];
    if (metastack.length === 0) throw bad('no MARK on the stack');
    stack = metastack.pop() as Slot[];
    return items;
  };
  /** popMark for items that become a container's elements. */
  const popItems = (): PyValue[] => {
    const items = popMark();
    grow(items.length);
    return items;
  };
  const memoPut = (i: number, v: PyValue): void => {
    if (!memo.has(i) && memo.size >= maxMemo) throw bad(`memo exceeds ${maxMemo} entries`);
    memo.set(i, v);
  };
  const memoGet = (i: number): PyValue => {
    if (!memo.has(i)) throw bad(`memo key ${i} is missing`);
    return memo.get(i) as PyValue;
  };
  const global = (module: string, name: string): PyGlobal => {
    const q = `${module}.${name}`;
    if (!opts.globals.has(q)) {
      throw new WeightscopeError('unsafe-pickle', `pickle refers to ${q}, which is not on the allow-list; nothing was executed`, {
        global: q,
      });
    }
    return new PyGlobal(module, name);
  };
  const call = (fn: PyValue, args: PyValue): PyValue => {
    if (!(fn instanceof PyGlobal)) throw bad('call of a value that is not a global');
    if (!(args instanceof PyTuple)) throw bad(`arguments to ${fn.qualified} are not a tuple`);
    const h = opts.globals.get(fn.qualified);
    if (!h) throw new WeightscopeError('unsafe-pickle', `pickle calls ${fn.qualified}, which may not be called`, { global: fn.qualified });
    return h(args.items);
  };
  const setItems = (d: PyValue, kv: PyValue[]): void => {
    if (!(d instanceof PyDict)) throw bad('SETITEM(S) on a value that is not a dict');
    if (kv.length % 2) throw bad('odd number of items for SETITEMS');
    for (let i = 0; i < kv.length; i += 2) {
      const k = kv[i];
      if (!isKey(k)) throw bad('unsupported dict key type');
      d.map.set(k, kv[i + 1]);
    }
  };
  const persistent = (pid: PyValue): PyValue => {
    if (!opts.persistentLoad) throw new WeightscopeError('unsafe-pickle', 'pickle uses persistent ids, which are not allowed here');
    return opts.persistentLoad(pid);
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: {
        // PROTO
        const v = u8();
        if (v > 5) throw bad(`unsupported pickle protocol ${v}`);
        break;
      }
      case 0x95:
        u64();
        break; // FRAME: a size hint only
      case 0x2e: {
        // STOP
        const v = pop();
        return v;
      }
      case 0x28: // MARK
        if (metastack.length >= UNPICKLE_LIMITS.depth) throw bad(`nesting deeper than ${UNPICKLE_LIMITS.depth} MARKs`);
        metastack.push(stack);
        stack = [];
        break;
      case 0x30:
        pop();
        break; // POP
      case 0x31:
        popMark();
        break; // POP_MARK
      case 0x32:
        push(top());
        break; // DUP
      case 0x4e:
        push(null);
        break; // NONE
      case 0x88:
        push(true);
        break;
      case 0x89:
        push(false);
        break;
      case 0x4a:
        need(4);
        push(dv.getInt32(pos, true));
        pos += 4;
        break; // BININT
      case 0x4b:
        push(u8());
        break; // BININT1
      case 0x4d:
        push(u16());
        break; // BININT2
      case 0x8a:
        push(decodeLong(bytes(longBytes(u8(), 'LONG1'))));
        break; // LONG1
      case 0x8b: {
        // LONG4
        need(4);
        const n = longBytes(dv.getInt32(pos, true), 'LONG4');
        pos += 4;
        push(decodeLong(bytes(n)));
        break;
      }
      case 0x49: {
        // INT (text): "01"/"00" are booleans in protocol 0
        const s = numberText(line(), 'INT');
        if (s === '01' || s === '00') push(s === '01');
        else {
          const v = Number(s);
          if (!Number.isInteger(v)) throw bad(`bad INT ${JSON.stringify(s)}`);
          push(v);
        }
        break;
      }
      case 0x4c: {
        // LONG (text)
        const s = numberText(line().replace(/L$/, ''), 'LONG');
        if (!/^-?\d+$/.test(s)) throw bad(`bad LONG ${JSON.stringify(s)}`);
        const v = BigInt(s);
        push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x47:
        need(8);
        push(dv.getFloat64(pos, false));
        pos += 8;
        break; // BINFLOAT (big-endian)
      case 0x46: {
        // FLOAT (text)
        const v = Number(line());
        if (Number.isNaN(v)) throw bad('bad FLOAT');
        push(v);
        break;
      }
      case 0x58:
        push(str(u32()));
        break; // BINUNICODE
      case 0x8c:
        push(str(u8()));
        break; // SHORT_BINUNICODE
      case 0x8d:
        push(str(u64()));
        break; // BINUNICODE8
      case 0x55:
        push(new TextDecoder('latin1').decode(bytes(u8())));
        break; // SHORT_BINSTRING
      case 0x54: {
        // BINSTRING
        need(4);
        const n = dv.getInt32(pos, true);
        pos += 4;
        push(new TextDecoder('latin1').decode(bytes(n)));
        break;
      }
      case 0x42:
        push(bytes(u32()).slice());
        break; // BINBYTES
      case 0x43:
        push(bytes(u8()).slice());
        break; // SHORT_BINBYTES
      case 0x8e:
        push(bytes(u64()).slice());
        break; // BINBYTES8
      case 0x96:
        push(bytes(u64()).slice());
        break; // BYTEARRAY8
      case 0x7d:
        push(new PyDict());
        break; // EMPTY_DICT
      case 0x5d:
        push([]);
        break; // EMPTY_LIST
      case 0x29:
        push(new PyTuple([]));
        break; // EMPTY_TUPLE
      case 0x85: {
        grow(1);
        const a = pop();
        push(new PyTuple([a]));
        break;
      } // TUPLE1
      case 0x86: {
        grow(2);
        const b = pop();
        const a = pop();
        push(new PyTuple([a, b]));
        break;
      } // TUPLE2
      case 0x87: {
        grow(3);
        const c = pop();
        const b = pop();
        const a = pop();
        push(new PyTuple([a, b, c]));
        break;
      } // TUPLE3
      case 0x74:
        push(new PyTuple(popItems()));
        break; // TUPLE
      case 0x6c:
        push(popItems());
        break; // LIST
      case 0x64: {
        const d = new PyDict();
        setItems(d, popItems());
        push(d);
        break;
      } // DICT
      case 0x61: {
        grow(1);
        const v = pop();
        const l = top();
        if (!Array.isArray(l)) throw bad('APPEND to a non-list');
        l.push(v);
        break;
      }
      case 0x65: {
        const items = popItems();
        const l = top();
        if (!Array.isArray(l)) throw bad('APPENDS to a non-list');
        for (const v of items) l.push(v);
        break;
      }
      case 0x73: {
        grow(2);
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      } // SETITEM
      case 0x75: {
        const kv = popItems();
        setItems(top(), kv);
        break;
      } // SETITEMS
      case 0x8f:
        push([]);
        break; // EMPTY_SET (as a list)
      case 0x90: {
        const items = popItems();
        const s = top();
        if (!Array.isArray(s)) throw bad('ADDITEMS to a non-set');
        for (const v of items) s.push(v);
        break;
      }
      case 0x91:
        push(popItems());
        break; // FROZENSET
      case 0x71:
        memoPut(u8(), top());
        break; // BINPUT
      case 0x72:
        memoPut(u32(), top());
        break; // LONG_BINPUT
      case 0x94:
        memoPut(memo.size, top());
        break; // MEMOIZE
      case 0x70: {
        const i = Number(line());
        if (!Number.isSafeInteger(i)) throw bad('bad PUT');
        memoPut(i, top());
        break;
      }
      case 0x68:
        push(memoGet(u8()));
        break; // BINGET
      case 0x6a:
        push(memoGet(u32()));
        break; // LONG_BINGET
      case 0x67: {
        const i = Number(line());
        if (!Number.isSafeInteger(i)) throw bad('bad GET');
        push(memoGet(i));
        break;
      }
      case 0x63: {
        const m = line();
        const n = line();
        push(global(m, n));
        break;
      } // GLOBAL
      case 0x93: {
        // STACK_GLOBAL
        const n = pop();
        const m = pop();
        if (typeof m !== 'string' || typeof n !== 'string') throw bad('STACK_GLOBAL needs two strings');
        push(global(m, n));
        break;
      }
      case 0x69: {
        // INST: module, name inline, args from MARK
        const m = line();
        const n = line();
        const g = global(m, n);
        push(call(g, new PyTuple(popItems())));
        break;
      }
      case 0x6f: {
        // OBJ: class and args from MARK
        const items = popItems();
        if (items.length === 0) throw bad('OBJ without a class');
        push(call(items[0], new PyTuple(items.slice(1))));
        break;
      }
      case 0x52: {
        const args = pop();
        const fn = pop();
        push(call(fn, args));
        break;
      } // REDUCE
      case 0x81: {
        const args = pop();
        const cls = pop();
        push(call(cls, args));
        break;
      } // NEWOBJ
      case 0x92: {
        // NEWOBJ_EX
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        if (!(kwargs instanceof PyDict) || kwargs.map.size > 0) throw bad('NEWOBJ_EX with keyword arguments is not supported');
        push(call(cls, args));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        const obj = top();
        if (obj instanceof PyDict) obj.state = state;
        else if (!(obj instanceof PyOpaque)) throw bad('BUILD on a value that has no state');
        break;
      }
      case 0x51:
        push(persistent(pop()));
        break; // BINPERSID
      case 0x50:
        push(persistent(line()));
        break; // PERSID
      case 0x82:
      case 0x83:
      case 0x84: // EXT1/2/4: the copyreg extension registry can name any global
        throw new WeightscopeError('unsafe-pickle', 'pickle uses the extension registry (EXT opcodes), which is not allowed');
      case 0x97:
      case 0x98:
        throw bad('out-of-band buffers (protocol 5) are not supported');
      default:
        throw bad(`unknown opcode 0x${op.toString(16).padStart(2, '0')} at byte ${pos - 1}`);
    }
  }
}
