/**
 * `--trace-exact` on the whole of mlp48 against reference.json's trace_exact (Σ eᵢᵀHeᵢ over all 38,170 parameters,
 * exact PyTorch Hv): 38,170 Hv on 1000 samples, about 2.5 minutes on 2 cores — the longest test, in its own file so
 * the runner overlaps it with the others.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { hessianOnFiles } from '../../../src/landscape/hessian/files.js';
import { fixture } from '../../helpers/fixtures.js';

test('mlp48: --trace-exact over all 38,170 parameters equals trace_exact to 1e-4', async () => {
  const ref = JSON.parse(readFileSync(fixture('fmnist-hessian', 'reference.json'), 'utf8')).mlp48 as {
    trace_exact: number;
    num_params: number;
  };
  const r = await hessianOnFiles(
    fixture('fmnist-hessian', 'mlp48.onnx'),
    { data: fixture('fmnist-hessian', 'batch.safetensors') },
    { topK: 0, traceExact: true, batchSize: 1000 },
  );
  assert.equal(r.num_params, ref.num_params);
  assert.equal(r.hv_products, ref.num_params);
  const exact = r.trace?.exact;
  assert.ok(typeof exact === 'number');
  const rel = Math.abs(exact - ref.trace_exact) / Math.abs(ref.trace_exact);
  assert.ok(rel < 1e-4, `exact trace ${exact} vs ${ref.trace_exact} (rel ${rel.toExponential(2)})`);
});
