#!/usr/bin/env python3
"""PyTorch anchors for bench/hf.bench.ts (benchmark only; never used by tests). Debian's python3-torch 1.13, which
has no transformers package: the two models are written here functionally with transformers' semantics
(modeling_gpt2.py, modeling_vit.py), reading the same safetensors checkpoints weightscope reads.

  gpt2-hvp DIR    Hessian-vector products of the mean next-token cross-entropy of GPT2LMHeadModel (DIR/config.json,
                  DIR/model.safetensors, DIR/batch.safetensors `x` int64 [4, 128]) by double backprop (PyHessian's
                  way); prints {hv_ms, hv_best_ms, loss}.
  vit-curve A B   one curve-training epoch on vit-fmnist-backdoor: quadratic Bezier between the two ViT folders (bend
                  at their mean, endpoints fixed), fmnist-backdoor's clean subset tiled to 10,000 samples, batch 128,
                  one t ~ U(0,1) per batch, SGD lr 0.01 momentum 0.9, L2 0.5·c·‖w(t)‖²; prints {epoch_s, epochs_s}.
Options: --threads T (torch's and OpenBLAS's pools), --reps N / --epochs N.
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_models import FIX, set_threads, timed  # noqa: E402

DT = {'F32': torch.float32, 'I64': torch.int64, 'F16': torch.float16, 'BF16': torch.bfloat16, 'U8': torch.uint8}


def load(path):
    """A safetensors file one tensor at a time (never the whole file in memory twice)."""
    out = {}
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        header.pop('__metadata__', None)
        for name, h in sorted(header.items(), key=lambda kv: kv[1]['data_offsets'][0]):
            a, b = h['data_offsets']
            f.seek(8 + n + a)
            buf = bytearray(f.read(b - a))
            out[name] = torch.frombuffer(buf, dtype=DT[h['dtype']]).reshape(h['shape']).clone() if b > a else torch.zeros(h['shape'], dtype=DT[h['dtype']])
    return out


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def gpt2_logits(w, ids, c):
    d, nh = c['n_embd'], c['n_head']
    hd = d // nh
    B, T = ids.shape
    h = w['transformer.wte.weight'][ids] + w['transformer.wpe.weight'][:T]
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    mn = torch.finfo(torch.float32).min
    for i in range(c['n_layer']):
        p = f'transformer.h.{i}.'
        x = F.layer_norm(h, (d,), w[p + 'ln_1.weight'], w[p + 'ln_1.bias'], c.get('layer_norm_epsilon', 1e-5))
        q, k, v = (x @ w[p + 'attn.c_attn.weight'] + w[p + 'attn.c_attn.bias']).split(d, dim=2)
        q, k, v = (t.view(B, T, nh, hd).permute(0, 2, 1, 3) for t in (q, k, v))
        att = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        att = torch.where(causal, att, torch.tensor(mn)).softmax(-1)
        a = (att @ v).permute(0, 2, 1, 3).reshape(B, T, d)
        h = h + a @ w[p + 'attn.c_proj.weight'] + w[p + 'attn.c_proj.bias']
        x = F.layer_norm(h, (d,), w[p + 'ln_2.weight'], w[p + 'ln_2.bias'], c.get('layer_norm_epsilon', 1e-5))
        h = h + gelu_new(x @ w[p + 'mlp.c_fc.weight'] + w[p + 'mlp.c_fc.bias']) @ w[p + 'mlp.c_proj.weight'] + w[p + 'mlp.c_proj.bias']
    h = F.layer_norm(h, (d,), w['transformer.ln_f.weight'], w['transformer.ln_f.bias'], c.get('layer_norm_epsilon', 1e-5))
    return h @ w['transformer.wte.weight'].t()


def gpt2_hvp(folder, reps):
    c = json.load(open(os.path.join(folder, 'config.json')))
    w = load(os.path.join(folder, 'model.safetensors'))
    ids = load(os.path.join(folder, 'batch.safetensors'))['x']
    names = sorted(n for n in w if w[n].dtype == torch.float32)
    for n in names:
        w[n].requires_grad_(True)
    params = [w[n] for n in names]
    gen = torch.Generator().manual_seed(0)
    v = [torch.randn(p.shape, generator=gen) for p in params]
    V = c['vocab_size']
    out = {}

    def hvp():
        logits = gpt2_logits(w, ids, c)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1))
        g = torch.autograd.grad(loss, params, create_graph=True)
        out['loss'] = float(loss)
        return torch.autograd.grad(g, params, grad_outputs=v)

    med, best = timed(hvp, reps)
    print(json.dumps({'case': 'gpt2-hvp', 'hv_ms': med, 'hv_best_ms': best, 'loss': out['loss'], 'params': sum(p.numel() for p in params)}))


def vit_logits(w, x, c):
    d, nh, ps = c['hidden_size'], c['num_attention_heads'], c['patch_size']
    hd = d // nh
    eps = c.get('layer_norm_eps', 1e-12)
    e = F.conv2d(x, w['vit.embeddings.patch_embeddings.projection.weight'], w['vit.embeddings.patch_embeddings.projection.bias'], stride=ps)
    e = e.flatten(2).transpose(1, 2)
    B = x.shape[0]
    h = torch.cat([w['vit.embeddings.cls_token'].expand(B, -1, -1), e], dim=1) + w['vit.embeddings.position_embeddings']
    T = h.shape[1]
    for i in range(c['num_hidden_layers']):
        p = f'vit.encoder.layer.{i}.'
        y = F.layer_norm(h, (d,), w[p + 'layernorm_before.weight'], w[p + 'layernorm_before.bias'], eps)

        def proj(n):
            return F.linear(y, w[p + f'attention.attention.{n}.weight'], w[p + f'attention.attention.{n}.bias']).view(B, T, nh, hd).permute(0, 2, 1, 3)

        q, k, v = proj('query'), proj('key'), proj('value')
        a = ((q @ k.transpose(-1, -2)) / math.sqrt(hd)).softmax(-1) @ v
        h = F.linear(a.permute(0, 2, 1, 3).reshape(B, T, d), w[p + 'attention.output.dense.weight'], w[p + 'attention.output.dense.bias']) + h
        y = F.layer_norm(h, (d,), w[p + 'layernorm_after.weight'], w[p + 'layernorm_after.bias'], eps)
        m = F.gelu(F.linear(y, w[p + 'intermediate.dense.weight'], w[p + 'intermediate.dense.bias']))
        h = F.linear(m, w[p + 'output.dense.weight'], w[p + 'output.dense.bias']) + h
    h = F.layer_norm(h, (d,), w['vit.layernorm.weight'], w['vit.layernorm.bias'], eps)
    return F.linear(h[:, 0], w['classifier.weight'], w['classifier.bias'])


def vit_curve(a_dir, b_dir, epochs, l2):
    c = json.load(open(os.path.join(a_dir, 'config.json')))
    A, Bw = load(os.path.join(a_dir, 'model.safetensors')), load(os.path.join(b_dir, 'model.safetensors'))
    names = sorted(A)
    mid = {n: ((A[n] + Bw[n]) / 2).clone().requires_grad_(True) for n in names}
    data = load(os.path.join(FIX, 'fmnist-backdoor', 'clean_subset.safetensors'))
    x, y = data['x'], data['y']
    opt = torch.optim.SGD(list(mid.values()), lr=0.01, momentum=0.9)
    per_epoch, batch = 10_000, 128
    torch.manual_seed(29)
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        idx = torch.arange(per_epoch) % x.shape[0]
        idx = idx[torch.randperm(per_epoch)]
        for s in range(0, per_epoch, batch):
            j = idx[s:s + batch]
            t = float(torch.rand(1))
            # Quadratic Bezier: (1−t)²·A + 2t(1−t)·θ + t²·B.
            wt = {n: (1 - t) ** 2 * A[n] + 2 * t * (1 - t) * mid[n] + t * t * Bw[n] for n in names}
            loss = F.cross_entropy(vit_logits(wt, x[j], c), y[j]) + 0.5 * l2 * sum((p * p).sum() for p in wt.values())
            opt.zero_grad()
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - t0)
    print(json.dumps({'case': 'vit-curve', 'epoch_s': sorted(times)[len(times) // 2], 'epoch_best_s': min(times), 'epochs_s': times}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('mode', choices=['gpt2-hvp', 'vit-curve'])
    ap.add_argument('paths', nargs='+')
    ap.add_argument('--threads', type=int, default=os.cpu_count())
    ap.add_argument('--reps', type=int, default=3)
    ap.add_argument('--epochs', type=int, default=2)
    ap.add_argument('--l2', type=float, default=1e-4)
    a = ap.parse_args()
    set_threads(a.threads)
    if a.mode == 'gpt2-hvp':
        gpt2_hvp(a.paths[0], a.reps)
    else:
        vit_curve(a.paths[0], a.paths[1], a.epochs, a.l2)


if __name__ == '__main__':
    main()
