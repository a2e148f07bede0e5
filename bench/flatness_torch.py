#!/usr/bin/env python3
"""PyTorch anchor for bench/flatness.bench.ts (benchmark only): local entropy F(w; γ) = log E exp(−L(w + ε)),
ε ~ N(0, I/γ) on every parameter, of fmnist-hessian's mlp48 on its 1000-sample batch, by the log-mean-exp of K
loss evaluations — the estimate weightscope's `flatness` computes (one standard-normal draw z per k shared by the
γ values: w + z/√γ), written the way a PyTorch user would: a loop over draws, torch.randn per parameter, the
perturbed weights copied in, a forward pass under no_grad. Prints one JSON line.
Run: /usr/bin/python3 bench/flatness_torch.py [--draws K] [--gammas 1e3,1e4,1e5] [--reps N] [--threads T]
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_models import Mlp, load_fixture, set_threads  # noqa: E402


def local_entropy(model, base, x, y, gammas, draws, gen):
    params = list(model.parameters())
    losses = {g: torch.empty(draws, dtype=torch.float64) for g in gammas}
    with torch.no_grad():
        for k in range(draws):
            z = [torch.randn(p.shape, generator=gen) for p in params]
            for g in gammas:
                s = 1.0 / math.sqrt(g)
                for p, b, zi in zip(params, base, z):
                    torch.add(b, zi, alpha=s, out=p)
                losses[g][k] = F.cross_entropy(model(x), y).item()
        for p, b in zip(params, base):
            p.copy_(b)
    out = []
    for g in gammas:
        v = -losses[g]
        m = v.max()
        e = torch.exp(v - m)
        mean = e.mean()
        out.append({'gamma': g, 'local_entropy': float(m + torch.log(mean)),
                    'stderr': float(e.std(unbiased=True) / math.sqrt(draws) / mean)})
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--draws', type=int, default=1000)
    ap.add_argument('--gammas', default='1e3,1e4,1e5')
    ap.add_argument('--reps', type=int, default=3)
    ap.add_argument('--threads', type=int, default=os.cpu_count())
    a = ap.parse_args()
    set_threads(a.threads)
    gammas = [float(g) for g in a.gammas.split(',')]
    model = Mlp()
    model.load_state_dict(load_fixture('fmnist-hessian', 'mlp48.safetensors'))
    model.eval()
    data = load_fixture('fmnist-hessian', 'batch.safetensors')
    x, y = data['x'], data['y']
    base = [p.detach().clone() for p in model.parameters()]
    gen = torch.Generator().manual_seed(0)
    local_entropy(model, base, x, y, gammas, 20, gen)  # warm-up
    times = []
    cpus = []
    rows = None
    for _ in range(a.reps):
        t0, c0 = time.perf_counter(), time.process_time()
        rows = local_entropy(model, base, x, y, gammas, a.draws, gen)
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    print(json.dumps({'case': 'mlp48', 'draws': a.draws, 'gammas': gammas, 'best_s': min(times), 'median_s': sorted(times)[len(times) // 2], 'best_cpu_s': min(cpus),
                      'rows': rows, 'threads': torch.get_num_threads(), 'torch': torch.__version__}), flush=True)


if __name__ == '__main__':
    main()
