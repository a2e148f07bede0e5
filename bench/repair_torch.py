#!/usr/bin/env python3
"""PyTorch anchor for bench/repair.ts (benchmark only; never used by tests).

Times curve-training epochs of the faithful Zhao et al. protocol on fmnist-backdoor: quadratic Bezier between
model_a and model_b (bend initialised at their mean, endpoints fixed), clean subset tiled to 10,000 samples an
epoch, batch 128, one t ~ U(0,1) per batch, SGD lr 0.01 momentum 0.9, L2 0.5*1e-4*||w(t)||^2, on the CPU with as
many intra-op threads as onnxruntime gets (all cores). Prints one JSON line: seconds per epoch (median of --epochs),
and, with --eval, clean accuracy / ASR at t = 0, 0.1, ..., 1 after the run.
Run with Debian's python3-torch: /usr/bin/python3 bench/repair_torch.py [--epochs 2] [--threads T] [--eval]
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_models import CNN_NAMES, cnn_forward, load_fixture, set_threads  # noqa: E402


def load(name):
    return load_fixture('fmnist-backdoor', name)


def garipov(epoch, epochs):
    a = epoch / epochs
    return 1.0 if a <= 0.5 else (1.0 - (a - 0.5) / 0.4 * 0.99 if a <= 0.9 else 0.01)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--epochs', type=int, default=2)
    ap.add_argument('--total-epochs', type=int, default=100, help='schedule length (only the first --epochs run)')
    ap.add_argument('--threads', type=int, default=os.cpu_count())
    ap.add_argument('--l2', type=float, default=1e-4)
    ap.add_argument('--seed', type=int, default=29)
    ap.add_argument('--eval', action='store_true')
    args = ap.parse_args()
    set_threads(args.threads)
    torch.manual_seed(args.seed)
    A, B = load('model_a.safetensors'), load('model_b.safetensors')
    a = [A[n] for n in CNN_NAMES]
    b = [B[n] for n in CNN_NAMES]
    mid = [((p + q) / 2).clone().requires_grad_(True) for p, q in zip(a, b)]
    data = load('clean_subset.safetensors')
    x, y = data['x'], data['y']
    opt = torch.optim.SGD(mid, lr=0.01, momentum=0.9)
    per_epoch, batch = 10_000, 128
    times = []
    for epoch in range(1, args.epochs + 1):
        for g in opt.param_groups:
            g['lr'] = 0.01 * garipov(epoch, args.total_epochs)
        t0 = time.perf_counter()
        idx = torch.arange(per_epoch) % x.shape[0]
        idx = idx[torch.randperm(per_epoch)]
        for s in range(0, per_epoch, batch):
            j = idx[s:s + batch]
            t = torch.rand(1).item()
            c0, c1, c2 = (1 - t) ** 2, 2 * t * (1 - t), t * t
            w = [c0 * p + c1 * m + c2 * q for p, m, q in zip(a, mid, b)]
            loss = F.cross_entropy(cnn_forward(w, x[j]), y[j]) + 0.5 * args.l2 * sum((v * v).sum() for v in w)
            opt.zero_grad()
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - t0)
    times.sort()
    out = {'case': 'curve-epoch', 'threads': args.threads, 'epochs': args.epochs, 'steps_per_epoch': (per_epoch + batch - 1) // batch,
           'seconds_per_epoch_median': times[len(times) // 2], 'seconds_per_epoch_min': times[0], 'torch': torch.__version__}
    if args.eval:
        clean = load('test_clean.safetensors')
        trig = load('test_triggered.safetensors')
        rows = []
        with torch.no_grad():
            for i in range(11):
                t = i / 10
                c0, c1, c2 = (1 - t) ** 2, 2 * t * (1 - t), t * t
                w = [c0 * p + c1 * m + c2 * q for p, m, q in zip(a, mid, b)]
                acc = (cnn_forward(w, clean['x']).argmax(1) == clean['y']).float().mean().item()
                asr = (cnn_forward(w, trig['x']).argmax(1) == trig['y']).float().mean().item()
                rows.append({'t': t, 'clean_acc': acc, 'asr': asr})
        out['along_t'] = rows
    print(json.dumps(out))


if __name__ == '__main__':
    main()
