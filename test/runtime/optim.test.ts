import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adam, sgd, type Optimizer } from '../../src/runtime/optim.js';

// Three steps from P0 with these gradients through torch.optim (PyTorch 1.13, Debian python3-torch, float32):
//   p = torch.nn.Parameter(torch.tensor(P0)); opt = torch.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.01)
//   for g in GRADS: p.grad = torch.tensor(g); opt.step()
// with each case's constructor arguments as in `cases` below (Adam(lr, betas, eps, weight_decay), AdamW(...)).
const P0 = [0.5, -1.25, 2.0, 0.0];
const GRADS = [
  [0.1, -0.2, 0.3, 0.0],
  [-0.5, 0.25, 0.125, 1.0],
  [0.05, 0.5, -0.75, -0.25],
];
const TORCH: Record<string, number[]> = {
  sgd_plain: [0.5350000262260437, -1.3049999475479126, 2.0325000286102295, -0.07500000298023224],
  sgd_momentum_wd: [0.5600854158401489, -1.2863445281982422, 1.9588661193847656, -0.164900004863739],
  sgd_dampening: [0.5175000429153442, -1.2653124332427979, 1.99484384059906, -0.046875],
  sgd_nesterov: [0.5911998748779297, -1.3429757356643677, 2.0038809776306152, -0.22346389293670654],
  adam: [0.4999629855155945, -1.2476861476898193, 1.984035611152649, -0.011471576057374477],
  adam_wd: [0.4957934319972992, -1.2314831018447876, 1.9604673385620117, -0.023222878575325012],
  adamw: [0.4984555244445801, -1.2416629791259766, 1.9621354341506958, -0.0229282695800066],
};

function run(opt: Optimizer): number[] {
  const params = new Map([['w', Float32Array.from(P0)]]);
  for (const g of GRADS) opt.step(params, new Map([['w', Float32Array.from(g)]]));
  assert.equal(opt.steps, 3);
  return [...params.get('w')!];
}

const cases: [string, () => Optimizer][] = [
  ['sgd_plain', () => sgd({ lr: 0.1 })],
  ['sgd_momentum_wd', () => sgd({ lr: 0.1, momentum: 0.9, weightDecay: 0.01 })],
  ['sgd_dampening', () => sgd({ lr: 0.05, momentum: 0.5, dampening: 0.25 })],
  ['sgd_nesterov', () => sgd({ lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.001 })],
  ['adam', () => adam({ lr: 0.01 })],
  ['adam_wd', () => adam({ lr: 0.02, betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.1 })],
  ['adamw', () => adam({ lr: 0.02, weightDecay: 0.05, decoupled: true })],
];

for (const [name, make] of cases) {
  test(`optim: ${name} matches torch.optim to float32 rounding`, () => {
    const got = run(make());
    TORCH[name].forEach((want, i) => {
      assert.ok(Math.abs(got[i] - want) <= 2e-7 * Math.max(1, Math.abs(want)), `${name}[${i}]: ${got[i]} vs ${want}`);
    });
  });
}

test('optim: invalid settings and mismatched gradients are errors', () => {
  assert.throws(() => sgd({ lr: -1 }), { code: 'invalid-input' });
  assert.throws(() => sgd({ lr: 0.1, nesterov: true }), { code: 'invalid-input', message: /Nesterov/ });
  assert.throws(() => adam({ betas: [1, 0.9] }), { code: 'invalid-input' });
  const o = sgd({ lr: 0.1 });
  assert.throws(() => o.step(new Map([['w', new Float32Array(2)]]), new Map([['w', new Float32Array(3)]])), { code: 'shape-mismatch' });
  assert.throws(() => o.step(new Map([['w', new Float32Array(2)]]), new Map([['u', new Float32Array(2)]])), { code: 'invalid-input' });
});
