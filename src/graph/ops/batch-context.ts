/**
 * What a batch-axis rule sees (the dataflow itself: batch-axis.ts), and the rules many ops share. An axis "carries
 * the batch" when samples occupy contiguous blocks along it with the batch as its outermost factor: axis 0 of the
 * input, or the merged axis of a Reshape [B, T, C] → [B·T, C]. Every per-row rule holds for blocks as for rows.
 */
import type { Dim, GNode, Graph } from '../ir.js';

/** Samples lie along `axis`; `b` is the batch-size symbol of the input they came from. */
export interface OnAxis {
  readonly axis: number;
  readonly b: string;
}
/** Samples merged into an axis in a way the rules cannot follow (`by` names the node); only elementwise ops pass it on. */
export interface Folded {
  readonly folded: true;
  readonly by: string;
}
export type Flow = OnAxis | Folded;

export const isFolded = (f: Flow): f is Folded => 'folded' in f;

/** Thrown by a rule: the reason sharding is unsafe. */
export class Mixes extends Error {}

export class BatchCtx {
  /** Indices of the inputs that carry samples. */
  readonly sampled: number[];

  constructor(
    readonly g: Graph,
    readonly n: GNode,
    /** `op` node 'name', for messages. */
    readonly where: string,
    /** Flow of each input (undefined: independent of the samples). */
    readonly ins: readonly (Flow | undefined)[],
  ) {
    this.sampled = ins.map((f, i) => (f ? i : -1)).filter((i) => i >= 0);
  }

  get opset(): number {
    return this.g.opset;
  }
  shape(i: number): Dim[] | null {
    const v = this.n.inputs[i];
    return v ? (this.g.values.get(v)?.shape ?? null) : null;
  }
  rank(i: number): number {
    const s = this.shape(i);
    if (!s) throw new Mixes(`${this.where}: the rank of input '${this.n.inputs[i]}' is unknown`);
    return s.length;
  }
  /** Known values of a small integer input (axes, pads). */
  value(i: number): number[] | undefined {
    const v = this.n.inputs[i];
    return v ? this.g.values.get(v)?.value : undefined;
  }
  outShape(): Dim[] | null {
    return this.g.values.get(this.n.outputs[0])?.shape ?? null;
  }
  outRank(): number {
    const s = this.outShape();
    if (!s) throw new Mixes(`${this.where}: the rank of its output is unknown`);
    return s.length;
  }
  /** Only these inputs may carry samples. */
  only(...slots: number[]): void {
    const bad = this.sampled.find((i) => !slots.includes(i));
    if (bad !== undefined) throw new Mixes(`${this.where}: input '${this.n.inputs[bad]}' depends on the samples`);
  }
  /** The flow of input i, which must be on an axis (not folded). */
  axisOf(i: number): OnAxis {
    const f = this.ins[i]!;
    if (isFolded(f)) throw new Mixes(`${this.where} gets the batch merged with other axes by node '${f.by}'`);
    return f;
  }
  at(f: OnAxis, axis: number): OnAxis {
    return { axis, b: f.b };
  }
  mixes(what: string): never {
    throw new Mixes(`${this.where} ${what}`);
  }
  /**
   * The one axis every sampled input puts the batch on, after `land` maps input i's axis to the output's; two
   * different axes mix samples.
   */
  sameAxis(land: (i: number, f: OnAxis) => number, what = 'combines samples along different axes'): OnAxis {
    let axis = -1,
      b = '';
    for (const i of this.sampled) {
      const f = this.axisOf(i);
      const a = land(i, f);
      if (axis >= 0 && a !== axis) this.mixes(what);
      axis = a;
      b = f.b;
    }
    return { axis, b };
  }
}

/** Where the batch goes for each output (one Flow for all, or per output; undefined = independent of the samples). */
export type BatchRule = (c: BatchCtx) => Flow | readonly (Flow | undefined)[];

export interface BatchSpec {
  /** Called when some input carries samples; throws (c.mixes) with the reason when the op may mix them. */
  readonly rule: BatchRule;
  /** Inputs read as shapes, where a number computed from the batch size is expected (Reshape's target). */
  readonly shapeInputs?: readonly number[];
  /** Outputs depend on the inputs' shapes only (ConstantOfShape, EyeLike): a batch-size-derived shape does not leak. */
  readonly shapeOnly?: boolean;
  /** Shape and Size: their outputs measure the input ('dims': its dims; 'count': its element count). */
  readonly measures?: 'dims' | 'count';
  /** Control flow: its body may read any value, so it is a reason whatever its inputs. */
  readonly control?: boolean;
}

// ---- rules many ops share ---------------------------------------------------------------------------------------

/** Acts on each element alone (extra inputs, if any, are scalars or constants). */
export const PER_ELEMENT: BatchSpec = {
  rule: (c) => {
    c.only(0);
    return c.ins[0]!;
  },
};

/** Broadcasting elementwise ops with several tensor inputs: the batch must land on one output axis, never broadcast. */
export const BROADCASTING: BatchSpec = {
  rule: (c) => {
    const folded = c.sampled.map((i) => c.ins[i]!).find(isFolded);
    if (folded) {
      if (c.sampled.length > 1) c.mixes(`combines samples merged by node '${folded.by}' with others`);
      return folded;
    }
    const r = c.outRank();
    const out = c.sameAxis((i, f) => f.axis + r - c.rank(i));
    c.n.inputs.forEach((v, i) => {
      const s = c.ins[i] ? null : c.shape(i);
      const d = s ? s[out.axis - (r - s.length)] : undefined;
      if (typeof d === 'number' && d !== 1) c.mixes(`broadcasts '${v}' (extent ${d}) along the batch axis`);
    });
    return out;
  },
};

/** Ops over [N, C, spatial…] that treat each sample alone when the batch is axis 0 and the other inputs are weights. */
export const PER_IMAGE: BatchSpec = {
  rule: (c) => {
    c.only(0);
    if (c.axisOf(0).axis !== 0) c.mixes('needs the batch on axis 0');
    return c.ins[0]!;
  },
};

/** A spec whose rule always gives `what` as the reason. */
export const mixing = (what: string): BatchSpec => ({ rule: (c) => c.mixes(what) });

/** No rule yet: sharding is off for a model that feeds samples through it. */
export const NO_BATCH_RULE = mixing('has no batch-axis rule (sharding off)');
export const VALUE_SIZED = mixing('has an output size that depends on the values');
export const CONTROL_FLOW: BatchSpec = { control: true, rule: (c) => c.mixes('is control flow; its body may read any value') };
