/**
 * Batch-axis dataflow: follows the samples of a batch from the data inputs (axis 0) through every node, to decide
 * whether cutting the batch into contiguous shards and concatenating the shards' results gives the whole batch's
 * result (runtime/separable.ts; the engine runs shards on parallel lanes). A whitelist: each op's entry in the op
 * table (ops/) says where the batch axis goes, or why the op may mix samples; an op the table does not know, control
 * flow, or an axis the rules cannot follow ends the analysis with a reason. Conservative by construction: a null
 * answer is a proof under the inferred shapes, a reason may be a false alarm.
 *
 * Values that are independent of the samples (weights, shapes) are not tracked, except for one hazard: a value
 * computed from the batch size (Shape → Gather 0) is fine as a Reshape/Expand target but would change under
 * sharding if used as a number, so that use is a reason too.
 */
import type { GNode, Graph } from './ir.js';
import { opKey } from './op-names.js';
import { BatchCtx, isFolded, Mixes, NO_BATCH_RULE, type Flow } from './ops/batch-context.js';
import { opDef } from './ops/index.js';

export interface BatchAxisOptions {
  /** The inputs that carry samples along axis 0 (default: every graph input). */
  readonly inputs?: readonly string[];
  /** The outputs that must come out per sample (default: every graph output); only nodes they need are read. */
  readonly outputs?: readonly string[];
}

/** The nodes some of `outputs` depend on, in graph order. */
function needed(g: Graph, outputs: readonly string[]): GNode[] {
  const want = new Set(outputs);
  const keep: GNode[] = [];
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i];
    if (!n.outputs.some((o) => want.has(o))) continue;
    keep.push(n);
    for (const x of n.inputs) if (x) want.add(x);
  }
  return keep.reverse();
}

/**
 * A reason why shards of a batch might not reproduce the whole batch's outputs (naming the node), or null when the
 * outputs are per-sample along axis 0. `g` must carry inferred shapes (Builder.addNode / decomposeAndInfer).
 */
export function batchAxisReason(g: Graph, opts: BatchAxisOptions = {}): string | null {
  const flows = new Map<string, Flow>();
  const batchSyms = new Set<string>();
  /** Independent values computed from the batch size. */
  const sized = new Set<string>();
  const info = (v: string) => (v ? g.values.get(v) : undefined);
  const outputs = opts.outputs ?? g.outputs;
  const nodes = opts.outputs ? needed(g, outputs) : g.nodes;

  for (const x of opts.inputs ?? g.inputs) {
    const s = info(x)?.shape ?? null;
    if (s && typeof s[0] === 'number' && s[0] !== 1) return `input '${x}' has a fixed batch size ${s[0]}`;
    const b = s && typeof s[0] === 'string' ? s[0] : `?batch:${x}`;
    batchSyms.add(b);
    flows.set(x, { axis: 0, b });
  }
  /** Whether an independent output holds batch-size-derived numbers (from its inferred contents, else its inputs). */
  const sizedOutput = (o: string, fromInputs: boolean): boolean => {
    const i = info(o);
    if (i?.value) return false;
    if (i?.dimsValue) return i.dimsValue.some((d) => typeof d === 'string' && batchSyms.has(d));
    return fromInputs;
  };

  try {
    for (const n of nodes) {
      const where = `${opKey(n.opType, n.domain)} node '${n.name}'`;
      const spec = opDef(n.opType, n.domain)?.batch ?? NO_BATCH_RULE;
      const ins = n.inputs.map((v) => (v ? flows.get(v) : undefined));
      const ctx = new BatchCtx(g, n, where, ins);
      if (spec.control) spec.rule(ctx);
      if (spec.measures) {
        const f = ins[0];
        // The extent of an axis that carries the batch scales with it: remember its symbol.
        if (f && !isFolded(f)) {
          const d = info(n.inputs[0])?.shape?.[f.axis];
          if (typeof d === 'string') batchSyms.add(d);
        }
        for (const o of n.outputs) if (o && (spec.measures === 'count' ? f !== undefined : sizedOutput(o, f !== undefined))) sized.add(o);
        continue;
      }
      if (ins.every((f) => f === undefined)) {
        const fromInputs = !spec.shapeOnly && n.inputs.some((v) => sized.has(v));
        for (const o of n.outputs) if (o && sizedOutput(o, fromInputs)) sized.add(o);
        continue;
      }
      n.inputs.forEach((v, i) => {
        if (sized.has(v) && !(spec.shapeInputs ?? []).includes(i)) {
          throw new Mixes(`${where} uses a number computed from the batch size (input '${v}')`);
        }
      });
      const out = spec.rule(ctx);
      n.outputs.forEach((o, i) => {
        const f = Array.isArray(out) ? out[i] : (out as Flow);
        if (o && f) flows.set(o, f);
      });
    }
    for (const o of outputs) {
      const f = flows.get(o);
      if (f && isFolded(f)) throw new Mixes(`output '${o}' holds the batch merged with other axes by node '${f.by}'`);
      if (f && f.axis !== 0) throw new Mixes(`output '${o}' carries the batch along axis ${f.axis}, not 0`);
    }
  } catch (e) {
    if (e instanceof Mixes) return e.message;
    throw e;
  }
  return null;
}
