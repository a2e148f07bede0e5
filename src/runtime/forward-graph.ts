/**
 * Graph surgery the runtime needs for plain forward passes: turn chosen initializers into graph inputs (so one
 * session serves any weights) and keep only what a set of outputs depends on.
 */
import { WeightscopeError } from '../errors.js';
import { onnx, tensorShape, type ModelProto } from '../io/onnx-model.js';

/** A copy of `model` where the named initializers are graph inputs of the same type and shape. */
export function paramsAsInputs(model: ModelProto, names: readonly string[]): ModelProto {
  const graph = model.graph;
  if (!graph) throw new WeightscopeError('corrupt-file', 'ONNX model has no graph');
  const inits = graph.initializer ?? [];
  const isInit = new Set(inits.map((t) => t.name ?? ''));
  const isInput = new Set((graph.input ?? []).map((i) => i.name ?? ''));
  // Names that already are plain graph inputs (e.g. a graph built with parameters as inputs) need nothing.
  const wanted = new Set(names.filter((n) => isInit.has(n) || !isInput.has(n)));
  const moved = inits.filter((t) => wanted.has(t.name ?? ''));
  if (moved.length !== wanted.size) {
    const missing = [...wanted].filter((n) => !isInit.has(n));
    throw new WeightscopeError('not-found', `ONNX model has no initializer named ${missing.map((m) => `'${m}'`).join(', ')}`);
  }
  const newInputs = moved.map((t) =>
    onnx.ValueInfoProto.create({
      name: t.name,
      type: { tensorType: { elemType: t.dataType, shape: { dim: tensorShape(t).map((d) => ({ dimValue: d })) } } },
    }),
  );
  // Older exporters list initializers among the inputs too; drop those entries before re-adding them.
  const input = [...(graph.input ?? []).filter((i) => !wanted.has(i.name ?? '')), ...newInputs];
  const initializer = inits.filter((t) => !wanted.has(t.name ?? ''));
  return onnx.ModelProto.create({ ...model, graph: onnx.GraphProto.create({ ...graph, input, initializer }) });
}

/** Names a node reads, including those its subgraphs (If/Loop/Scan bodies) read from the outer scope. */
function nodeReads(node: onnx.INodeProto): string[] {
  const out = [...(node.input ?? [])];
  for (const a of node.attribute ?? []) {
    for (const g of [a.g, ...(a.graphs ?? [])]) {
      if (!g) continue;
      for (const n of g.node ?? []) out.push(...nodeReads(n));
    }
  }
  return out.filter((s) => s !== '');
}

/**
 * A copy of `model` computing only `outputs`: nodes, initializers and inputs nothing needs are dropped.
 * Graph outputs keep their declared type where the model declares one.
 */
export function pruneTo(model: ModelProto, outputs: readonly string[]): ModelProto {
  const graph = model.graph;
  if (!graph) throw new WeightscopeError('corrupt-file', 'ONNX model has no graph');
  const nodes = graph.node ?? [];
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => (n.output ?? []).forEach((o) => producer.set(o, i)));
  const inputNames = new Set((graph.input ?? []).map((i) => i.name ?? ''));
  const initNames = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  const needed = new Set<string>();
  const keep = new Set<number>();
  const stack = [...outputs];
  for (const o of outputs) {
    if (!producer.has(o) && !inputNames.has(o) && !initNames.has(o)) {
      throw new WeightscopeError('not-found', `the graph has no value named '${o}'`);
    }
  }
  while (stack.length) {
    const v = stack.pop() as string;
    if (needed.has(v)) continue;
    needed.add(v);
    const p = producer.get(v);
    if (p !== undefined && !keep.has(p)) {
      keep.add(p);
      stack.push(...nodeReads(nodes[p]));
    }
  }
  const declared = new Map([...(graph.output ?? []), ...(graph.valueInfo ?? [])].map((v) => [v.name ?? '', v]));
  const output = outputs.map((o) => declared.get(o) ?? onnx.ValueInfoProto.create({ name: o }));
  return onnx.ModelProto.create({
    ...model,
    graph: onnx.GraphProto.create({
      ...graph,
      node: nodes.filter((_, i) => keep.has(i)),
      input: (graph.input ?? []).filter((i) => needed.has(i.name ?? '')),
      initializer: (graph.initializer ?? []).filter((t) => needed.has(t.name ?? '')),
      output,
    }),
  });
}
