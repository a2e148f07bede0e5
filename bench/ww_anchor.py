"""Benchmark anchor (never a test): WeightWatcher 0.7.5.5's analyze() on a safetensors file's folder, CPU, defaults
(PL fit, min_evals 10, max_evals 15000, max_N 50000). Prints the per-layer name, alpha, N and M as one JSON line
last. Needs PYTHONPATH with weightwatcher 0.7.5.5, powerlaw 1.5 and a safetensors reader (see bench/llm.ts)."""
import json
import logging
import os
import sys

import weightwatcher as ww

logging.disable(logging.WARNING)
model = sys.argv[1]
if os.path.isfile(model):
    model = os.path.dirname(model)
details = ww.WeightWatcher().analyze(model=model)
rows = [{'name': str(r['name']), 'alpha': float(r['alpha']), 'N': int(r['N']), 'M': int(r['M'])} for _, r in details.iterrows()]
print(json.dumps(rows))
