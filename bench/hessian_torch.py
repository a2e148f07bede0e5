#!/usr/bin/env python3
"""PyTorch anchor for bench/hessian.bench.ts (benchmark only): Hessian-vector products per second by double backprop
(PyHessian's way: grad with create_graph, then grad of <g, v>) of the mean cross-entropy, batch 1000, float32 CPU,
for fmnist-hessian's MLP and fmnist-backdoor's CNN. Prints one JSON line per case.
Run: /usr/bin/python3 bench/hessian_torch.py [--reps N] [--threads T]
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_models import Cnn, Mlp, hvp_case, load_fixture, reps_and_threads, timed  # noqa: E402


def case(name, model, weights, data, batch, reps):
    *_, hvp = hvp_case(model, weights, data, batch)
    hv_ms, hv_best = timed(hvp, reps)
    print(json.dumps({'case': name, 'batch': batch, 'hv_ms': hv_ms, 'hv_best_ms': hv_best,
                      'threads': torch.get_num_threads(), 'torch': torch.__version__}), flush=True)


def main():
    reps = reps_and_threads(10)
    case('mlp48', Mlp(), load_fixture('fmnist-hessian', 'mlp48.safetensors'), load_fixture('fmnist-hessian', 'batch.safetensors'), 1000, reps)
    case('fmnist-cnn', Cnn(), load_fixture('fmnist-backdoor', 'model_a.safetensors'), load_fixture('fmnist-backdoor', 'clean_subset.safetensors'), 1000, reps)


if __name__ == '__main__':
    main()
