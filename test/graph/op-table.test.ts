/**
 * The op table (src/graph/ops/) is the one place ops are known: every entry declares all three passes (shapes,
 * gradient, batch axis); the passes themselves name no op; every op a builder helper or a gradient rule emits has an
 * entry, with a gradient of its own where it can carry one (so gradients can be differentiated again); and a broken
 * rule makes gradients() fail loudly, naming the op, node and input. The numerical checks of every rule, enumerated
 * from the table, are in rules.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gradients, GradientRuleError } from '../../src/graph/autodiff.js';
import { Builder } from '../../src/graph/builder.js';
import { DT, type Graph } from '../../src/graph/ir.js';
import { INTERNAL_DOMAIN, INTERNAL_OPS, MICROSOFT_DOMAIN, MICROSOFT_OPS, ONNX_OPS } from '../../src/graph/op-names.js';
import { opTable } from '../../src/graph/ops/index.js';
import type { GradSpec, OpDef } from '../../src/graph/ops/types.js';
import { isCode } from '../helpers/errors.js';

const GRAPH = fileURLToPath(new URL('../../src/graph/', import.meta.url));
const source = (rel: string): string => readFileSync(GRAPH + rel, 'utf8');

test('every table entry declares shapes, a gradient and a batch rule, under a real op name', () => {
  const names: Record<string, readonly string[]> = { '': ONNX_OPS, [MICROSOFT_DOMAIN]: MICROSOFT_OPS, [INTERNAL_DOMAIN]: INTERNAL_OPS };
  const wrong: string[] = [];
  for (const [key, def] of opTable()) {
    if (typeof def.infer !== 'function') wrong.push(`${key}: no shape rule`);
    if (!['rule', 'none', 'decompose', 'missing'].includes(def.grad?.kind)) wrong.push(`${key}: no gradient declaration`);
    if (typeof def.batch?.rule !== 'function') wrong.push(`${key}: no batch rule`);
    if (!(names[def.domain ?? ''] ?? []).includes(def.op)) wrong.push(`${key}: not an op of its domain`);
    if ((def.domain === INTERNAL_DOMAIN) !== (def.lower !== undefined)) wrong.push(`${key}: private ops, and only they, are lowered`);
  }
  assert.deepEqual(wrong, []);
  assert.ok(opTable().size >= 150, `${opTable().size} ops`);
});

test('the passes name no op: what they know about ops comes from the table', () => {
  const all = new Set<string>([...ONNX_OPS, ...MICROSOFT_OPS, ...INTERNAL_OPS]);
  const named: string[] = [];
  for (const pass of ['infer.ts', 'autodiff.ts', 'batch-axis.ts', 'decompose.ts', 'lower.ts']) {
    for (const m of source(pass).matchAll(/'([A-Za-z]+)'/g)) if (all.has(m[1])) named.push(`${pass}: '${m[1]}'`);
  }
  assert.deepEqual(named, []);
});

/** Op names emitted with b.op / b.opN / this.op in a source file. */
function emitted(text: string): string[] {
  return [...text.matchAll(/\b(?:b|this)\.opN?\(\s*'([A-Za-z]+)'/g)].map((m) => m[1]);
}

/** Emitted by a rule on constants only: MaxPool's fallback scatters ones into zeros at its Indices (a fixed mask). */
const CONSTANT_ONLY = new Set(['ops/pool.ts: ScatterElements']);

test('every op the builder helpers and the gradient rules emit is in the table; rules emit differentiable ops', () => {
  const table = opTable();
  const missing: string[] = [];
  const dead: string[] = [];
  const files = ['emitter.ts', 'broadcast.ts', ...readdirSync(GRAPH + 'ops').map((f) => `ops/${f}`)];
  for (const file of files) {
    for (const op of emitted(source(file))) {
      const def = table.get(op);
      if (!def) missing.push(`${file}: ${op}`);
      // A rule's output is differentiated again for Hv: the ops it emits must carry gradient or be constant in it.
      else if (file.startsWith('ops/') && def.grad.kind === 'missing' && !CONSTANT_ONLY.has(`${file}: ${op}`)) dead.push(`${file}: ${op}`);
    }
  }
  assert.deepEqual(missing, []);
  assert.deepEqual(dead, []);
});

// ---- loud gradients ----------------------------------------------------------------------------------------------

/** y = ReduceSum(Relu(x) ⊙ w) over x [2, 3] with the Relu entry's gradient replaced for the duration of `fn`. */
function withRelu(grad: GradSpec, fn: (b: Builder, f: string) => void): void {
  const table = opTable() as Map<string, OpDef>;
  const original = table.get('Relu')!;
  table.set('Relu', { ...original, grad });
  try {
    const g: Graph = {
      name: 't',
      opset: 17,
      irVersion: 8,
      extraOpsets: [],
      nodes: [],
      inputs: ['x'],
      outputs: [],
      values: new Map([['x', { dtype: DT.FLOAT, shape: [2, 3] }]]),
      initializers: new Map(),
    };
    const b = new Builder(g, 'broken');
    const y = b.op('Relu', ['x']);
    fn(b, b.op('ReduceSum', [b.mul(y, b.constant(DT.FLOAT, [2, 3], [1, 2, 3, 4, 5, 6]))], { keepdims: 0 }));
  } finally {
    table.set('Relu', original);
  }
}

test('a rule that gives no gradient for a needed input makes gradients() throw, naming op, node and input', () => {
  withRelu({ kind: 'rule', rule: () => [] }, (b, f) => {
    assert.throws(
      () => gradients(b, f, ['x']),
      (e: unknown) => {
        assert.ok(e instanceof GradientRuleError);
        assert.match(e.message, /gradient rule of Relu \(node 'broken\/Relu_n\d+'\) gives no gradient for input 0 \('x'\)/);
        return true;
      },
    );
  });
});

test('a rule that gives a gradient of the wrong shape or dtype makes gradients() throw with the op name', () => {
  withRelu({ kind: 'rule', rule: ({ b, g }) => [() => b.reduceSum(g, [0], false)] }, (b, f) => {
    assert.throws(
      () => gradients(b, f, ['x']),
      (e: unknown) =>
        e instanceof GradientRuleError && /Relu .* gives input 0 \('x'\) a gradient of shape \[3\], not \[2,3\]/.test(e.message),
    );
  });
  withRelu({ kind: 'rule', rule: ({ b, g }) => [() => b.cast(g, DT.DOUBLE)] }, (b, f) => {
    assert.throws(
      () => gradients(b, f, ['x']),
      (e: unknown) => e instanceof GradientRuleError && /Relu .* gives input 0 \('x'\) a gradient of ONNX type 11, not 1/.test(e.message),
    );
  });
});

test('an op declared without a gradient, or a composite left undecomposed, is an unsupported-op error on the path', () => {
  withRelu({ kind: 'missing' }, (b, f) => {
    assert.throws(() => gradients(b, f, ['x']), isCode('unsupported-op', /no gradient rule for op Relu \(node 'broken\/Relu_n\d+'\)/));
  });
  withRelu({ kind: 'decompose', decompose: () => undefined }, (b, f) => {
    assert.throws(() => gradients(b, f, ['x']), isCode('unsupported-op', /Relu .*composite op: decomposeAndInfer/));
  });
  // Declared not differentiable: no gradient flows, so x gets none (and no error).
  withRelu({ kind: 'none' }, (b, f) => assert.deepEqual(gradients(b, f, ['x']), [undefined]));
});
