import { readFileSync } from 'node:fs';
import { flatnessOnFiles } from './src/landscape/flatness/run.js';
const ref = JSON.parse(readFileSync('../shared/reference/local_entropy.json', 'utf8'));
for (const seed of [7, 1, 2]) {
  const r = await flatnessOnFiles('../shared/fixtures/fmnist-hessian/mlp48.onnx', '../shared/fixtures/fmnist-hessian/batch.safetensors', { draws: 1000, seed, traceMinIter: 100, traceMaxIter: 100 });
  console.log('seed', seed, 'trace', r.trace.value?.toFixed(2), '±', r.trace.stderr?.toFixed(2), r.rows.map((row, i) => `γ=${row.gamma} F=${row.local_entropy.toFixed(6)}±${row.stderr.toExponential(2)} zref=${((row.local_entropy - ref.rows[i].local_entropy) / Math.hypot(row.stderr, ref.rows[i].stderr)).toFixed(2)} z2=${((row.local_entropy - row.second_order!) / row.stderr).toFixed(2)}`).join(' | '));
}
process.exit(0);
