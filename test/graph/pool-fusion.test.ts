/**
 * Conv→[Relu]→MaxPool fusion (src/graph/pool-fusion.ts). The fused and unfused loss graphs must give the same loss,
 * gradient and Hv (float32, 1e-5 relative L2) on inputs full of exact ties; the rewrite must happen only on
 * non-overlapping, unpadded pools fed by a single-use conv; the private PatchConv op never leaves src/graph; and the
 * fused graph's Hv matches central differences of its own gradient.
 *
 * Ties: weights and inputs are small dyadic rationals (multiples of 1/64 and 1/4), so every conv sum is exact in
 * float32 whatever the summation order (Conv, im2col MatMul, strided offset convs). Half of the output channels are
 * box filters and x has zero and constant regions plus isolated pixels: many windows hold several equal maxima
 * whose patches differ, so routing to any element but the first maximum changes the weight gradient.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import { fixture } from '../helpers/fixtures.js';
import { buildGradGraph, buildHvpGraph, buildLossGraph, lossModel, type LossGraph } from '../../src/graph/index.js';
import { cloneGraph, DT, graphToModel, makeTensor, type Graph } from '../../src/graph/ir.js';
import { fuseConvMaxPool } from '../../src/graph/pool-fusion.js';
import { PATCH_CONV } from '../../src/graph/ops/conv.js';
import { f32, i64, paramFeeds, relL2, rng, run, runSession, session, type Feeds } from './helpers.js';

const { onnx } = onnxProto;
type Attr = onnxProto.onnx.IAttributeProto;
const ints = (name: string, v: number[]): Attr => ({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: v });
const int = (name: string, v: number): Attr => ({ name, type: onnx.AttributeProto.AttributeType.INT, i: v });

interface BlockSpec {
  cout: number;
  kernel: number[];
  pads?: number[];
  strides?: number[];
  dil?: number[];
  group?: number;
  bias?: boolean;
  relu?: boolean;
  pool: number[];
  /** MaxPool strides (default = pool) and pads (default none), for the cases that must not fuse. */
  poolStrides?: number[];
  poolPads?: number[];
}

interface Geometry {
  name: string;
  /** Input [C, spatial…] (batch is symbolic, like an exported model). */
  input: number[];
  blocks: BlockSpec[];
  /** Expect offset convs to read a Slice of x (negative begin pad in offsetConv). */
  slicesX?: boolean;
}

const CLASSES = 3;
const N = 3;

/** Dyadic values: exact products and sums in float32. */
const dyadic = (r: () => number, scale: number, den: number): number => Math.round(r() * scale * den) / den;

/** Conv output sizes, then pool output sizes (floor), per block. */
function sizes(g: Geometry): number[][] {
  const out: number[][] = [];
  let sp = g.input.slice(1);
  for (const bl of g.blocks) {
    const ns = bl.kernel.length;
    const pads = bl.pads ?? new Array<number>(2 * ns).fill(0);
    const conv = sp.map(
      (l, i) => Math.floor((l + pads[i] + pads[i + ns] - (bl.dil?.[i] ?? 1) * (bl.kernel[i] - 1) - 1) / (bl.strides?.[i] ?? 1)) + 1,
    );
    const ps = bl.poolStrides ?? bl.pool;
    const pp = bl.poolPads ?? new Array<number>(2 * ns).fill(0);
    sp = conv.map((l, i) => Math.floor((l + pp[i] + pp[i + ns] - bl.pool[i]) / ps[i]) + 1);
    out.push(sp);
  }
  return out;
}

interface Built {
  model: onnxProto.onnx.ModelProto;
}

/**
 * x → blocks → Flatten → MatMul → Add → logits. Conv weights: even output channels are box filters (all 1/4),
 * odd ones random multiples of 1/64; `extra` adds nodes (and may replace the logits' producer).
 */
function buildModel(
  geo: Geometry,
  seed: number,
  opts: { extra?: (last: string) => { nodes: onnxProto.onnx.INodeProto[]; out: string }; dyadicWeights?: boolean } = {},
): Built {
  const r = rng(seed);
  const w = (): number => (opts.dyadicWeights === false ? r() * 0.5 : dyadic(r, 0.5, 64));
  const nodes: onnxProto.onnx.INodeProto[] = [];
  const inits: onnxProto.onnx.ITensorProto[] = [];
  let cur = 'x';
  let cin = geo.input[0];
  const sz = sizes(geo);
  geo.blocks.forEach((bl, bi) => {
    const group = bl.group ?? 1;
    const kk = bl.kernel.reduce((a, v) => a * v, 1);
    const per = (cin / group) * kk;
    const wv = Array.from({ length: bl.cout * per }, (_, i) =>
      Math.floor(i / per) % 2 === 0 && opts.dyadicWeights !== false ? 0.25 : w(),
    );
    inits.push(makeTensor(`conv${bi}.weight`, DT.FLOAT, [bl.cout, cin / group, ...bl.kernel], wv));
    const convIn = [cur, `conv${bi}.weight`];
    if (bl.bias !== false) {
      inits.push(
        makeTensor(
          `conv${bi}.bias`,
          DT.FLOAT,
          [bl.cout],
          Array.from({ length: bl.cout }, () => dyadic(r, 0.25, 64)),
        ),
      );
      convIn.push(`conv${bi}.bias`);
    }
    const ns = bl.kernel.length;
    nodes.push({
      name: `conv${bi}`,
      opType: 'Conv',
      input: convIn,
      output: [`c${bi}`],
      attribute: [
        ints('kernel_shape', bl.kernel),
        ints('pads', bl.pads ?? new Array<number>(2 * ns).fill(0)),
        ints('strides', bl.strides ?? bl.kernel.map(() => 1)),
        ints('dilations', bl.dil ?? bl.kernel.map(() => 1)),
        int('group', group),
      ],
    });
    let pin = `c${bi}`;
    if (bl.relu !== false) {
      nodes.push({ name: `relu${bi}`, opType: 'Relu', input: [pin], output: [`r${bi}`] });
      pin = `r${bi}`;
    }
    nodes.push({
      name: `pool${bi}`,
      opType: 'MaxPool',
      input: [pin],
      output: [`p${bi}`],
      attribute: [
        ints('kernel_shape', bl.pool),
        ints('strides', bl.poolStrides ?? bl.pool),
        ints('pads', bl.poolPads ?? new Array<number>(2 * ns).fill(0)),
      ],
    });
    cur = `p${bi}`;
    cin = bl.cout;
  });
  const feat = cin * sz[sz.length - 1].reduce((a, v) => a * v, 1);
  nodes.push({ name: 'flatten', opType: 'Flatten', input: [cur], output: ['flat'], attribute: [int('axis', 1)] });
  inits.push(
    makeTensor(
      'fc.weight',
      DT.FLOAT,
      [feat, CLASSES],
      Array.from({ length: feat * CLASSES }, () => dyadic(r, 0.5, 64)),
    ),
  );
  inits.push(makeTensor('fc.bias', DT.FLOAT, [CLASSES], [0.125, -0.25, 0.0625]));
  nodes.push({ name: 'fc', opType: 'MatMul', input: ['flat', 'fc.weight'], output: ['mm'] });
  let logits = 'logits';
  const fcOut = opts.extra ? 'fc_out' : 'logits';
  nodes.push({ name: 'fc_bias', opType: 'Add', input: ['mm', 'fc.bias'], output: [fcOut] });
  if (opts.extra) {
    const e = opts.extra(fcOut);
    nodes.push(...e.nodes);
    logits = e.out;
  }
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 14 }],
    graph: {
      name: geo.name,
      node: nodes,
      input: [
        {
          name: 'x',
          type: { tensorType: { elemType: DT.FLOAT, shape: { dim: [{ dimParam: 'batch' }, ...geo.input.map((d) => ({ dimValue: d }))] } } },
        },
      ],
      output: [{ name: logits, type: { tensorType: { elemType: DT.FLOAT } } }],
      initializer: inits,
    },
  });
  return { model };
}

/**
 * x per sample and channel: a zero band, a constant band (value 1/2 or 1), isolated pixels on a zero background,
 * and a random patch (multiples of 1/4, a third of them zero).
 */
function tieInput(c: number, sp: number[], r: () => number): number[] {
  const per = sp.reduce((a, v) => a * v, 1);
  const out: number[] = [];
  for (let n = 0; n < N; n++) {
    for (let ch = 0; ch < c; ch++) {
      const constant = (n + ch) % 2 === 0 ? 0.5 : 1;
      for (let q = 0; q < per; q++) {
        const pos = sp.length === 1 ? [q] : [Math.floor(q / sp[sp.length - 1]), q % sp[sp.length - 1]];
        const row = pos[0] / sp[0];
        let v: number;
        if (row < 0.2) v = 0;
        else if (row < 0.4) v = constant;
        else if (row < 0.8) v = pos.every((p) => p % 4 === 1) ? (n + 1) * 0.5 : 0;
        else v = r() < -0.33 ? 0 : dyadic(r, 2, 4);
        out.push(v);
      }
    }
  }
  return out;
}

const countOps = (g: Graph, op: string, domain = ''): number => g.nodes.filter((n) => n.opType === op && n.domain === domain).length;

function assertDefaultDomain(m: onnxProto.onnx.IModelProto, what: string): void {
  for (const n of m.graph!.node!)
    assert.ok(!n.domain || n.domain === 'ai.onnx', `${what}: node ${n.name} (${n.opType}) in domain ${n.domain}`);
  for (const o of m.opsetImport ?? []) assert.ok(!o.domain || o.domain === 'ai.onnx', `${what}: opset import ${o.domain}`);
}

function feedsFor(lg: LossGraph, geo: Geometry, seed: number, x?: number[]): Feeds {
  const r = rng(seed);
  const feeds: Feeds = {
    x: f32([N, ...geo.input], x ?? tieInput(geo.input[0], geo.input.slice(1), r)),
    y: i64(
      [N],
      Array.from({ length: N }, (_, i) => i % CLASSES),
    ),
    ...paramFeeds(lg.paramValues),
  };
  for (const p of lg.params)
    feeds[`v.${p.name}`] = f32(
      p.dims,
      Array.from({ length: p.dims.reduce((a, v) => a * v, 1) }, () => r()),
    );
  return feeds;
}

// ---------- 1. equivalence fused vs unfused ----------

const k3p1 = { kernel: [3, 3], pads: [1, 1, 1, 1] };
const GEOMETRIES: Geometry[] = [
  { name: 'CNN block: conv 3x3 pad 1 + Relu + MaxPool 2x2', input: [2, 8, 8], blocks: [{ cout: 6, ...k3p1, pool: [2, 2] }] },
  { name: 'no Relu', input: [2, 8, 8], blocks: [{ cout: 6, ...k3p1, relu: false, pool: [2, 2] }] },
  { name: 'no bias', input: [2, 8, 8], blocks: [{ cout: 6, ...k3p1, bias: false, pool: [2, 2] }] },
  { name: 'no bias, no Relu (Identity tail)', input: [2, 8, 8], blocks: [{ cout: 6, ...k3p1, bias: false, relu: false, pool: [2, 2] }] },
  { name: 'conv pad 0 (offset 1 slices x)', input: [2, 10, 10], blocks: [{ cout: 6, kernel: [3, 3], pool: [2, 2] }], slicesX: true },
  { name: 'conv pad 2', input: [2, 6, 6], blocks: [{ cout: 6, kernel: [3, 3], pads: [2, 2, 2, 2], pool: [2, 2] }] },
  { name: 'conv stride 2 before the pool', input: [2, 8, 8], blocks: [{ cout: 6, ...k3p1, strides: [2, 2], pool: [2, 2] }], slicesX: true },
  { name: 'dilation 2', input: [2, 8, 8], blocks: [{ cout: 6, kernel: [3, 3], pads: [2, 2, 2, 2], dil: [2, 2], pool: [2, 2] }] },
  { name: 'pool 3x3 stride 3 (odd offset count)', input: [2, 9, 9], blocks: [{ cout: 6, ...k3p1, pool: [3, 3] }] },
  {
    name: 'asymmetric kernel 3x2, pads, pool 2x3',
    input: [2, 8, 9],
    blocks: [{ cout: 6, kernel: [3, 2], pads: [1, 0, 1, 1], pool: [2, 3] }],
  },
  { name: 'Conv1d k5 pad 2 + MaxPool1d 4', input: [2, 16], blocks: [{ cout: 4, kernel: [5], pads: [2, 2], pool: [4] }] },
  { name: 'Conv1d k3 pad 0 + MaxPool1d 2 (sliced)', input: [2, 18], blocks: [{ cout: 4, kernel: [3], pool: [2] }], slicesX: true },
  { name: 'kk > 2·O: plain Conv per offset', input: [2, 8, 8], blocks: [{ cout: 4, kernel: [5, 5], pads: [2, 2, 2, 2], pool: [2, 2] }] },
  { name: 'group 2: plain Conv per offset', input: [4, 8, 8], blocks: [{ cout: 6, ...k3p1, group: 2, pool: [2, 2] }] },
  {
    name: 'two blocks in a row (fmnist CNN shape)',
    input: [1, 12, 12],
    blocks: [
      { cout: 5, ...k3p1, pool: [2, 2] },
      { cout: 6, ...k3p1, pool: [2, 2] },
    ],
  },
];

/** PatchConv where ops/conv.ts im2colFits allows it (tiny shapes: only group and kk ≤ 2·O matter). */
const expectPatch = (bl: BlockSpec): boolean => (bl.group ?? 1) === 1 && bl.kernel.reduce((a, v) => a * v, 1) <= 2 * bl.cout;

const TOL = 1e-5; // relative L2, float32

for (const [gi, geo] of GEOMETRIES.entries()) {
  test(`fused = unfused (loss, grad, Hv): ${geo.name}`, async () => {
    const { model } = buildModel(geo, 100 + gi);
    const fused = buildLossGraph(model, { loss: 'classification' });
    const plain = buildLossGraph(model, { loss: 'classification', fusePools: false });

    // The rewrite happened, with the expected op per offset.
    assert.equal(countOps(plain.graph, 'MaxPool'), geo.blocks.length);
    assert.equal(fuseConvMaxPool(cloneGraph(plain.graph)), geo.blocks.length);
    assert.equal(countOps(fused.graph, 'MaxPool'), 0, 'MaxPool left after fusion');
    const offsets = geo.blocks.map((bl) => bl.pool.reduce((a, v) => a * v, 1));
    const patch = geo.blocks.reduce((a, bl, i) => a + (expectPatch(bl) ? offsets[i] : 0), 0);
    const conv = geo.blocks.reduce((a, bl, i) => a + (expectPatch(bl) ? 0 : offsets[i]), 0);
    assert.equal(countOps(fused.graph, PATCH_CONV.op, PATCH_CONV.domain), patch, 'PatchConv count');
    assert.equal(countOps(fused.graph, 'Conv'), conv, 'plain Conv count');
    assert.equal(
      countOps(fused.graph, 'Where'),
      offsets.reduce((a, k) => a + k - 1, 0),
      'Where count',
    );
    const xSlices = fused.graph.nodes.filter((n) => n.opType === 'Slice' && n.inputs[0] === 'x').length;
    if (geo.slicesX) assert.ok(xSlices > 0, 'expected offset convs to read a slice of x');

    const hf = buildHvpGraph(fused),
      hp = buildHvpGraph(plain);
    assertDefaultDomain(hf.model, 'fused Hv graph');
    assert.deepEqual(hf.outputs, hp.outputs);
    const feeds = feedsFor(fused, geo, 200 + gi);
    const [a, b] = [await run(hf.model, feeds), await run(hp.model, feeds)];
    assert.ok(Math.abs(a.loss[0] - b.loss[0]) <= 1e-6 * Math.abs(b.loss[0]), `loss ${a.loss[0]} vs ${b.loss[0]}`);
    for (const o of hf.outputs.slice(1)) {
      assert.ok(
        b[o].some((v) => v !== 0),
        `${o}: unfused result is all zero (test data too weak)`,
      );
      const e = relL2(a[o], b[o]);
      assert.ok(e <= TOL, `${o}: fused vs unfused rel L2 ${e.toExponential(2)} (tol ${TOL})`);
    }
  });
}

test('the tie data matters: last-maximum routing (a mirrored model) changes the conv gradient', async () => {
  // Guards the equivalence tests above: on this data a last-maximum routing would differ from PyTorch's. The
  // unfused MaxPool of a horizontally flipped input (with flipped kernels) scans each window backwards, so its
  // gradient differs from the plain one exactly where ties exist; the flip is applied to x and to the weights.
  const geo = GEOMETRIES[0];
  const { model } = buildModel(geo, 100);
  const plain = buildLossGraph(model, { loss: 'classification', fusePools: false });
  const feeds = feedsFor(plain, geo, 200);
  const g = buildGradGraph(plain);
  const base = await run(g.model, feeds);
  const flip = (t: Feeds[string], dims: number[]): Feeds[string] => {
    const w = dims[dims.length - 1];
    const src = t.data as Float32Array;
    return f32(
      dims,
      src.map((_, i) => src[i - (i % w) + (w - 1 - (i % w))]),
    );
  };
  const wd = plain.params.find((p) => p.name === 'conv0.weight')!.dims;
  // Flipping x and the kernels mirrors every conv output; the fc weights are permuted to mirror the pooled map too.
  const fcDims = plain.params.find((p) => p.name === 'fc.weight')!.dims;
  const fcw = feeds['fc.weight'].data as Float32Array;
  const [C, [H, W]] = [geo.blocks[0].cout, sizes(geo)[0]];
  const fcFlipped = new Float32Array(fcw.length);
  for (let c = 0; c < C; c++)
    for (let h = 0; h < H; h++)
      for (let x = 0; x < W; x++)
        for (let k = 0; k < CLASSES; k++) {
          fcFlipped[((c * H + h) * W + (W - 1 - x)) * CLASSES + k] = fcw[((c * H + h) * W + x) * CLASSES + k];
        }
  const flipped = await run(g.model, {
    ...feeds,
    x: flip(feeds.x, [N, ...geo.input]),
    'conv0.weight': flip(feeds['conv0.weight'], wd),
    'fc.weight': f32(fcDims, fcFlipped),
  });
  assert.ok(Math.abs(flipped.loss[0] - base.loss[0]) < 1e-6, 'mirrored model computes the same loss');
  const back = flip(f32(wd, flipped['grad.conv0.weight']), wd).data as Float32Array;
  const e = relL2(back, base['grad.conv0.weight']);
  assert.ok(e > 1e-2, `mirrored routing gave the same conv gradient (rel L2 ${e}): the data has no ties that matter`);
});

// ---------- 2. where the rewrite must not happen ----------

const plainGraph = (m: onnxProto.onnx.ModelProto): LossGraph => buildLossGraph(m, { loss: 'classification', fusePools: false });

test('no fusion: overlapping windows, padded pool, indivisible size, shared conv or Relu output, used Indices', () => {
  const cases: Array<[string, Built]> = [
    [
      'overlapping k3 s2',
      buildModel({ name: 'ov', input: [2, 9, 9], blocks: [{ cout: 6, ...k3p1, pool: [3, 3], poolStrides: [2, 2] }] }, 1),
    ],
    [
      'MaxPool with pads',
      buildModel({ name: 'pp', input: [2, 8, 8], blocks: [{ cout: 6, ...k3p1, pool: [2, 2], poolPads: [1, 1, 1, 1] }] }, 2),
    ],
    ['size not divisible by the pool', buildModel({ name: 'nd', input: [2, 9, 9], blocks: [{ cout: 6, ...k3p1, pool: [2, 2] }] }, 3)],
    [
      'conv output used twice',
      buildModel({ name: 'c2', input: [2, 8, 8], blocks: [{ cout: 6, ...k3p1, pool: [2, 2] }] }, 4, {
        extra: (last) => ({
          out: 'logits',
          nodes: [
            {
              name: 'side',
              opType: 'ReduceMean',
              input: ['c0'],
              output: ['side4'],
              attribute: [ints('axes', [1, 2, 3]), int('keepdims', 1)],
            },
            { name: 'side_flat', opType: 'Flatten', input: ['side4'], output: ['side'], attribute: [int('axis', 1)] },
            { name: 'join', opType: 'Add', input: [last, 'side'], output: ['logits'] },
          ],
        }),
      }),
    ],
    [
      'Relu output used twice',
      buildModel({ name: 'r2', input: [2, 8, 8], blocks: [{ cout: 6, ...k3p1, pool: [2, 2] }] }, 5, {
        extra: (last) => ({
          out: 'logits',
          nodes: [
            {
              name: 'side',
              opType: 'ReduceMean',
              input: ['r0'],
              output: ['side4'],
              attribute: [ints('axes', [1, 2, 3]), int('keepdims', 1)],
            },
            { name: 'side_flat', opType: 'Flatten', input: ['side4'], output: ['side'], attribute: [int('axis', 1)] },
            { name: 'join', opType: 'Add', input: [last, 'side'], output: ['logits'] },
          ],
        }),
      }),
    ],
  ];
  // MaxPool whose Indices output feeds another node.
  const idx = buildModel({ name: 'ix', input: [2, 8, 8], blocks: [{ cout: 6, ...k3p1, pool: [2, 2] }] }, 6, {
    extra: (last) => ({
      out: 'logits',
      nodes: [
        { name: 'cast', opType: 'Cast', input: ['idx'], output: ['idxf'], attribute: [int('to', DT.FLOAT)] },
        { name: 'isum', opType: 'ReduceSum', input: ['idxf'], output: ['isum'], attribute: [int('keepdims', 0)] },
        { name: 'izero', opType: 'Mul', input: ['isum', 'zero'], output: ['iz'] },
        { name: 'join', opType: 'Add', input: [last, 'iz'], output: ['logits'] },
      ],
    }),
  });
  const pool = idx.model.graph!.node!.find((n) => n.opType === 'MaxPool')!;
  pool.output = [...pool.output!, 'idx'];
  idx.model.graph!.initializer!.push(makeTensor('zero', DT.FLOAT, [], [0]));
  cases.push(['MaxPool Indices used', idx]);

  for (const [what, { model }] of cases) {
    const plain = plainGraph(model);
    assert.equal(fuseConvMaxPool(cloneGraph(plain.graph)), 0, `${what}: fused`);
    const lg = buildLossGraph(model, { loss: 'classification' });
    assert.equal(countOps(lg.graph, 'MaxPool'), 1, `${what}: MaxPool gone`);
    assert.equal(countOps(lg.graph, PATCH_CONV.op, PATCH_CONV.domain) + countOps(lg.graph, 'Where'), 0, `${what}: fusion nodes`);
  }
});

test('fusion count: one matching and one overlapping block → 1; the matching one is rewritten', () => {
  const geo: Geometry = {
    name: 'mix',
    input: [1, 12, 12],
    blocks: [
      { cout: 6, ...k3p1, pool: [2, 2] },
      { cout: 6, ...k3p1, pool: [3, 3], poolStrides: [2, 2] },
    ],
  };
  const { model } = buildModel(geo, 9);
  const g = cloneGraph(plainGraph(model).graph);
  assert.equal(fuseConvMaxPool(g), 1);
  assert.equal(countOps(g, 'MaxPool'), 1);
  assert.equal(countOps(g, PATCH_CONV.op, PATCH_CONV.domain), 4);
  assert.equal(fuseConvMaxPool(g), 0, 'a second pass finds nothing more');
});

// ---------- 3. fmnist CNN exports only standard ops ----------

test('model_a (fmnist CNN): both blocks fuse; exported grad, Hv and loss models hold only default-domain ops', () => {
  const model = onnx.ModelProto.decode(readFileSync(fixture('fmnist-backdoor', 'model_a.onnx')));
  assert.equal(fuseConvMaxPool(cloneGraph(plainGraph(model).graph)), 2);
  const lg = buildLossGraph(model, { loss: 'classification' });
  assert.equal(countOps(lg.graph, 'MaxPool'), 0);
  assert.ok(countOps(lg.graph, PATCH_CONV.op, PATCH_CONV.domain) > 0, 'the CNN uses PatchConv');
  assertDefaultDomain(buildGradGraph(lg).model, 'grad');
  assertDefaultDomain(buildHvpGraph(lg).model, 'Hv');
  assertDefaultDomain(lossModel(lg).model, 'loss model');
});

// ---------- 4. serialising an unlowered PatchConv throws ----------

test('graphToModel refuses a graph with an unlowered PatchConv', () => {
  const { model } = buildModel(GEOMETRIES[0], 100);
  const lg = buildLossGraph(model, { loss: 'classification' });
  assert.ok(countOps(lg.graph, PATCH_CONV.op, PATCH_CONV.domain) > 0);
  assert.throws(() => graphToModel(cloneGraph(lg.graph)), /internal op left/);
});

// ---------- Hv of a fused graph against differences of its gradient ----------

test('fused Hv equals central differences of the fused gradient (float32)', async () => {
  // Continuous random data and weights: no ties, so a small step stays in one piece of the piecewise-smooth loss.
  const geo: Geometry = { name: 'fd', input: [2, 8, 8], blocks: [{ cout: 6, ...k3p1, pool: [2, 2] }] };
  const { model } = buildModel(geo, 31, { dyadicWeights: false });
  const lg = buildLossGraph(model, { loss: 'classification' });
  assert.equal(countOps(lg.graph, PATCH_CONV.op, PATCH_CONV.domain), 4);
  const r = rng(32);
  const feeds = feedsFor(
    lg,
    geo,
    33,
    Array.from({ length: N * 2 * 64 }, () => r()),
  );
  const s = await session(buildHvpGraph(lg).model);
  try {
    const base = await runSession(s, feeds);
    // Small steps: the loss is piecewise smooth (Relu, max), and at eps = 1e-3 some step already crosses a kink
    // (differences then blow up ~20×); at 1e-4 float32 rounding leaves ~5e-4 relative error.
    const eps = 1e-4;
    const at = (sgn: number): Feeds => {
      const f = { ...feeds };
      for (const p of lg.params) {
        const w = feeds[p.name].data as Float32Array,
          v = feeds[`v.${p.name}`].data as Float32Array;
        f[p.name] = f32(
          p.dims,
          w.map((wi, i) => wi + sgn * eps * v[i]),
        );
      }
      return f;
    };
    const [gp, gm] = [await runSession(s, at(1)), await runSession(s, at(-1))];
    for (const p of lg.params) {
      const fd = gp[`grad.${p.name}`].map((g, i) => (g - gm[`grad.${p.name}`][i]) / (2 * eps));
      const e = relL2(base[`hv.${p.name}`], fd);
      assert.ok(Math.hypot(...fd) > 1e-3, `hv.${p.name} is too small to test`);
      assert.ok(e < 3e-3, `hv.${p.name} vs central differences (eps ${eps}): rel L2 ${e.toExponential(2)}`);
    }
  } finally {
    await s.release();
  }
});
