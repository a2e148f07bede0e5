import { readFileSync } from 'node:fs';
import { collapseOnFiles } from './src/landscape/collapse/run.js';
const ref = JSON.parse(readFileSync('../shared/reference/neural_collapse.json', 'utf8')).cases;
const cases: [string, string, string][] = [
  ['fmnist-hessian/mlp48 on batch', '../shared/fixtures/fmnist-hessian/mlp48.onnx', '../shared/fixtures/fmnist-hessian/batch.safetensors'],
  ['fmnist-backdoor/model_a on test_clean', '../shared/fixtures/fmnist-backdoor/model_a.onnx', '../shared/fixtures/fmnist-backdoor/test_clean.safetensors'],
];
for (const [k, m, d] of cases) {
  const r = await collapseOnFiles(m, d);
  const e = ref[k];
  for (const key of ['nc1', 'nc2_etf', 'nc2_equinorm', 'nc2_equiangular', 'nc3', 'nc3_zhu']) {
    const v = (r as any)[key];
    console.log(k, key, v, e[key], ((v - e[key]) / e[key]).toExponential(2));
  }
  console.log('nc4', r.nc4, e.nc4_ncc_mismatch, r.num_classes, r.feature_dim, r.samples, r.seconds, r.features, r.classifier, r.between_rank);
}
process.exit(0);
