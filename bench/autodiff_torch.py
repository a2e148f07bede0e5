#!/usr/bin/env python3
"""PyTorch anchor for bench/autodiff.bench.ts (benchmark only; never used by tests).

Times one gradient (forward + backward) and one exact Hessian-vector product (double backprop, as PyHessian) of the
mean cross-entropy for the fmnist-backdoor CNN (batch 128 of clean_subset) and the fmnist-hessian MLP (batch 1000),
float32 on the CPU, with as many intra-op threads as onnxruntime gets (all cores). Prints one JSON line per case.
Run with Debian's python3-torch: /usr/bin/python3 bench/autodiff_torch.py [--reps N] [--threads T]
"""
import argparse
import json
import os
import struct
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(os.path.dirname(ROOT), 'shared', 'fixtures')
DTYPES = {'F32': np.float32, 'I64': np.int64}


def load_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    header.pop('__metadata__', None)
    out = {}
    for name, h in header.items():
        a, b = h['data_offsets']
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype=DTYPES[h['dtype']]).reshape(h['shape']).copy())
    return out


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.fc1 = nn.Linear(784, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc2(F.relu(self.fc1(torch.flatten(x, 1))))


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(784, 48), nn.Linear(48, 10)])

    def forward(self, x):
        return self.layers[1](F.relu(self.layers[0](x.reshape(x.shape[0], -1))))


def timed(fn, reps):
    fn()  # warm-up
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    ts.sort()
    return ts[len(ts) // 2] * 1000, ts[0] * 1000


def case(name, model, weights, data, batch, reps, ref_path):
    model.load_state_dict(weights)
    model.eval()
    x, y = data['x'][:batch], data['y'][:batch]
    params = list(model.parameters())
    gen = torch.Generator().manual_seed(0)
    v = [torch.randn(p.shape, generator=gen) for p in params]

    def grad():
        loss = F.cross_entropy(model(x), y)
        return torch.autograd.grad(loss, params)

    def hvp():
        loss = F.cross_entropy(model(x), y)
        g = torch.autograd.grad(loss, params, create_graph=True)
        return torch.autograd.grad(g, params, grad_outputs=v)

    g_ms, g_best = timed(grad, reps)
    h_ms, h_best = timed(hvp, reps)
    loss = float(F.cross_entropy(model(x), y))
    print(json.dumps({'case': name, 'batch': batch, 'loss': loss, 'grad_ms': g_ms, 'grad_best_ms': g_best,
                      'hvp_ms': h_ms, 'hvp_best_ms': h_best, 'threads': torch.get_num_threads(),
                      'torch': torch.__version__}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--reps', type=int, default=20)
    ap.add_argument('--threads', type=int, default=os.cpu_count())
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    bd = os.path.join(FIX, 'fmnist-backdoor')
    hd = os.path.join(FIX, 'fmnist-hessian')
    case('fmnist-cnn', Cnn(), load_safetensors(os.path.join(bd, 'model_a.safetensors')),
         load_safetensors(os.path.join(bd, 'clean_subset.safetensors')), 128, a.reps, None)
    case('mlp48', Mlp(), load_safetensors(os.path.join(hd, 'mlp48.safetensors')),
         load_safetensors(os.path.join(hd, 'batch.safetensors')), 1000, a.reps, None)


if __name__ == '__main__':
    main()
