/** Hand-assembles pickle bytes (protocol 2 opcodes) for tests, including torch-style tensor records. */
export class PickleBuilder {
  readonly #out: number[] = [];
  op(...b: number[]): this {
    this.#out.push(...b);
    return this;
  }
  proto(v = 2): this {
    return this.op(0x80, v);
  }
  text(s: string): this {
    return this.op(...new TextEncoder().encode(s));
  }
  global(module: string, name: string): this {
    return this.op(0x63).text(`${module}\n${name}\n`);
  }
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    const n = b.length;
    return this.op(0x58, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24, ...b);
  }
  int(n: number): this {
    return this.op(0x4a, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff);
  }
  mark(): this {
    return this.op(0x28);
  }
  tuple(): this {
    return this.op(0x74);
  }
  emptyTuple(): this {
    return this.op(0x29);
  }
  emptyDict(): this {
    return this.op(0x7d);
  }
  setitem(): this {
    return this.op(0x73);
  }
  setitems(): this {
    return this.op(0x75);
  }
  reduce(): this {
    return this.op(0x52);
  }
  stop(): this {
    return this.op(0x2e);
  }
  ints(xs: readonly number[]): this {
    this.mark();
    for (const x of xs) this.int(x);
    return this.tuple();
  }
  /** torch._utils._rebuild_tensor_v2(persistent storage, offset, size, stride, False, OrderedDict()). */
  tensor(key: string, storageType: string, numel: number, offset: number, shape: number[], stride: number[]): this {
    this.global('torch._utils', '_rebuild_tensor_v2').mark();
    this.mark().str('storage').global('torch', storageType).str(key).str('cpu').int(numel).tuple().op(0x51);
    this.int(offset).ints(shape).ints(stride).op(0x89);
    this.global('collections', 'OrderedDict').emptyTuple().reduce();
    return this.tuple().reduce();
  }
  /** OrderedDict() with MARK … SETITEMS left open for entries; close with `endDict()`. */
  beginDict(): this {
    return this.global('collections', 'OrderedDict').emptyTuple().reduce().mark();
  }
  endDict(): this {
    return this.setitems();
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.#out);
  }
}
