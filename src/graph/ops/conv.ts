/**
 * Conv and ConvTranspose, and weightscope's two private ops that make their gradients fast (PatchConv,
 * ConvWeightGrad). Each one's input gradient is the other op with the same geometry; the weight gradient is itself a
 * Conv (batch and channel axes swapped, strides and dilations exchanged), cropped to the kernel size. Gradients need
 * static spatial sizes (to pick output_padding) and group = 1 for weight gradients (grouped ones split by group).
 */
import { WeightscopeError } from '../../errors.js';
import type { Emitter } from '../emitter.js';
import { attrInt, attrInts, attrString, type Attrs, type Dim, type GNode } from '../ir.js';
import { INTERNAL_DOMAIN } from '../op-names.js';
import { mixing, PER_IMAGE } from './batch-context.js';
import { isStatic } from './shapes.js';
import { differentiable, type GradRule, type InferRule, type OpDef } from './types.js';
import { resolvedPads, windowOf, windowOutput } from './window.js';

export interface ConvGeom {
  ns: number;
  kernel: number[];
  strides: number[];
  dil: number[];
  pads: number[];
  group: number;
}

/** A Conv/ConvTranspose node's geometry with auto_pad resolved to explicit pads (needs static sizes for SAME_*). */
export function convGeometry(b: Emitter, node: GNode, transpose: boolean): ConvGeom {
  const why = `${node.opType} gradient (node '${node.name}')`;
  const w = windowOf(node, attrInts(node, 'kernel_shape') ?? b.spatialDims(node.inputs[1], why));
  if (transpose && (attrString(node, 'auto_pad', 'NOTSET') !== 'NOTSET' || attrInts(node, 'output_shape'))) {
    throw new WeightscopeError('unsupported-op', `${why}: auto_pad/output_shape are not supported; export with explicit pads`);
  }
  const pads = resolvedPads(node, w, () => b.spatialDims(node.inputs[0], why));
  return { ns: w.kernel.length, ...w, pads, group: attrInt(node, 'group', 1) };
}

/**
 * dW of y = Conv(x, W) given dy: a Conv over the batch axis, cropped to the kernel. Grouped convolutions split x
 * and dy into their groups and concatenate the per-group kernels (W is [O, C/group, k…]).
 */
export function convWeightGrad(b: Emitter, x: string, dy: string, p: ConvGeom, why: string): string {
  if (p.group === 1) return convWeightGrad1(b, x, dy, p, why);
  const cx = b.shapeOf(x)?.[1],
    cy = b.shapeOf(dy)?.[1];
  if (typeof cx !== 'number' || typeof cy !== 'number') {
    throw new WeightscopeError('unsupported-op', `${why}: grouped weight gradient needs static channel counts`);
  }
  const G = p.group;
  const xs = b.opN('Split', [x, b.i64(new Array<number>(G).fill(cx / G))], G, { axis: 1 });
  const ys = b.opN('Split', [dy, b.i64(new Array<number>(G).fill(cy / G))], G, { axis: 1 });
  const one = { ...p, group: 1 };
  return b.concat(
    xs.map((xi, j) => convWeightGrad1(b, xi, ys[j], one, why)),
    0,
  );
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
function convWeightGradIm2col(b: Emitter, x: string, dy: string, p: ConvGeom): string | null {
  const o = b.shapeOf(dy)?.[1];
  const ysp = b.shapeOf(dy)?.slice(2);
  if (typeof o !== 'number' || !ysp || !im2colFits(b, x, ysp, o, p)) return null;
  return b.opN(CONV_WEIGHT_GRAD.op, [x, dy], 1, geometryAttrs(p), CONV_WEIGHT_GRAD.domain)[0];
}

function geometryAttrs(p: ConvGeom): Attrs {
  return { strides: p.strides, dilations: p.dil, pads: p.pads, kernel_shape: p.kernel };
}

/** Whether the im2col form suits a group-1 conv of x giving o channels of spatial size ys (static, small enough). */
export function im2colFits(b: Emitter, x: string, ys: readonly unknown[], o: number, p: ConvGeom): boolean {
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
function patches(b: Emitter, x: string, p: ConvGeom, c: number, kk: number, positions: number): string {
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

function convWeightGrad1(b: Emitter, x: string, dy: string, p: ConvGeom, why: string): string {
  const fast = convWeightGradIm2col(b, x, dy, p);
  if (fast) return fast;
  const xs = b.spatialDims(x, why);
  const ys = b.spatialDims(dy, why);
  const perm = [1, 0, ...Array.from({ length: p.ns }, (_, i) => i + 2)];
  const r = b.op('Conv', [b.transpose(x, perm), b.transpose(dy, perm)], {
    strides: p.dil,
    dilations: p.strides,
    pads: p.pads,
    kernel_shape: ys,
  });
  const full = xs.map((h, i) => Math.floor((h + p.pads[i] + p.pads[i + p.ns] - (ys[i] - 1) * p.strides[i] - 1) / p.dil[i]) + 1);
  let cropped = r;
  if (full.some((k, i) => k !== p.kernel[i])) {
    const axes = p.kernel.map((_, i) => i + 2);
    cropped = b.op('Slice', [r, b.i64(p.kernel.map(() => 0)), b.i64(p.kernel), b.i64(axes)]);
  }
  return b.transpose(cropped, perm);
}

function biasGrad(b: Emitter, g: string, ns: number): string {
  return b.reduceSum(g, [0, ...Array.from({ length: ns }, (_, i) => i + 2)], false);
}

/**
 * PatchConv: a group-1 Conv without bias whose forward pass is the patch matrix times the weights. Its gradient is
 * Conv's (ConvTranspose for x), and its weight gradient reuses the same patch matrix, so the pass that
 * differentiates it pays for im2col once. Emitted where im2colFits (see pool-fusion.ts).
 */
export const PATCH_CONV = { domain: INTERNAL_DOMAIN, op: 'PatchConv' } as const;
/** ConvWeightGrad(x, dy) = the weight gradient of a group-1 Conv of x whose output gradient is dy (see above). */
export const CONV_WEIGHT_GRAD = { domain: INTERNAL_DOMAIN, op: 'ConvWeightGrad' } as const;

function lowerConvWeightGrad(b: Emitter, node: GNode): void {
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

function lowerPatchConv(b: Emitter, node: GNode): void {
  const [x, w] = node.inputs;
  const p = convGeometry(b, node, false);
  const y = node.outputs[0];
  const [o, c] = b.staticDims(w, 'PatchConv');
  const ys = b.spatialDims(y, 'PatchConv');
  const kk = p.kernel.reduce((a, v) => a * v, 1);
  const cols3 = patches(
    b,
    x,
    p,
    c,
    kk,
    ys.reduce((a, v) => a * v, 1),
  );
  const prod = b.matmul(b.reshape(w, b.i64([o, c * kk])), cols3); // [N, O, P]
  b.op('Reshape', [prod, b.i64([-1, o, ...ys])], undefined, y);
}

/** dx of y = Conv(x, w) given dy: the ConvTranspose with the same geometry. */
function convInputGrad(b: Emitter, x: string, dy: string, w: string, p: ConvGeom, why: string): string {
  const xs = b.spatialDims(x, why);
  const ys = b.spatialDims(dy, why);
  const outPad = xs.map((h, i) => h + p.pads[i] + p.pads[i + p.ns] - p.strides[i] * (ys[i] - 1) - ((p.kernel[i] - 1) * p.dil[i] + 1));
  return b.op('ConvTranspose', [dy, w], {
    ...geometryAttrs(p),
    group: p.group,
    output_padding: outPad.some((o) => o !== 0) ? outPad : undefined,
  });
}

const gradWhy = (node: GNode): string => `${node.opType} gradient (node '${node.name}')`;

const convGrad: GradRule = ({ b, node, g }) => {
  const p = convGeometry(b, node, false);
  const [x, w] = node.inputs;
  return [() => convInputGrad(b, x, g, w, p, gradWhy(node)), () => convWeightGrad(b, x, g, p, gradWhy(node)), () => biasGrad(b, g, p.ns)];
};

/**
 * ⟨ConvWeightGrad(x, dy), ḡ⟩ = ⟨dy, Conv(x, ḡ)⟩: so dx = ConvTranspose(dy, ḡ) and d(dy) = Conv(x, ḡ) — a PatchConv,
 * which shares x's patch matrix with the forward pass.
 */
const convWeightGradGrad: GradRule = ({ b, node, g }) => {
  const p = convGeometry(b, node, false);
  const [x, dy] = node.inputs;
  return [
    () => convInputGrad(b, x, dy, g, p, gradWhy(node)),
    () => b.opN(PATCH_CONV.op, [x, g], 1, geometryAttrs(p), PATCH_CONV.domain)[0],
  ];
};

/** y = Conv_Wᵀ(x): dx = Conv_W(dy); dW is Conv's weight gradient with input dy and output gradient x. */
const convTransposeGrad: GradRule = ({ b, node, g }) => {
  const p = convGeometry(b, node, true);
  const [x, w] = node.inputs;
  return [
    () => b.op('Conv', [g, w], { strides: p.strides, dilations: p.dil, pads: p.pads, group: p.group, kernel_shape: p.kernel }),
    () => convWeightGrad(b, g, x, p, gradWhy(node)),
    () => biasGrad(b, g, p.ns),
  ];
};

// ---- shapes ------------------------------------------------------------------------------------------------------

/** [N, O, spatial…] of a window op over x with `kernel` (from the attribute or the weight) and outC channels. */
export function windowShape(node: GNode, x: Dim[] | null, kernel: number[] | undefined, outC: Dim): Dim[] | null {
  if (!x) return null;
  if (!kernel) return [x[0], outC, ...x.slice(2).map(() => null)];
  return [x[0], outC, ...windowOutput(node, windowOf(node, kernel), x.slice(2))];
}

const kernelOf = (node: GNode, w: Dim[] | null): number[] | undefined =>
  attrInts(node, 'kernel_shape') ?? (isStatic(w) ? w.slice(2) : undefined);

const convShape: InferRule = ({ node, x, ins }) => {
  const w = ins[1].shape;
  return [{ dtype: x.dtype, shape: windowShape(node, x.shape, kernelOf(node, w), w ? w[0] : null) }];
};

const convTransposeShape: InferRule = ({ node, x, ins }) => {
  const w = ins[1].shape;
  const kernel = kernelOf(node, w);
  const group = attrInt(node, 'group', 1);
  const outC = w && typeof w[1] === 'number' ? w[1] * group : null;
  if (!x.shape || !kernel) return [{ dtype: x.dtype, shape: null }];
  const ns = kernel.length;
  const outShape = attrInts(node, 'output_shape');
  const { strides, dil } = windowOf(node, kernel);
  const pads = attrInts(node, 'pads') ?? new Array<number>(2 * ns).fill(0);
  const op2 = attrInts(node, 'output_padding') ?? kernel.map(() => 0);
  const sp: Dim[] = kernel.map((k, i) => {
    if (outShape) return outShape[outShape.length - ns + i];
    const d = x.shape![2 + i];
    return typeof d === 'number' ? strides[i] * (d - 1) + op2[i] + (k - 1) * dil[i] + 1 - pads[i] - pads[i + ns] : null;
  });
  return [{ dtype: x.dtype, shape: [x.shape[0], outC, ...sp] }];
};

const convWeightGradShape: InferRule = ({ node, x, ins }) => {
  const dy = ins[1].shape;
  const kernel = attrInts(node, 'kernel_shape');
  return [{ dtype: x.dtype, shape: kernel ? [dy ? dy[1] : null, x.shape ? x.shape[1] : null, ...kernel] : null }];
};

export const convOps: OpDef[] = [
  { op: 'Conv', infer: convShape, grad: differentiable(convGrad), batch: PER_IMAGE },
  { op: 'ConvTranspose', infer: convTransposeShape, grad: differentiable(convTransposeGrad), batch: PER_IMAGE },
  { ...PATCH_CONV, infer: convShape, grad: differentiable(convGrad), batch: PER_IMAGE, lower: lowerPatchConv },
  {
    ...CONV_WEIGHT_GRAD,
    infer: convWeightGradShape,
    grad: differentiable(convWeightGradGrad),
    batch: mixing('sums over the batch axis'),
    lower: lowerConvWeightGrad,
  },
];
