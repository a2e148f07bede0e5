#!/usr/bin/env python3
"""PyTorch anchor for bench/gpu/run.sh (issue 19; benchmark only, never used by tests).

  python3 bench/gpu/torch_cuda.py hvp --model cnn --weights W.safetensors --data D.safetensors --batch 1000
  python3 bench/gpu/torch_cuda.py hvp --model gpt2 --weights DIR/model.safetensors --config DIR/config.json \
      --data DIR/lm_batch.safetensors [--check grad_hvp.safetensors]
  python3 bench/gpu/torch_cuda.py curve --a A.safetensors --b B.safetensors --data CLEAN.safetensors

hvp: one gradient and one exact Hessian-vector product (double backprop, PyHessian's way) of the mean loss —
softmax cross-entropy for the fmnist CNN, next-token cross-entropy (logits[:, :-1] vs x[:, 1:]) for GPT-2 (HF names,
Conv1D [in, out], lm_head tied to wte, gelu_new, finfo.min causal mask: bench/gpu/gpt2-graph.ts's graph). --check
compares the gradient and Hv for the file's direction `v.NAME` with its `grad.NAME` / `hv.NAME` (a fixture's
grad_hvp.safetensors).
curve: one epoch of the Zhao et al. curve training of bench/repair_torch.py (quadratic Bezier, clean subset tiled
to 10,000 samples, batch 128, one t per batch, SGD lr 0.01 momentum 0.9, L2 1e-4) after two untimed warm-up steps.

float32 with TF32 off (cuBLAS and cuDNN), as onnxruntime computes. Times: median and best of --reps calls after two
warm-ups, each ended by torch.cuda.synchronize(). One JSON line per run. --device cpu runs the same on the CPU.
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from torch_models import CNN_NAMES, cnn_forward, load_safetensors  # noqa: E402


def gpt2_forward(p, ids, cfg):
    """HF GPT2LMHeadModel's logits for explicit weights p (name → tensor)."""
    B, T = ids.shape
    d, H = cfg['n_embd'], cfg['n_head']
    hd, eps = d // H, cfg.get('layer_norm_epsilon', 1e-5)
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool, device=ids.device))

    def ln(x, name):
        return F.layer_norm(x, (d,), p[name + '.weight'], p[name + '.bias'], eps)

    def linear(x, name):
        return x @ p[name + '.weight'] + p[name + '.bias']

    h = p['transformer.wte.weight'][ids] + p['transformer.wpe.weight'][:T]
    for i in range(cfg['n_layer']):
        q = f'transformer.h.{i}.'
        qq, kk, vv = (t.reshape(B, T, H, hd).transpose(1, 2) for t in linear(ln(h, q + 'ln_1'), q + 'attn.c_attn').split(d, dim=2))
        s = torch.where(mask, (qq @ kk.transpose(-1, -2)) / math.sqrt(hd), torch.finfo(h.dtype).min)
        h = h + linear((s.softmax(-1) @ vv).transpose(1, 2).reshape(B, T, d), q + 'attn.c_proj')
        h = h + linear(F.gelu(linear(ln(h, q + 'ln_2'), q + 'mlp.c_fc'), approximate='tanh'), q + 'mlp.c_proj')
    return ln(h, 'transformer.ln_f') @ p['transformer.wte.weight'].T


def sync(dev):
    if dev.type == 'cuda':
        torch.cuda.synchronize()


def timed(fn, reps, dev):
    """(median ms, best ms) of `reps` calls after two warm-ups."""
    fn()
    fn()
    sync(dev)
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        sync(dev)
        ts.append(time.perf_counter() - t0)
    ts.sort()
    return ts[len(ts) // 2] * 1000, ts[0] * 1000


def rel_l2(got, ref):
    num = sum(float(((g.double().cpu() - r.double()) ** 2).sum()) for g, r in zip(got, ref))
    den = sum(float((r.double() ** 2).sum()) for r in ref)
    return math.sqrt(num / den)


def hvp(args, dev):
    w = load_safetensors(args.weights)
    data = load_safetensors(args.data)
    if args.model == 'cnn':
        names = CNN_NAMES
        x, y = data['x'][:args.batch].to(dev), data['y'][:args.batch].to(dev)
        n = x.shape[0]

        def loss_of(params):
            return F.cross_entropy(cnn_forward(params, x), y)
    else:
        with open(args.config) as f:
            cfg = json.load(f)
        names = sorted(w)
        ids = data['x'][:args.batch].to(dev)
        n = ids.shape[0]
        vocab = cfg['vocab_size']

        def loss_of(params):
            logits = gpt2_forward(dict(zip(names, params)), ids, cfg)
            return F.cross_entropy(logits[:, :-1].reshape(-1, vocab), ids[:, 1:].reshape(-1))
    params = [w[n].to(dev).requires_grad_(True) for n in names]
    if args.check:
        ref = load_safetensors(args.check)
        v = [ref['v.' + n].to(dev) for n in names]
    else:
        gen = torch.Generator().manual_seed(0)
        v = [torch.randn(p.shape, generator=gen).to(dev) for p in params]

    def grad():
        return torch.autograd.grad(loss_of(params), params)

    def hv():
        g = torch.autograd.grad(loss_of(params), params, create_graph=True)
        return torch.autograd.grad(g, params, grad_outputs=v)

    g_ms, g_best = timed(grad, args.reps, dev)
    h_ms, h_best = timed(hv, args.reps, dev)
    out = {'case': args.case or args.model, 'device': torch.cuda.get_device_name(dev) if dev.type == 'cuda' else 'cpu',
           'batch': n,
           'loss': float(loss_of(params)), 'params': sum(p.numel() for p in params),
           'grad_ms': g_ms, 'grad_best_ms': g_best, 'hvp_ms': h_ms, 'hvp_best_ms': h_best, 'reps': args.reps,
           'torch': torch.__version__}
    if args.check:
        out['grad_rel_l2'] = rel_l2(grad(), [ref['grad.' + n] for n in names])
        out['hv_rel_l2'] = rel_l2(hv(), [ref['hv.' + n] for n in names])
    print(json.dumps(out), flush=True)


def curve(args, dev):
    A, B = load_safetensors(args.a), load_safetensors(args.b)
    a = [A[n].to(dev) for n in CNN_NAMES]
    b = [B[n].to(dev) for n in CNN_NAMES]
    data = load_safetensors(args.data)
    x, y = data['x'].to(dev), data['y'].to(dev)
    torch.manual_seed(args.seed)
    per_epoch, batch, l2 = 10_000, 128, 1e-4

    def run(mid, opt, steps):
        idx = (torch.arange(per_epoch) % x.shape[0])[torch.randperm(per_epoch)].to(dev)
        for s in range(0, min(per_epoch, steps * batch), batch):
            j = idx[s:s + batch]
            t = torch.rand(1).item()
            c0, c1, c2 = (1 - t) ** 2, 2 * t * (1 - t), t * t
            w = [c0 * p + c1 * m + c2 * q for p, m, q in zip(a, mid, b)]
            loss = F.cross_entropy(cnn_forward(w, x[j]), y[j]) + 0.5 * l2 * sum((u * u).sum() for u in w)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return float(loss)

    def fresh():
        mid = [((p + q) / 2).clone().requires_grad_(True) for p, q in zip(a, b)]
        return mid, torch.optim.SGD(mid, lr=0.01, momentum=0.9)

    run(*fresh(), steps=2)  # CUDA context, cuDNN plans
    sync(dev)
    mid, opt = fresh()
    t0 = time.perf_counter()
    loss = run(mid, opt, steps=10**9)
    sync(dev)
    print(json.dumps({'case': 'curve-epoch', 'device': torch.cuda.get_device_name(dev) if dev.type == 'cuda' else 'cpu',
                      'seconds_per_epoch': time.perf_counter() - t0, 'steps': (per_epoch + batch - 1) // batch,
                      'last_loss': loss, 'torch': torch.__version__}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('what', choices=['hvp', 'curve'])
    ap.add_argument('--model', choices=['cnn', 'gpt2'], default='cnn')
    ap.add_argument('--case')
    ap.add_argument('--weights')
    ap.add_argument('--config')
    ap.add_argument('--data')
    ap.add_argument('--batch', type=int, default=None)
    ap.add_argument('--reps', type=int, default=10)
    ap.add_argument('--check')
    ap.add_argument('--a')
    ap.add_argument('--b')
    ap.add_argument('--seed', type=int, default=29)
    ap.add_argument('--device', default='cuda')
    args = ap.parse_args()
    dev = torch.device(args.device)
    if dev.type == 'cuda':
        if not torch.cuda.is_available():
            print('no CUDA device for PyTorch', file=sys.stderr)
            sys.exit(3)
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    (hvp if args.what == 'hvp' else curve)(args, dev)


if __name__ == '__main__':
    main()
