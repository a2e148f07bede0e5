"""What the PyTorch anchors (autodiff_torch.py, hessian_torch.py, repair_torch.py) share: the fixtures' location and
safetensors reader, the fmnist-backdoor CNN and fmnist-hessian MLP, seeded Hessian-vector-product cases, and timing.
A module to import, not a benchmark.
"""
import argparse
import ctypes
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
# The CNN's parameters in the fixtures' (and Cnn's state_dict) order.
CNN_NAMES = ['conv1.weight', 'conv1.bias', 'conv2.weight', 'conv2.bias', 'fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']


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


def load_fixture(*parts):
    """A safetensors file of /work/shared/fixtures, e.g. load_fixture('fmnist-backdoor', 'model_a.safetensors')."""
    return load_safetensors(os.path.join(FIX, *parts))


def cnn_forward(w, x):
    """The fmnist-backdoor CNN on explicit weights w (CNN_NAMES order), for training a curve w(t)."""
    x = F.max_pool2d(F.relu(F.conv2d(x, w[0], w[1], padding=1)), 2)
    x = F.max_pool2d(F.relu(F.conv2d(x, w[2], w[3], padding=1)), 2)
    return F.linear(F.relu(F.linear(torch.flatten(x, 1), w[4], w[5])), w[6], w[7])


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.fc1 = nn.Linear(784, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        return cnn_forward(list(self.parameters()), x)


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(784, 48), nn.Linear(48, 10)])

    def forward(self, x):
        return self.layers[1](F.relu(self.layers[0](x.reshape(x.shape[0], -1))))


def hvp_case(model, weights, data, batch):
    """The model in eval mode with `weights`, the first `batch` samples (x, y), its parameters, a seeded direction v,
    and v ↦ H v of the mean cross-entropy by double backprop (PyHessian's way)."""
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

    return x, y, params, hvp


def timed(fn, reps):
    """(median ms, best ms) of `reps` calls after two warm-up calls."""
    fn()  # warm-up
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    ts.sort()
    return ts[len(ts) // 2] * 1000, ts[0] * 1000


def reps_and_threads(default_reps):
    """--reps N and --threads T (default all cores, as onnxruntime); sets torch's intra-op threads to T."""
    ap = argparse.ArgumentParser()
    ap.add_argument('--reps', type=int, default=default_reps)
    ap.add_argument('--threads', type=int, default=os.cpu_count())
    a = ap.parse_args()
    set_threads(a.threads)
    return a.reps


def set_threads(n):
    """torch's intra-op threads and, separately, Debian's pthread OpenBLAS pool: torch.set_num_threads does not
    reach the latter, so a "1-thread" torch would still run its GEMMs on every core (measured: 0.41 against 0.78 ms
    for a 1000×784×48 product on this 2-core machine)."""
    torch.set_num_threads(n)
    for path in sorted({line.split()[-1] for line in open('/proc/self/maps') if 'openblas' in line and '.so' in line}):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        if hasattr(lib, 'openblas_set_num_threads'):
            lib.openblas_set_num_threads(ctypes.c_int(n))
            assert lib.openblas_get_num_threads() == n
