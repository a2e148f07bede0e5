/**
 * Forward rewrite before differentiation: Conv → [Relu] → MaxPool with non-overlapping windows (kernel = strides,
 * no padding, sizes divisible — the usual CNN block) becomes one strided Conv per window offset, a first-maximum
 * selection over them, then bias and Relu at the pooled size:
 *
 *   MaxPool(Relu(Conv(x, W) + b)) = Relu(max_j Conv_j(x, W) + b),  Conv_j = the conv at positions k·q + j.
 *
 * Same function, same arithmetic per output (each Conv_j computes the same dot products as the original at its
 * positions); Relu and bias commute with max because both are monotone. Why: the gradient then never leaves the
 * pooled grid. A MaxPool backward (scatter to the window's first maximum) and a full-size Relu mask cost onnxruntime
 * more than the convolutions themselves (fmnist CNN, batch 128); here the routing is a chain of Where nodes over
 * [N, C, o…] tensors, and each Conv_j's backward is an ordinary strided Conv backward.
 *
 * The selection keeps the earlier offset on ties (Where(later > earlier, later, earlier), offsets in row-major order):
 * the element PyTorch's max_pool2d routes to. Ties are common (a constant background gives equal activations).
 */
import { Builder } from './builder.js';
import type { GNode, Graph } from './ir.js';
import { convGeometry, im2colFits, PATCH_CONV, type ConvGeom } from './ops/conv.js';
import { poolGeometry, windowOffsets, type PoolGeom } from './ops/pool.js';

interface Block {
  conv: GNode;
  relu: GNode | undefined;
  cg: ConvGeom;
  pg: PoolGeom;
}

/** Rewrites every matching Conv→[Relu]→MaxPool block of g in place; returns how many it rewrote. */
export function fuseConvMaxPool(g: Graph): number {
  const blocks = findBlocks(g);
  if (blocks.size === 0) return 0;
  const skip = new Set<GNode>([...blocks.values()].flatMap((bl) => (bl.relu ? [bl.conv, bl.relu] : [bl.conv])));
  const old = g.nodes;
  g.nodes = [];
  const b = new Builder(g, 'ws_pool');
  for (const node of old) {
    if (skip.has(node)) continue;
    const block = blocks.get(node);
    if (block) emitBlock(b, block, node.outputs[0]);
    else b.addNode(node);
  }
  return blocks.size;
}

function findBlocks(g: Graph): Map<GNode, Block> {
  const uses = new Map<string, number>();
  for (const n of g.nodes) for (const i of n.inputs) if (i) uses.set(i, (uses.get(i) ?? 0) + 1);
  for (const o of g.outputs) uses.set(o, (uses.get(o) ?? 0) + 2);
  const producer = new Map<string, GNode>();
  for (const n of g.nodes) for (const o of n.outputs) if (o) producer.set(o, n);
  const onlyFeeds = (v: string): boolean => uses.get(v) === 1;
  const probe = new Builder(g, 'ws_probe'); // geometry queries only; adds no node
  const out = new Map<GNode, Block>();
  for (const pool of g.nodes) {
    if (pool.opType !== 'MaxPool' || pool.domain !== '' || pool.outputs.slice(1).some(Boolean)) continue;
    let src = producer.get(pool.inputs[0]);
    let relu: GNode | undefined;
    if (src?.opType === 'Relu' && src.domain === '' && onlyFeeds(src.outputs[0])) {
      relu = src;
      src = producer.get(src.inputs[0]);
    }
    if (!src || src.opType !== 'Conv' || src.domain !== '' || !onlyFeeds(src.outputs[0])) continue;
    let cg: ConvGeom, pg: PoolGeom;
    try {
      cg = convGeometry(probe, src, false);
      pg = poolGeometry(probe, pool);
      probe.spatialDims(src.inputs[0], 'pool fusion');
    } catch {
      continue; // dynamic sizes: leave the block to the generic rules
    }
    if (!pg.simple || pg.k.every((v) => v === 1) || cg.ns !== pg.k.length) continue;
    out.set(pool, { conv: src, relu, cg, pg });
  }
  return out;
}

/**
 * Conv_j reads x at (k·q + j)·s − pad + r·d: a conv with stride k·s and begin pad pad − j·s. Where that pad would
 * be negative x is sliced instead; the end is padded where the last window needs it. What x has beyond the last
 * window is less than the stride k·s (the original conv had exactly k·o outputs), so Conv's floor leaves it out.
 */
function offsetConv(b: Builder, bl: Block, j: number[]): string {
  const [x, w] = bl.conv.inputs;
  const { cg, pg } = bl;
  const xs = b.spatialDims(x, 'pool fusion');
  const starts: number[] = [],
    pb: number[] = [],
    pe: number[] = [];
  xs.forEach((len, i) => {
    const begin = cg.pads[i] - j[i] * cg.strides[i];
    const start = Math.max(0, -begin);
    const extent = (pg.ys[i] - 1) * pg.k[i] * cg.strides[i] + (cg.kernel[i] - 1) * cg.dil[i] + 1;
    starts.push(start);
    pb.push(Math.max(0, begin));
    pe.push(Math.max(0, extent - (len - start + Math.max(0, begin))));
  });
  const axes = xs.map((_, i) => i + 2);
  const xin = starts.some((s) => s > 0) ? b.op('Slice', [x, b.i64(starts), b.i64(xs), b.i64(axes)]) : x;
  const geom: ConvGeom = { ...cg, strides: pg.k.map((k, i) => k * cg.strides[i]), pads: [...pb, ...pe] };
  const attrs = { strides: geom.strides, dilations: cg.dil, pads: geom.pads, group: cg.group, kernel_shape: cg.kernel };
  const o = b.shapeOf(w)?.[0];
  if (typeof o === 'number' && im2colFits(b, xin, pg.ys, o, geom)) {
    return b.opN(PATCH_CONV.op, [xin, w], 1, attrs, PATCH_CONV.domain)[0];
  }
  return b.op('Conv', [xin, w], attrs);
}

function emitBlock(b: Builder, bl: Block, output: string): void {
  let level = windowOffsets(bl.pg.k).map((j) => offsetConv(b, bl, j));
  // Balanced first-maximum reduction: adjacent pairs in order, the earlier one kept on ties.
  while (level.length > 1) {
    const next: string[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) {
      const [a, c] = [level[i], level[i + 1]];
      next.push(b.where(b.op('Greater', [c, a]), c, a));
    }
    if (level.length % 2) next.push(level[level.length - 1]);
    level = next;
  }
  let y = level[0];
  const bias = bl.conv.inputs[2];
  const tail: Array<['Add' | 'Relu', string[]]> = [];
  if (bias) tail.push(['Add', [b.reshape(bias, b.i64([1, -1, ...bl.pg.k.map(() => 1)]))]]);
  if (bl.relu) tail.push(['Relu', []]);
  if (tail.length === 0) {
    b.op('Identity', [y], undefined, output);
    return;
  }
  tail.forEach(([op, rest], i) => {
    y = b.op(op, [y, ...rest], undefined, i === tail.length - 1 ? output : undefined);
  });
}
