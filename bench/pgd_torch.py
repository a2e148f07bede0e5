#!/usr/bin/env python3
"""PyTorch anchor for bench/attack.ts (benchmark only; never used by tests).

PGD (L-infinity, --steps steps of --alpha, uniform random start in the eps-ball, projection onto the ball and [0, 1])
on the first --samples images of fmnist-backdoor's test_clean with model_a, batches of --batch, mean cross-entropy,
--threads intra-op threads (OpenBLAS bounded too). Prints one JSON line: seconds for the whole attack (median and best
of --reps), clean and robust accuracy; with --grad-out FILE also writes the input gradient of the mean loss of the
first batch at the clean images (float32, row-major) for bench/attack.ts to compare with its own.
Run with Debian's python3-torch: /usr/bin/python3 bench/pgd_torch.py [--threads T] [--reps 3]
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_models import Cnn, load_fixture, set_threads  # noqa: E402


def pgd(model, x, y, eps, alpha, steps, gen):
    adv = (x + (torch.rand(x.shape, generator=gen) * 2 - 1) * eps).clamp(0, 1)
    for _ in range(steps):
        adv.requires_grad_(True)
        loss = F.cross_entropy(model(adv), y)
        g, = torch.autograd.grad(loss, adv)
        with torch.no_grad():
            adv = adv + alpha * g.sign()
            adv = torch.min(torch.max(adv, x - eps), x + eps).clamp(0, 1)
    return adv.detach()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--threads', type=int, default=os.cpu_count())
    ap.add_argument('--reps', type=int, default=3)
    ap.add_argument('--samples', type=int, default=2000)
    ap.add_argument('--batch', type=int, default=250)
    ap.add_argument('--eps', type=float, default=0.1)
    ap.add_argument('--steps', type=int, default=10)
    ap.add_argument('--alpha', type=float, default=None)
    ap.add_argument('--grad-out', default=None)
    a = ap.parse_args()
    set_threads(a.threads)
    alpha = a.alpha if a.alpha is not None else a.eps / 4
    model = Cnn()
    model.load_state_dict(load_fixture('fmnist-backdoor', 'model_a.safetensors'))
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    data = load_fixture('fmnist-backdoor', 'test_clean.safetensors')
    x, y = data['x'][:a.samples], data['y'][:a.samples]
    if a.grad_out:
        xb = x[:a.batch].clone().requires_grad_(True)
        g, = torch.autograd.grad(F.cross_entropy(model(xb), y[:a.batch]), xb)
        g.numpy().astype('float32').tofile(a.grad_out)
    times = []
    for rep in range(a.reps + 1):
        gen = torch.Generator().manual_seed(rep)
        t0 = time.perf_counter()
        advs = [pgd(model, x[s:s + a.batch], y[s:s + a.batch], a.eps, alpha, a.steps, gen) for s in range(0, len(y), a.batch)]
        dt = time.perf_counter() - t0
        if rep > 0:
            times.append(dt)  # the first run warms up
    adv = torch.cat(advs)
    with torch.no_grad():
        clean = (model(x).argmax(1) == y).float().mean().item()
        robust = (model(adv).argmax(1) == y).float().mean().item()
    times.sort()
    print(json.dumps({'case': 'pgd', 'threads': a.threads, 'samples': len(y), 'steps': a.steps, 'eps': a.eps, 'alpha': alpha, 'batch': a.batch,
                      'seconds_median': times[len(times) // 2], 'seconds_min': times[0], 'clean_acc': clean, 'robust_acc': robust, 'torch': torch.__version__}))


if __name__ == '__main__':
    main()
