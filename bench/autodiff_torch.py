#!/usr/bin/env python3
"""PyTorch anchor for bench/autodiff.bench.ts (benchmark only; never used by tests).

Times one gradient (forward + backward) and one exact Hessian-vector product (double backprop, as PyHessian) of the
mean cross-entropy for the fmnist-backdoor CNN (batch 128 of clean_subset) and the fmnist-hessian MLP (batch 1000),
float32 on the CPU, with as many intra-op threads as onnxruntime gets (all cores). Prints one JSON line per case.
Run with Debian's python3-torch: /usr/bin/python3 bench/autodiff_torch.py [--reps N] [--threads T]
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_models import Cnn, Mlp, hvp_case, load_fixture, reps_and_threads, timed  # noqa: E402


def case(name, model, weights, data, batch, reps):
    x, y, params, hvp = hvp_case(model, weights, data, batch)

    def grad():
        loss = F.cross_entropy(model(x), y)
        return torch.autograd.grad(loss, params)

    g_ms, g_best = timed(grad, reps)
    h_ms, h_best = timed(hvp, reps)
    loss = float(F.cross_entropy(model(x), y))
    print(json.dumps({'case': name, 'batch': batch, 'loss': loss, 'grad_ms': g_ms, 'grad_best_ms': g_best,
                      'hvp_ms': h_ms, 'hvp_best_ms': h_best, 'threads': torch.get_num_threads(),
                      'torch': torch.__version__}), flush=True)


def main():
    reps = reps_and_threads(20)
    case('fmnist-cnn', Cnn(), load_fixture('fmnist-backdoor', 'model_a.safetensors'),
         load_fixture('fmnist-backdoor', 'clean_subset.safetensors'), 128, reps)
    case('mlp48', Mlp(), load_fixture('fmnist-hessian', 'mlp48.safetensors'),
         load_fixture('fmnist-hessian', 'batch.safetensors'), 1000, reps)


if __name__ == '__main__':
    main()
