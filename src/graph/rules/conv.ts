/**
 * Conv and ConvTranspose. Each one's input gradient is the other op with the same geometry; the weight gradient is
 * itself a Conv (batch and channel axes swapped, strides and dilations exchanged), cropped to the kernel size.
 * Needs static spatial sizes (to pick output_padding) and group = 1 for weight gradients.
 */
import { WeightscopeError } from '../../errors.js';
import type { GradRule } from '../autodiff.js';
import type { Builder } from '../builder.js';
import { attrInt, attrInts, attrString, INTERNAL_DOMAIN, type Attrs, type GNode } from '../ir.js';

export interface ConvGeom {
  ns: number;
  kernel: number[];
  strides: number[];
  dil: number[];
  pads: number[];
  group: number;
}

/** A Conv/ConvTranspose node's geometry with auto_pad resolved to explicit pads (needs static sizes for SAME_*). */
export function convGeometry(b: Builder, node: GNode, transpose: boolean): ConvGeom {
  const why = `${node.opType} gradient (node '${node.name}')`;
  const kernel = attrInts(node, 'kernel_shape') ?? b.spatialDims(node.inputs[1], why);
  const ns = kernel.length;
  const strides = attrInts(node, 'strides') ?? kernel.map(() => 1);
  const dil = attrInts(node, 'dilations') ?? kernel.map(() => 1);
  let pads = attrInts(node, 'pads') ?? new Array<number>(2 * ns).fill(0);
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  if (transpose && (autoPad !== 'NOTSET' || attrInts(node, 'output_shape'))) {
    throw new WeightscopeError('unsupported-op', `${why}: auto_pad/output_shape are not supported; export with explicit pads`);
  }
  if (autoPad === 'VALID') pads = new Array<number>(2 * ns).fill(0);
  else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const x = b.spatialDims(node.inputs[0], why);
    pads = new Array<number>(2 * ns).fill(0);
    for (let i = 0; i < ns; i++) {
      const out = Math.ceil(x[i] / strides[i]);
      const total = Math.max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dil[i] + 1 - x[i]);
      const small = Math.floor(total / 2);
      pads[i] = autoPad === 'SAME_UPPER' ? small : total - small;
      pads[i + ns] = total - pads[i];
    }
  }
  return { ns, kernel, strides, dil, pads, group: attrInt(node, 'group', 1) };
}

/**
 * dW of y = Conv(x, W) given dy: a Conv over the batch axis, cropped to the kernel. Grouped convolutions split x
 * and dy into their groups and concatenate the per-group kernels (W is [O, C/group, k…]).
 */
export function convWeightGrad(b: Builder, x: string, dy: string, p: ConvGeom, why: string): string {
  if (p.group === 1) return convWeightGrad1(b, x, dy, p, why);
  const cx = b.shapeOf(x)?.[1], cy = b.shapeOf(dy)?.[1];
  if (typeof cx !== 'number' || typeof cy !== 'number') {
    throw new WeightscopeError('unsupported-op', `${why}: grouped weight gradient needs static channel counts`);
  }
  const G = p.group;
  const xs = b.opN('Split', [x, b.i64(new Array<number>(G).fill(cx / G))], G, { axis: 1 });
  const ys = b.opN('Split', [dy, b.i64(new Array<number>(G).fill(cy / G))], G, { axis: 1 });
  const one = { ...p, group: 1 };
  return b.concat(xs.map((xi, j) => convWeightGrad1(b, xi, ys[j], one, why)), 0);
}

/** Per-sample size limit (elements) of the patch matrix the im2col form materialises for the whole batch. */
const IM2COL_MAX_PER_SAMPLE = 1 << 17;

/**
 * dW as patches × dy (im2col): a flat one-hot Conv extracts every kernel offset of x ([N, C·kk, P]), a batched MatMul
 * with dyᵀ and a sum over the batch give [C·kk, O]. About twice as fast in onnxruntime as the weight gradient
 * written as one Conv with a dy-sized kernel (a GEMM with only kk columns). Emitted as the private op
 * ConvWeightGrad, lowered to those ops before serialisation: differentiated again (an Hv graph) its rule gives a
 * ConvTranspose for x and a Conv for dy with the weight-shaped cotangent — cheaper than going back through the
 * patch matrix (a batched MatMul and a one-hot col2im). Used when the patch matrix stays small and the one-hot Conv
 * costs less than the product (kk ≤ 2·O); null otherwise.
 */
function convWeightGradIm2col(b: Builder, x: string, dy: string, p: ConvGeom): string | null {
  const o = b.shapeOf(dy)?.[1];
  const ysp = b.shapeOf(dy)?.slice(2);
  if (typeof o !== 'number' || !ysp || !im2colFits(b, x, ysp, o, p)) return null;
  return b.opN(CONV_WEIGHT_GRAD.op, [x, dy], 1, geometryAttrs(p), CONV_WEIGHT_GRAD.domain)[0];
}

function geometryAttrs(p: ConvGeom): Attrs {
  return { strides: p.strides, dilations: p.dil, pads: p.pads, kernel_shape: p.kernel };
}

/** Whether the im2col form suits a group-1 conv of x giving o channels of spatial size ys (static, small enough). */
export function im2colFits(b: Builder, x: string, ys: readonly unknown[], o: number, p: ConvGeom): boolean {
  const c = b.shapeOf(x)?.[1];
  const xsp = b.shapeOf(x)?.slice(2);
  const known = (s: readonly unknown[] | undefined): s is number[] => !!s && s.every((d) => typeof d === 'number');
  if (p.group !== 1 || typeof c !== 'number' || !known(ys) || !known(xsp)) return false;
  const kk = p.kernel.reduce((a, v) => a * v, 1);
  return kk <= 2 * o && c * kk * ys.reduce((a, v) => a * v, 1) <= IM2COL_MAX_PER_SAMPLE;
}

/**
 * The [N, C·kk, P] patch matrix of x for this geometry, built once per graph: an Hv graph asks for it again when it
 * differentiates the forward Conv a second time (reusing it does not depend on onnxruntime merging the copies).
 */
const patchCache = new WeakMap<object, Map<string, string>>();
function patches(b: Builder, x: string, p: ConvGeom, c: number, kk: number, positions: number): string {
  let cache = patchCache.get(b.g);
  if (!cache) patchCache.set(b.g, (cache = new Map()));
  const key = JSON.stringify([x, p.kernel, p.strides, p.dil, p.pads]);
  const hit = cache.get(key);
  if (hit) return hit;
  // Channels folded into the batch axis ([N·C, 1, …]): one plain Conv with a [kk, 1, k…] one-hot kernel is about
  // twice as fast in onnxruntime as the equivalent grouped Conv (group = C) on [N, C, …].
  const onehot = b.keyedConstant(`conv-onehot-${p.kernel.join('x')}`, b.dtype(x), [kk, 1, ...p.kernel], () => {
    const w = new Float64Array(kk * kk);
    for (let j = 0; j < kk; j++) w[j * kk + j] = 1;
    return w;
  });
  const flat = b.reshape(x, b.i64([-1, 1, ...(b.shapeOf(x)!.slice(2) as number[])]));
  const cols = b.op('Conv', [flat, onehot], { strides: p.strides, dilations: p.dil, pads: p.pads, kernel_shape: p.kernel });
  const cols3 = b.reshape(cols, b.i64([-1, c * kk, positions]));
  cache.set(key, cols3);
  return cols3;
}

function convWeightGrad1(b: Builder, x: string, dy: string, p: ConvGeom, why: string): string {
  const fast = convWeightGradIm2col(b, x, dy, p);
  if (fast) return fast;
  const xs = b.spatialDims(x, why);
  const ys = b.spatialDims(dy, why);
  const perm = [1, 0, ...Array.from({ length: p.ns }, (_, i) => i + 2)];
  const r = b.op('Conv', [b.transpose(x, perm), b.transpose(dy, perm)], {
    strides: p.dil, dilations: p.strides, pads: p.pads, kernel_shape: ys,
  });
  const full = xs.map((h, i) => Math.floor((h + p.pads[i] + p.pads[i + p.ns] - (ys[i] - 1) * p.strides[i] - 1) / p.dil[i]) + 1);
  let cropped = r;
  if (full.some((k, i) => k !== p.kernel[i])) {
    const axes = p.kernel.map((_, i) => i + 2);
    cropped = b.op('Slice', [r, b.i64(p.kernel.map(() => 0)), b.i64(p.kernel), b.i64(axes)]);
  }
  return b.transpose(cropped, perm);
}

function biasGrad(b: Builder, g: string, ns: number): string {
  return b.reduceSum(g, [0, ...Array.from({ length: ns }, (_, i) => i + 2)], false);
}

/**
 * PatchConv (weightscope's private domain, never serialised): a group-1 Conv without bias whose forward pass is the
 * patch matrix times the weights. Its gradient is Conv's (ConvTranspose for x), and its weight gradient reuses the
 * same patch matrix, so the pass that differentiates it pays for im2col once. Emitted where im2colFits (see
 * pool-fusion.ts); lowerPatchConv turns it into standard ops before a graph leaves src/graph.
 */
export const PATCH_CONV = { domain: INTERNAL_DOMAIN, op: 'PatchConv' } as const;
/** ConvWeightGrad(x, dy) = the weight gradient of a group-1 Conv of x whose output gradient is dy (see above). */
export const CONV_WEIGHT_GRAD = { domain: INTERNAL_DOMAIN, op: 'ConvWeightGrad' } as const;

export function lowerConvWeightGrad(b: Builder, node: GNode): void {
  const [x, dy] = node.inputs;
  const p = convGeometry(b, node, false);
  const c = b.shapeOf(x)![1] as number; // static: im2colFits held when the op was emitted
  const o = b.shapeOf(dy)![1] as number;
  const positions = b.spatialDims(dy, 'ConvWeightGrad').reduce((a, v) => a * v, 1);
  const kk = p.kernel.reduce((a, v) => a * v, 1);
  const cols3 = patches(b, x, p, c, kk, positions);
  const dyT = b.transpose(b.reshape(dy, b.i64([0, o, positions])), [0, 2, 1]);
  const r = b.reduceSum(b.matmul(cols3, dyT), [0], false); // [C·kk, O]
  b.op('Reshape', [b.transpose(r, [1, 0]), b.i64([o, c, ...p.kernel])], undefined, node.outputs[0]);
}

export function lowerPatchConv(b: Builder, node: GNode): void {
  const [x, w] = node.inputs;
  const p = convGeometry(b, node, false);
  const y = node.outputs[0];
  const [o, c] = b.staticDims(w, 'PatchConv');
  const ys = b.spatialDims(y, 'PatchConv');
  const kk = p.kernel.reduce((a, v) => a * v, 1);
  const cols3 = patches(b, x, p, c, kk, ys.reduce((a, v) => a * v, 1));
  const prod = b.matmul(b.reshape(w, b.i64([o, c * kk])), cols3); // [N, O, P]
  b.op('Reshape', [prod, b.i64([-1, o, ...ys])], undefined, y);
}

/** dx of y = Conv(x, w) given dy: the ConvTranspose with the same geometry. */
function convInputGrad(b: Builder, x: string, dy: string, w: string, p: ConvGeom, why: string): string {
  const xs = b.spatialDims(x, why);
  const ys = b.spatialDims(dy, why);
  const outPad = xs.map((h, i) => h + p.pads[i] + p.pads[i + p.ns] - p.strides[i] * (ys[i] - 1) - ((p.kernel[i] - 1) * p.dil[i] + 1));
  return b.op('ConvTranspose', [dy, w], {
    ...geometryAttrs(p), group: p.group, output_padding: outPad.some((o) => o !== 0) ? outPad : undefined,
  });
}

const convGrad: GradRule['grad'] = ({ b, node, dOut: [g], needs }) => {
  const why = `${node.opType} gradient (node '${node.name}')`;
  const p = convGeometry(b, node, false);
  const [x, w, bias] = node.inputs;
  const dx = needs[0] ? convInputGrad(b, x, g!, w, p, why) : undefined;
  const dw = needs[1] ? convWeightGrad(b, x, g!, p, why) : undefined;
  const db = bias && needs[2] ? biasGrad(b, g!, p.ns) : undefined;
  return [dx, dw, db];
};

/**
 * ⟨ConvWeightGrad(x, dy), ḡ⟩ = ⟨dy, Conv(x, ḡ)⟩: so dx = ConvTranspose(dy, ḡ) and d(dy) = Conv(x, ḡ) — a PatchConv,
 * which shares x's patch matrix with the forward pass.
 */
const convWeightGradGrad: GradRule['grad'] = ({ b, node, dOut: [g], needs }) => {
  const why = `ConvWeightGrad gradient (node '${node.name}')`;
  const p = convGeometry(b, node, false);
  const [x, dy] = node.inputs;
  const dx = needs[0] ? convInputGrad(b, x, dy, g!, p, why) : undefined;
  const ddy = needs[1] ? b.opN(PATCH_CONV.op, [x, g!], 1, geometryAttrs(p), PATCH_CONV.domain)[0] : undefined;
  return [dx, ddy];
};

/** Rules of weightscope's private ops, by op name. */
export const internalConvRules: GradRule[] = [
  { op: PATCH_CONV.op, grad: convGrad },
  { op: CONV_WEIGHT_GRAD.op, grad: convWeightGradGrad },
];

export const convRules: GradRule[] = [
  { op: 'Conv', grad: convGrad },
  {
    op: 'ConvTranspose',
    // y = Conv_Wᵀ(x): dx = Conv_W(dy); dW is Conv's weight gradient with input dy and output gradient x.
    grad: ({ b, node, dOut: [g], needs }) => {
      const why = `ConvTranspose gradient (node '${node.name}')`;
      const p = convGeometry(b, node, true);
      const [x, w, bias] = node.inputs;
      const dx = needs[0]
        ? b.op('Conv', [g!, w], { strides: p.strides, dilations: p.dil, pads: p.pads, group: p.group, kernel_shape: p.kernel })
        : undefined;
      const dw = needs[1] ? convWeightGrad(b, g!, x, p, why) : undefined;
      const db = bias && needs[2] ? biasGrad(b, g!, p.ns) : undefined;
      return [dx, dw, db];
    },
  },
];
