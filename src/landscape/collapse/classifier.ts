/**
 * Where a classifier's last-layer features are: walking back from the logits through ops that keep them linear in
 * one input (Identity, Cast, a bias Add), the last Gemm or MatMul whose other operand is a weight (a parameter,
 * possibly read through Identity/Cast/Transpose). Its data operand is the features, its weight the classifier W.
 * Works on src/graph's IR of any graph the engine runs (ONNX files, the graphs built from config.json).
 */
import { WeightscopeError } from '../../errors.js';
import { attrFloat, attrInt, attrInts, type GNode, type Graph } from '../../graph/ir.js';

export interface Classifier {
  /** The value the classifier reads (the features). */
  readonly features: string;
  /** The node that applies W. */
  readonly node: string;
  /** The parameter holding W, and whether it is stored [d, C] (MatMul layout / Gemm transB = 0) rather than [C, d]. */
  readonly weight: string;
  readonly transposed: boolean;
  /** Gemm's alpha (W_eff = alpha·W). */
  readonly scale: number;
}

const PASS_THROUGH = new Set(['Identity', 'Cast']);

function producers(g: Graph): Map<string, GNode> {
  const m = new Map<string, GNode>();
  for (const n of g.nodes) for (const o of n.outputs) if (o) m.set(o, n);
  return m;
}

/** Values that depend on the data inputs. */
function dataDependent(g: Graph, dataInputs: readonly string[]): Set<string> {
  const dep = new Set(dataInputs);
  for (const n of g.nodes) if (n.inputs.some((x) => x && dep.has(x))) for (const o of n.outputs) if (o) dep.add(o);
  return dep;
}

/** The parameter a weight operand reads, through Identity/Cast/2-D Transpose; null when it is anything else. */
function resolveWeight(name: string, prod: Map<string, GNode>, params: ReadonlySet<string>): { param: string; transposed: boolean } | null {
  let transposed = false;
  let v = name;
  for (let hops = 0; hops < 16; hops++) {
    if (params.has(v)) return { param: v, transposed };
    const n = prod.get(v);
    if (!n) return null;
    if (PASS_THROUGH.has(n.opType)) v = n.inputs[0];
    else if (n.opType === 'Transpose') {
      const perm = attrInts(n, 'perm');
      if (perm && !(perm.length === 2 && perm[0] === 1 && perm[1] === 0)) return null;
      transposed = !transposed;
      v = n.inputs[0];
    } else return null;
  }
  return null;
}

/**
 * The classifier producing `logits` in `g`. `params` are the graph's parameters (weights), `dataInputs` its data
 * inputs. Fails with a message naming the op it stopped at (name the features explicitly then).
 */
export function findClassifier(g: Graph, logits: string, params: ReadonlySet<string>, dataInputs: readonly string[]): Classifier {
  const prod = producers(g);
  const dep = dataDependent(g, dataInputs);
  const stop = (why: string): never => {
    throw new WeightscopeError(
      'unsupported-op',
      `cannot find the classifier that produces '${logits}': ${why}; name the features with --features`,
    );
  };
  let v = logits;
  for (let hops = 0; hops < 64; hops++) {
    const n = prod.get(v);
    if (!n) return stop(`'${v}' is a graph input`);
    if (PASS_THROUGH.has(n.opType)) {
      v = n.inputs[0];
      continue;
    }
    if (n.opType === 'Add') {
      const [a, b] = n.inputs;
      if (dep.has(a) && !dep.has(b)) v = a;
      else if (dep.has(b) && !dep.has(a)) v = b;
      else return stop(`the Add '${n.name}' adds two data-dependent values`);
      continue;
    }
    if (n.opType === 'Gemm' || n.opType === 'MatMul') {
      const [a, b] = n.inputs;
      if (n.opType === 'Gemm' && attrInt(n, 'transA', 0) !== 0) return stop(`the Gemm '${n.name}' transposes its data operand`);
      if (!dep.has(a) || dep.has(b)) return stop(`'${n.name}' (${n.opType}) does not multiply data by a weight`);
      const w = resolveWeight(b, prod, params);
      if (!w) return stop(`the weight of '${n.name}' is not a parameter of the model`);
      // Gemm's B is W [C, d] when transB = 1; MatMul's (and Gemm's without transB) is Wᵀ [d, C].
      const storedT = n.opType === 'MatMul' || attrInt(n, 'transB', 0) === 0;
      return {
        features: a,
        node: n.name,
        weight: w.param,
        transposed: storedT !== w.transposed,
        scale: n.opType === 'Gemm' ? attrFloat(n, 'alpha', 1) : 1,
      };
    }
    return stop(`the logits come from ${n.opType} '${n.name}', not a linear layer`);
  }
  return stop('too many pass-through ops');
}

/** W_eff = scale·W as [classes × d] float64, from the parameter's values. */
export function classifierMatrix(c: Classifier, values: ArrayLike<number>, classes: number, d: number): Float64Array {
  if (values.length !== classes * d) {
    throw new WeightscopeError(
      'shape-mismatch',
      `classifier '${c.weight}' has ${values.length} values; features of width ${d} and ${classes} classes need ${classes * d}`,
    );
  }
  const W = new Float64Array(classes * d);
  for (let k = 0; k < classes; k++) {
    for (let j = 0; j < d; j++) W[k * d + j] = c.scale * (c.transposed ? values[j * classes + k] : values[k * d + j]);
  }
  return W;
}
