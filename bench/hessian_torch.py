#!/usr/bin/env python3
"""PyTorch anchor for bench/hessian.bench.ts (benchmark only): Hessian-vector products per second by double backprop
(PyHessian's way: grad with create_graph, then grad of <g, v>) of the mean cross-entropy, batch 1000, float32 CPU,
for fmnist-hessian's MLP and fmnist-backdoor's CNN. Prints one JSON line per case.
Run: /usr/bin/python3 bench/hessian_torch.py [--reps N] [--threads T]
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from autodiff_torch import FIX, Cnn, Mlp, load_safetensors  # noqa: E402  (the architectures, defined once)


def case(name, model, weights, data, batch, reps):
    model.load_state_dict(weights)
    model.eval()
    x, y = data['x'][:batch], data['y'][:batch]
    params = list(model.parameters())
    gen = torch.Generator().manual_seed(0)
    v = [torch.randn(p.shape, generator=gen) for p in params]

    def hvp():
        loss = F.cross_entropy(model(x), y)
        g = torch.autograd.grad(loss, params, create_graph=True)
        return torch.autograd.grad(g, params, grad_outputs=v)

    hvp()
    hvp()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        hvp()
        ts.append(time.perf_counter() - t0)
    ts.sort()
    print(json.dumps({'case': name, 'batch': batch, 'hv_ms': ts[len(ts) // 2] * 1000, 'hv_best_ms': ts[0] * 1000,
                      'threads': torch.get_num_threads(), 'torch': torch.__version__}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--reps', type=int, default=10)
    ap.add_argument('--threads', type=int, default=os.cpu_count())
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    bd = os.path.join(FIX, 'fmnist-backdoor')
    hd = os.path.join(FIX, 'fmnist-hessian')
    case('mlp48', Mlp(), load_safetensors(os.path.join(hd, 'mlp48.safetensors')), load_safetensors(os.path.join(hd, 'batch.safetensors')), 1000, a.reps)
    case('fmnist-cnn', Cnn(), load_safetensors(os.path.join(bd, 'model_a.safetensors')), load_safetensors(os.path.join(bd, 'clean_subset.safetensors')), 1000, a.reps)


if __name__ == '__main__':
    main()
