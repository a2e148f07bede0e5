/**
 * Finite-difference checks of gradient rules. A case builds y = op(inputs) with the builder; the scalar
 * f = Σ w⊙y + ½ Σ u⊙y⊙y (fixed pseudo-random w, u) is differentiated once (gradient) and twice (Hv), and both
 * are compared with central differences of f and of the gradient.
 */
import assert from 'node:assert/strict';
import type ort from 'onnxruntime-node';
import { Builder } from '../../src/graph/builder.js';
import { gradients } from '../../src/graph/autodiff.js';
import { decomposeAndInfer } from '../../src/graph/decompose.js';
import { DT, graphToModel, prune, type Graph } from '../../src/graph/ir.js';
import { lowerInternalOps } from '../../src/graph/lower.js';
import { f32, f64, i64, relL2, rng, runSession, session, type Feeds } from './helpers.js';

export interface CaseInput {
  name: string;
  dims: number[];
  /** Integer inputs (indices, shapes) are int64 and constant. */
  int?: number[];
  /** Values (default pseudo-random in [-1, 1)). */
  data?: number[];
  /** Not differentiated (float but treated as data). */
  nodiff?: boolean;
}

export interface Case {
  name: string;
  inputs: CaseInput[];
  build(b: Builder, x: string[]): string;
  dtype?: 'float32' | 'float64';
  opset?: number;
  /** Tolerance on max |error| / max |value| (gradient) and relative L2 (Hv). */
  tol?: number;
  eps?: number;
  /** Skip the second-order check (ops whose Hessian is zero almost everywhere still get it). */
  firstOrderOnly?: boolean;
  /** Run the forward decomposition pass (Gelu, LayerNormalization, …) before differentiating. */
  decompose?: boolean;
}

function emptyGraph(opset: number): Graph {
  return {
    name: 't',
    opset,
    irVersion: 8,
    extraOpsets: [],
    nodes: [],
    inputs: [],
    outputs: [],
    values: new Map(),
    initializers: new Map(),
  };
}

export async function checkCase(c: Case): Promise<{ gradErr: number; hvErr: number }> {
  const dtype = c.dtype ?? 'float64';
  const DTY = dtype === 'float64' ? DT.DOUBLE : DT.FLOAT;
  const g = emptyGraph(c.opset ?? 14);
  const b = new Builder(g, 'case');
  const r = rng(1234);
  const values = new Map<string, number[]>();
  for (const inp of c.inputs) {
    g.inputs.push(inp.name);
    g.values.set(inp.name, { dtype: inp.int ? DT.INT64 : DTY, shape: [...inp.dims] });
    const n = inp.dims.reduce((p, q) => p * q, 1);
    values.set(inp.name, inp.int ?? inp.data ?? Array.from({ length: n }, () => r()));
  }
  let y = c.build(
    b,
    c.inputs.map((i) => i.name),
  );
  if (c.decompose) {
    g.outputs = [y];
    decomposeAndInfer(g);
    y = g.outputs[0];
  }
  const ys = b.shapeOf(y);
  assert.ok(ys && ys.every((d) => typeof d === 'number'), `${c.name}: output shape not static: ${ys}`);
  const ny = (ys as number[]).reduce((p, q) => p * q, 1);
  const w = b.constant(
    DTY,
    ys as number[],
    Array.from({ length: ny }, () => r()),
  );
  const u = b.constant(
    DTY,
    ys as number[],
    Array.from({ length: ny }, () => r()),
  );
  const yc = b.cast(y, DTY);
  const f = b.op('ReduceSum', [b.add(b.mul(w, yc), b.mul(b.scalar(0.5, DTY), b.mul(u, b.mul(yc, yc))))], { keepdims: 0 });
  const diff = c.inputs.filter((i) => !i.int && !i.nodiff);
  const names = diff.map((i) => i.name);
  const grads = gradients(b, f, names);
  const outs = ['f'];
  b.op('Identity', [f], undefined, 'f');
  names.forEach((n, i) => {
    assert.ok(grads[i], `${c.name}: no gradient for ${n}`);
    b.op('Identity', [grads[i]!], undefined, `g.${n}`);
    outs.push(`g.${n}`);
  });
  for (const n of names) {
    g.inputs.push(`v.${n}`);
    g.values.set(`v.${n}`, { ...g.values.get(n)! });
  }
  if (!c.firstOrderOnly) {
    let s: string | undefined;
    names.forEach((n, i) => {
      const t = b.op('ReduceSum', [b.mul(grads[i]!, `v.${n}`)], { keepdims: 0 });
      s = s ? b.add(s, t) : t;
    });
    const hv = gradients(b, s!, names);
    names.forEach((n, i) => {
      b.op('Identity', [hv[i] ?? b.zerosLike(n)], undefined, `h.${n}`);
      outs.push(`h.${n}`);
    });
  }
  g.outputs = outs;
  lowerInternalOps(g); // as finish() in src/graph/grad.ts does before serialising
  prune(g);
  for (const n of g.nodes) assert.equal(n.domain, '', `${c.name}: non-default domain op ${n.opType}`);
  const sess = await session(graphToModel(g));
  try {
    const mk = (name: string, vals: number[]): ort.Tensor => {
      const inp = c.inputs.find((i) => i.name === name)!;
      if (inp.int) return i64(inp.dims, vals);
      return dtype === 'float64' ? f64(inp.dims, vals) : f32(inp.dims, vals);
    };
    const vdir = new Map(names.map((n) => [n, values.get(n)!.map(() => r())]));
    const feedsAt = (over: Map<string, number[]>): Feeds => {
      const fd: Feeds = {};
      for (const inp of c.inputs) fd[inp.name] = mk(inp.name, over.get(inp.name) ?? values.get(inp.name)!);
      for (const n of names) fd[`v.${n}`] = mk(n, vdir.get(n)!);
      return fd;
    };
    const base = await runSession(sess, feedsAt(new Map()));
    const eps = c.eps ?? (dtype === 'float64' ? 1e-5 : 3e-3);
    const tol = c.tol ?? (dtype === 'float64' ? 1e-6 : 2e-3);
    let gradErr = 0;
    for (const n of names) {
      const x0 = values.get(n)!;
      const fd = new Float64Array(x0.length);
      for (let j = 0; j < x0.length; j++) {
        const p = [...x0];
        p[j] += eps;
        const m = [...x0];
        m[j] -= eps;
        const fp = (await runSession(sess, feedsAt(new Map([[n, p]])))).f[0];
        const fm = (await runSession(sess, feedsAt(new Map([[n, m]])))).f[0];
        fd[j] = (fp - fm) / (2 * eps);
      }
      const an = base[`g.${n}`];
      let maxErr = 0,
        maxVal = 1e-12;
      for (let j = 0; j < fd.length; j++) {
        maxErr = Math.max(maxErr, Math.abs(fd[j] - an[j]));
        maxVal = Math.max(maxVal, Math.abs(fd[j]));
      }
      const e = maxErr / maxVal;
      gradErr = Math.max(gradErr, e);
      assert.ok(
        e <= tol,
        `${c.name}: gradient of ${n} off by ${e.toExponential(2)} (tol ${tol})\n fd=${Array.from(fd)
          .slice(0, 8)
          .map((v) => v.toFixed(5))}\n an=${Array.from(an)
          .slice(0, 8)
          .map((v) => v.toFixed(5))}`,
      );
    }
    let hvErr = 0;
    if (!c.firstOrderOnly) {
      const shifted = (sgn: number): Map<string, number[]> =>
        new Map(names.map((n) => [n, values.get(n)!.map((x, j) => x + sgn * eps * vdir.get(n)![j])]));
      const gp = await runSession(sess, feedsAt(shifted(1)));
      const gm = await runSession(sess, feedsAt(shifted(-1)));
      const fdAll: number[] = [],
        anAll: number[] = [];
      for (const n of names) {
        const a = gp[`g.${n}`],
          m = gm[`g.${n}`];
        for (let j = 0; j < a.length; j++) fdAll.push((a[j] - m[j]) / (2 * eps));
        anAll.push(...base[`h.${n}`]);
      }
      hvErr = relL2(anAll, fdAll);
      assert.ok(
        hvErr <= tol * 10 || Math.hypot(...fdAll) < 1e-9,
        `${c.name}: Hv off by ${hvErr.toExponential(2)}\n fd=${fdAll.slice(0, 8).map((v) => v.toFixed(5))}\n an=${anAll.slice(0, 8).map((v) => v.toFixed(5))}`,
      );
    }
    return { gradErr, hvErr };
  } finally {
    await sess.release();
  }
}
