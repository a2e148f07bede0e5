#!/usr/bin/env python3
"""PyTorch anchor for bench/surface.ts (benchmark only; never used by tests).

Times surface-training epochs on surface-mlp: a 2 x 2 tensor-product Bezier patch whose corners are m1..m4 (fixed),
the five other control points initialised at the bilinear interpolation of the corners, the clean subset tiled to
--samples samples an epoch, batch 128, one (u, v) ~ U(0,1)^2 per batch, SGD lr 0.01 momentum 0.9, L2
0.5*1e-4*||w(u,v)||^2, on the CPU with --threads intra-op threads (OpenBLAS bounded too, see torch_models.set_threads).
Prints one JSON line: seconds per epoch (median and best of --epochs).
Run with Debian's python3-torch: /usr/bin/python3 bench/surface_torch.py [--epochs 3] [--threads T]
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_models import load_fixture, set_threads  # noqa: E402

NAMES = ['layers.0.weight', 'layers.0.bias', 'layers.1.weight', 'layers.1.bias']


def mlp(w, x):
    return F.linear(F.relu(F.linear(x.reshape(x.shape[0], -1), w[0], w[1])), w[2], w[3])


def bernstein(n, x):
    from math import comb
    return [comb(n, i) * x ** i * (1 - x) ** (n - i) for i in range(n + 1)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--epochs', type=int, default=3)
    ap.add_argument('--threads', type=int, default=os.cpu_count())
    ap.add_argument('--samples', type=int, default=10_000)
    ap.add_argument('--l2', type=float, default=1e-4)
    ap.add_argument('--seed', type=int, default=1)
    args = ap.parse_args()
    set_threads(args.threads)
    torch.manual_seed(args.seed)
    corners = [load_fixture('surface-mlp', f'm{i}.safetensors') for i in (1, 2, 3, 4)]
    names = [n for n in NAMES if n in corners[0]] if all(n in corners[0] for n in NAMES) else sorted(corners[0].keys())
    M = [[c[n] for n in names] for c in corners]
    n = 2
    # Control point (i, j) at site (i/n, j/n); corners M1 (0,0), M2 (n,0), M3 (0,n), M4 (n,n) as weightscope's patch.
    grid = {}
    for i in range(n + 1):
        for j in range(n + 1):
            s, r = i / n, j / n
            wts = [(1 - s) * (1 - r), s * (1 - r), (1 - s) * r, s * r]
            corner = {(0, 0): 0, (n, 0): 1, (0, n): 2, (n, n): 3}.get((i, j))
            if corner is not None:
                grid[(i, j)] = M[corner]
            else:
                grid[(i, j)] = [sum(wk * m[p] for wk, m in zip(wts, M)).clone().requires_grad_(True) for p in range(len(names))]
    free = [p for (ij, ps) in grid.items() if ij not in [(0, 0), (n, 0), (0, n), (n, n)] for p in ps]
    data = load_fixture('surface-mlp', 'clean_subset.safetensors')
    x, y = data['x'][:2400], data['y'][:2400]
    opt = torch.optim.SGD(free, lr=0.01, momentum=0.9)
    batch = 128
    times = []
    for _ in range(args.epochs):
        t0 = time.perf_counter()
        idx = torch.arange(args.samples) % x.shape[0]
        idx = idx[torch.randperm(args.samples)]
        for s in range(0, args.samples, batch):
            j = idx[s:s + batch]
            u, v = torch.rand(2).tolist()
            bu, bv = bernstein(n, u), bernstein(n, v)
            w = [sum(bu[a] * bv[b] * grid[(a, b)][p] for a in range(n + 1) for b in range(n + 1)) for p in range(len(names))]
            loss = F.cross_entropy(mlp(w, x[j]), y[j]) + 0.5 * args.l2 * sum((t * t).sum() for t in w)
            opt.zero_grad()
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - t0)
    times.sort()
    print(json.dumps({'case': 'surface-epoch', 'threads': args.threads, 'epochs': args.epochs, 'steps_per_epoch': (args.samples + batch - 1) // batch,
                      'parameters': sum(t.numel() for t in M[0]), 'seconds_per_epoch_median': times[len(times) // 2],
                      'seconds_per_epoch_min': times[0], 'torch': torch.__version__}))


if __name__ == '__main__':
    main()
