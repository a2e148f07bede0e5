/**
 * TensorReader over the initializers of an ONNX model, plus how the graph uses each one (`roles`), which is what
 * src/layers needs to tell weight matrices from biases, norms and constants.
 */
import { dirname } from 'node:path';
import { WeightscopeError } from '../errors.js';
import { FLOAT_DTYPES } from './types.js';
import type { TensorInfo, TensorReader, WeightRole } from './types.js';
import {
  onnxTypeToDType, readOnnxModel, tensorProtoBytes, tensorProtoToFloat64, tensorShape,
} from './onnx-model.js';
import type { ModelProto, TensorProto } from './onnx-model.js';

/** Which inputs of an op are weight operands, and the role they get. */
const OPERANDS: Readonly<Record<string, { readonly inputs: readonly number[]; readonly role: WeightRole }>> = {
  MatMul: { inputs: [0, 1], role: 'matmul' },
  Gemm: { inputs: [0, 1], role: 'gemm' }, // C (the bias) is not a weight matrix
  Conv: { inputs: [1], role: 'conv' },
  Gather: { inputs: [0], role: 'gather' },
};

/** Ops that pass an initializer through unchanged in content (a weight stored transposed stays a weight). */
const PASS_THROUGH: ReadonlySet<string> = new Set(['Transpose', 'Identity']);

/**
 * initializer name → role, first use in node order wins. An operand counts when it is an initializer itself or
 * the output of one Transpose/Identity node whose input is an initializer. Subgraphs (If/Loop bodies) are not
 * searched: exporters put weights in the main graph.
 */
export function initializerRoles(model: ModelProto): Map<string, WeightRole> {
  const graph = model.graph;
  const roles = new Map<string, WeightRole>();
  if (!graph) return roles;
  const inits = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  const passFrom = new Map<string, string>(); // output of a Transpose/Identity → its initializer input
  for (const n of graph.node ?? []) {
    const src = n.input?.[0];
    if (PASS_THROUGH.has(n.opType ?? '') && src !== undefined && inits.has(src)) {
      for (const o of n.output ?? []) passFrom.set(o, src);
    }
  }
  for (const n of graph.node ?? []) {
    const spec = OPERANDS[n.opType ?? ''];
    if (!spec || ((n.domain ?? '') !== '' && n.domain !== 'ai.onnx')) continue;
    for (const i of spec.inputs) {
      const name = n.input?.[i];
      if (name === undefined || name === '') continue;
      const init = inits.has(name) ? name : passFrom.get(name);
      if (init !== undefined && !roles.has(init)) roles.set(init, spec.role);
    }
  }
  return roles;
}

export interface OnnxReader extends TensorReader {
  readonly format: 'onnx';
  readonly roles: ReadonlyMap<string, WeightRole>;
  /** The decoded model (graph and all), for the graph and runtime modules. */
  readonly model: ModelProto;
}

/**
 * Every initializer with a dtype we know (integer ones included, listed with their dtype); STRING and COMPLEX
 * initializers are left out. Duplicate names are a corrupt file.
 */
export async function openOnnx(path: string): Promise<OnnxReader> {
  const model = await readOnnxModel(path);
  return onnxReaderFromModel(model, dirname(path));
}

export function onnxReaderFromModel(model: ModelProto, baseDir: string): OnnxReader {
  const byName = new Map<string, TensorProto>();
  const tensors: TensorInfo[] = [];
  for (const t of model.graph?.initializer ?? []) {
    const name = t.name ?? '';
    if (name === '') throw new WeightscopeError('corrupt-file', 'ONNX model has an initializer without a name');
    if (byName.has(name)) throw new WeightscopeError('corrupt-file', `ONNX model has two initializers named '${name}'`);
    const dtype = onnxTypeToDType(t.dataType ?? 0);
    if (dtype === null) continue;
    byName.set(name, t);
    tensors.push({ name, dtype, shape: tensorShape(t) });
  }
  const infoOf = new Map(tensors.map((t) => [t.name, t]));
  const get = (name: string): TensorProto => {
    const t = byName.get(name);
    if (!t) throw new WeightscopeError('not-found', `ONNX model has no initializer named '${name}'`);
    return t;
  };
  let closed = false;
  const live = (): void => {
    if (closed) throw new WeightscopeError('invalid-input', 'ONNX reader is closed');
  };
  return {
    format: 'onnx',
    tensors,
    roles: initializerRoles(model),
    model,
    async readFloat64(name: string): Promise<Float64Array> {
      live();
      const t = get(name);
      const dtype = infoOf.get(name)!.dtype;
      if (!FLOAT_DTYPES.has(dtype)) {
        throw new WeightscopeError('unsupported-dtype', `ONNX initializer '${name}' is ${dtype}, not a float tensor`);
      }
      return tensorProtoToFloat64(t, baseDir);
    },
    async readBytes(name: string): Promise<Uint8Array> {
      live();
      // A copy: in-file data is a view into the model's buffer, which the caller must not be able to change.
      const b = await tensorProtoBytes(get(name), baseDir);
      return b.byteOffset !== 0 || b.byteLength !== b.buffer.byteLength ? new Uint8Array(b) : b;
    },
    async close(): Promise<void> {
      closed = true;
    },
  };
}
