/**
 * TensorReader over the weights of an ONNX model, wherever it keeps them — initializers, Constant nodes' `value`,
 * and both inside If/Loop/Scan subgraphs — plus how the graph uses each one (`roles`), which is what src/layers needs
 * to tell weight matrices from biases, norms and constants. The file is indexed, not decoded (src/io/onnx-scan.ts):
 * each tensor's bytes are read when asked for, so analysing a 2 GB ONNX file holds a few tensors, not the file.
 *
 * Names: a main-graph tensor keeps its own name (an initializer's, or the Constant's output); a subgraph tensor is
 * named by its path, `<node>.<attribute>/<name>` per level (`If_0.else_branch/encoder.0.conv.weight`), node = its
 * name, or `<op>_<index>` when it has none.
 */
import { dirname } from 'node:path';
import { WeightscopeError } from '../errors.js';
import { isWideningFloat, toFloat64 } from './dtype.js';
import {
  scanOnnx,
  scannedDType,
  scannedLocation,
  scannedTensorBytes,
  type ScannedGraph,
  type ScannedNode,
  type ScannedTensor,
} from './onnx-scan.js';
import { ProtoFile } from './proto-scan.js';
import type { TensorInfo, TensorLocation, TensorReader, WeightRole } from './types.js';

/** Which inputs of an op are weight operands, and the role they get. */
const OPERANDS: Readonly<Record<string, { readonly inputs: readonly number[]; readonly role: WeightRole }>> = {
  MatMul: { inputs: [0, 1], role: 'matmul' },
  Gemm: { inputs: [0, 1], role: 'gemm' }, // C (the bias) is not a weight matrix
  Conv: { inputs: [1], role: 'conv' },
  Gather: { inputs: [0], role: 'gather' },
  // W (input weights) and R (recurrence weights); B and the initial states are not matrices
  LSTM: { inputs: [1, 2], role: 'rnn' },
  GRU: { inputs: [1, 2], role: 'rnn' },
  RNN: { inputs: [1, 2], role: 'rnn' },
};

/**
 * Ops through which a weight reaches its consumer unchanged in content, up to layout: a transposed or reshaped
 * weight, and the Slice/Concat with which exporters reorder LSTM gates (PyTorch ifgo → ONNX iofc, a row
 * permutation). Which inputs carry the data: all (Concat), or the first.
 */
const PASS_THROUGH: Readonly<Record<string, 'first' | 'all'>> = {
  Identity: 'first',
  Transpose: 'first',
  Reshape: 'first',
  Unsqueeze: 'first',
  Squeeze: 'first',
  Flatten: 'first',
  Slice: 'first',
  Concat: 'all',
};

/** Hops followed upstream from a consumer before giving up (exporters use at most a few). */
const MAX_HOPS = 16;

interface Entry {
  info: TensorInfo;
  tensor: ScannedTensor;
}

interface Scope {
  /** Local name → reader tensor name. */
  readonly tensors: Map<string, string>;
  readonly producers: Map<string, ScannedNode>;
  readonly parent: Scope | null;
}

/** The reader tensors a name resolves to, following PASS_THROUGH producers and outer scopes. */
function trace(name: string, scope: Scope, hops: number, out: string[]): void {
  for (let s: Scope | null = scope; s; s = s.parent) {
    const t = s.tensors.get(name);
    if (t !== undefined) {
      out.push(t);
      return;
    }
    const p = s.producers.get(name);
    if (p) {
      const pass = PASS_THROUGH[p.opType];
      if (!pass || hops >= MAX_HOPS || (p.domain !== '' && p.domain !== 'ai.onnx')) return;
      for (const input of pass === 'all' ? p.inputs : p.inputs.slice(0, 1)) if (input !== '') trace(input, s, hops + 1, out);
      return;
    }
  }
}

/** A Constant node's tensor, when it is one a reader lists (a float tensor of rank ≥ 1). */
function constantTensor(n: ScannedNode): ScannedTensor | null {
  if (n.opType !== 'Constant' || (n.domain !== '' && n.domain !== 'ai.onnx')) return null;
  const t = n.attributes.find((a) => a.name === 'value')?.tensor;
  if (!t || t.dims.length === 0) return null;
  const dtype = scannedDType(t);
  return dtype && isWideningFloat(dtype) ? t : null;
}

/** Walks the graph and its subgraphs: every weight-like tensor, and the role of each (first use in node order wins). */
function indexGraph(root: ScannedGraph): { entries: Map<string, Entry>; order: string[]; roles: Map<string, WeightRole> } {
  const entries = new Map<string, Entry>();
  const order: string[] = [];
  const roles = new Map<string, WeightRole>();
  const add = (qualified: string, t: ScannedTensor, where: string): boolean => {
    const dtype = scannedDType(t);
    if (dtype === null) return false; // STRING, COMPLEX: not read
    if (entries.has(qualified)) throw new WeightscopeError('corrupt-file', `ONNX model has two tensors named '${qualified}' (${where})`);
    const shape = t.dims;
    entries.set(qualified, { info: { name: qualified, dtype, shape }, tensor: t });
    order.push(qualified);
    return true;
  };
  const visit = (g: ScannedGraph, prefix: string, parent: Scope | null): void => {
    const scope: Scope = { tensors: new Map(), producers: new Map(), parent };
    for (const t of g.initializers) {
      if (t.name === '') throw new WeightscopeError('corrupt-file', 'ONNX model has an initializer without a name');
      // Main-graph initializers are listed whatever their type (as before); subgraph ones only as possible weights.
      const dtype = scannedDType(t);
      if (prefix !== '' && !(dtype && isWideningFloat(dtype) && t.dims.length > 0)) continue;
      if (add(prefix + t.name, t, 'initializer')) scope.tensors.set(t.name, prefix + t.name);
    }
    g.nodes.forEach((n) => {
      const c = constantTensor(n);
      if (c && n.outputs[0]) {
        if (add(prefix + n.outputs[0], c, 'Constant')) scope.tensors.set(n.outputs[0], prefix + n.outputs[0]);
      } else {
        for (const o of n.outputs) if (o !== '') scope.producers.set(o, n);
      }
    });
    const labels = new Set<string>();
    g.nodes.forEach((n, index) => {
      const spec = OPERANDS[n.opType];
      if (spec && (n.domain === '' || n.domain === 'ai.onnx')) {
        for (const i of spec.inputs) {
          const name = n.inputs[i];
          if (name === undefined || name === '') continue;
          const found: string[] = [];
          trace(name, scope, 0, found);
          for (const t of found) if (!roles.has(t)) roles.set(t, spec.role);
        }
      }
      let label = n.name !== '' ? n.name : `${n.opType}_${index}`;
      if (labels.has(label)) label = `${label}@${index}`;
      labels.add(label);
      for (const a of n.attributes) {
        a.graphs.forEach((sub, k) => visit(sub, `${prefix}${label}.${a.name}${a.graphs.length > 1 ? `[${k}]` : ''}/`, scope));
      }
    });
  };
  visit(root, '', null);
  return { entries, order, roles };
}

export interface OnnxReader extends TensorReader {
  readonly format: 'onnx';
  readonly roles: ReadonlyMap<string, WeightRole>;
}

/**
 * Every weight-like tensor of the model: all main-graph initializers with a dtype we know (integer ones listed with
 * their dtype; STRING and COMPLEX left out), and float tensors of rank ≥ 1 held by Constant nodes or by subgraphs.
 * Duplicate names are a corrupt file.
 */
export async function openOnnx(path: string): Promise<OnnxReader> {
  const file = ProtoFile.open(path);
  let index: ReturnType<typeof indexGraph>;
  try {
    index = indexGraph(scanOnnx(file).graph);
  } catch (e) {
    file.close();
    throw e;
  }
  const baseDir = dirname(path);
  const { entries, order, roles } = index;
  const get = (name: string): Entry => {
    const e = entries.get(name);
    if (!e) throw new WeightscopeError('not-found', `ONNX model has no tensor named '${name}'`);
    return e;
  };
  let closed = false;
  const live = (): void => {
    if (closed) throw new WeightscopeError('invalid-input', 'ONNX reader is closed');
  };
  return {
    format: 'onnx',
    tensors: order.map((n) => entries.get(n)!.info),
    roles,
    async readFloat64(name: string): Promise<Float64Array> {
      live();
      const e = get(name);
      if (!isWideningFloat(e.info.dtype)) {
        throw new WeightscopeError('unsupported-dtype', `ONNX tensor '${name}' is ${e.info.dtype}, not a float tensor`);
      }
      return toFloat64(e.info.dtype, await scannedTensorBytes(file, e.tensor, baseDir));
    },
    async readBytes(name: string): Promise<Uint8Array> {
      live();
      return scannedTensorBytes(file, get(name).tensor, baseDir);
    },
    locate(name: string): TensorLocation | null {
      live();
      return scannedLocation(get(name).tensor, path, baseDir);
    },
    async close(): Promise<void> {
      if (!closed) file.close();
      closed = true;
    },
  };
}
