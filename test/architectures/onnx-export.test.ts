/**
 * Folding an If with a constant condition: the branch taken replaces the node; branch-local names that collide with
 * the outer graph's are renamed (and only those), branch initializers move to the outer graph, and the result
 * computes what the If computed. An export with an input transformers.js would not feed is refused by name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { Builder } from '../../src/graph/builder.js';
import { DT, emptyGraph, graphToModel, makeTensor, type Graph } from '../../src/graph/ir.js';
import { adaptExport, foldConstantIfs } from '../../src/architectures/onnx-export.js';
import { isCode } from '../helpers/errors.js';

const { onnx } = onnxProto;

/** out = If(cond): then x + w_then·2 (its own initializer named 'w', as the outer one), else x − w. */
function ifGraph(cond: boolean): Graph {
  const g = emptyGraph('outer', 17);
  g.inputs = ['x'];
  g.values.set('x', { dtype: DT.FLOAT, shape: [3] });
  g.initializers.set('w', makeTensor('w', DT.FLOAT, [3], [1, 2, 3]));
  g.values.set('w', { dtype: DT.FLOAT, shape: [3] });
  const b = new Builder(g, 'outer');
  const c = b.constant(DT.BOOL, [1], [cond ? 1 : 0]);
  const branch = (then: boolean) => {
    const s = emptyGraph(then ? 'then' : 'else', 17);
    for (const [k, v] of g.values) s.values.set(k, { ...v });
    if (then) {
      s.initializers.set('w', makeTensor('w', DT.FLOAT, [3], [10, 20, 30]));
      s.values.set('w', { dtype: DT.FLOAT, shape: [3] });
    }
    const sb = new Builder(s, then ? 't' : 'e');
    const y = then ? sb.add('x', sb.mul('w', sb.scalar(2, DT.FLOAT))) : sb.sub('x', 'w');
    // 'tmp' is a branch-local name that also exists outside: renamed when inlined.
    sb.op('Identity', [y], undefined, 'tmp');
    s.outputs = ['tmp'];
    return graphToModel(s).graph!;
  };
  b.op('Identity', ['x'], undefined, 'tmp');
  g.nodes.push({
    name: 'if',
    opType: 'If',
    domain: '',
    inputs: [c],
    outputs: ['out'],
    attrs: [
      { name: 'then_branch', type: 5, g: branch(true) },
      { name: 'else_branch', type: 5, g: branch(false) },
    ],
  });
  g.values.set('out', { dtype: DT.FLOAT, shape: [3] });
  g.outputs = ['out', 'tmp'];
  return g;
}

async function run(g: Graph): Promise<{ out: number[]; tmp: number[] }> {
  const s = await ort.InferenceSession.create(onnx.ModelProto.encode(graphToModel(g)).finish());
  const r = await s.run({ x: new ort.Tensor('float32', Float32Array.of(1, 1, 1), [3]) });
  await s.release();
  return { out: [...(r.out.data as Float32Array)], tmp: [...(r.tmp.data as Float32Array)] };
}

test("foldConstantIfs: the taken branch replaces the If, colliding branch names renamed, the If's outputs computed", async () => {
  // (onnxruntime refuses the unfolded graph: ONNX forbids a subgraph to reuse an outer name, so exporters never do;
  // the renaming is a safeguard, checked here on the folded graph only.)
  for (const cond of [true, false]) {
    const g = ifGraph(cond);
    assert.equal(foldConstantIfs(g), 1);
    assert.ok(!g.nodes.some((n) => n.opType === 'If'));
    assert.deepEqual(await run(g), { out: cond ? [21, 41, 61] : [0, -1, -2], tmp: [1, 1, 1] });
    if (cond) {
      // The branch's 'w' and 'tmp' collided with the outer graph's: both renamed, the outer ones untouched.
      assert.ok(g.initializers.has('w') && g.initializers.has('if/w'));
      assert.ok(g.nodes.some((n) => n.outputs.includes('if/tmp')));
    }
  }
});

test('an export input transformers.js does not feed on a first pass is refused by name', () => {
  const g = emptyGraph('export', 17);
  g.inputs = ['input_ids', 'encoder_hidden_states'];
  g.values.set('input_ids', { dtype: DT.INT64, shape: ['batch_size', 'sequence_length'] });
  g.values.set('encoder_hidden_states', { dtype: DT.FLOAT, shape: ['batch_size', 'encoder_sequence_length', 8] });
  const b = new Builder(g, 'e');
  b.op('Identity', [b.add(b.cast('input_ids', DT.FLOAT), b.reduceSum('encoder_hidden_states', [1, 2], false))], undefined, 'logits');
  g.outputs = ['logits'];
  assert.throws(
    () => adaptExport(graphToModel(g), 'decoder_model.onnx', { task: 'causal-lm' }),
    isCode('invalid-input', /input\(s\) encoder_hidden_states are not among those transformers\.js feeds/),
  );
});
