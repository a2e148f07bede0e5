/**
 * The GPU check's one table (bench/gpu/run.sh's last step): reads the results folder the parts wrote — NAME.json
 * (the part's JSON output), NAME.status ({rc, seconds, limit}), NAME.err, vec/NAME.{grad,hv}.safetensors, env.json —
 * and prints times side by side with ratios, the GPU-vs-CPU agreement observed, and a note for every part that
 * failed, timed out or was skipped. Writes table.txt and summary.json beside the results.
 *
 *   node bench/gpu/table.js RESULTS_DIR
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openSafetensors } from '../../src/io/safetensors.js';
import { SHAPES, analysisFlops, llamaTensors } from './llama-folder.js';

type Json = Record<string, unknown>;

const count = (shape: (typeof SHAPES)[string]) => llamaTensors(shape).reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);

export interface Part {
  name: string;
  json: Json | null;
  status: { rc: number; seconds: number; limit: number } | null;
  /** Last non-empty stderr line (for failures). */
  err: string;
}

function readPart(dir: string, name: string): Part {
  const read = (ext: string) => (existsSync(join(dir, name + ext)) ? readFileSync(join(dir, name + ext), 'utf8') : '');
  let json: Json | null = null;
  // The whole output is one JSON document (analyze's is pretty-printed), or log lines then one JSON line.
  const text = read('.json');
  try {
    json = JSON.parse(text) as Json;
  } catch {
    json = null;
  }
  for (const line of json ? [] : text.split('\n').reverse()) {
    try {
      const v = JSON.parse(line) as unknown;
      if (v && typeof v === 'object') {
        json = v as Json;
        break;
      }
    } catch {
      // not JSON
    }
  }
  let status: Part['status'] = null;
  try {
    status = JSON.parse(read('.status')) as Part['status'];
  } catch {
    status = null;
  }
  const errLines = read('.err')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^Warning: |^ - While|^\s*at /.test(l));
  return { name, json, status, err: errLines.at(-1) ?? '' };
}

/** Why a part has no result, or null when it ran (rc 124/137 = timeout, as `timeout` reports it). */
export function partProblem(p: Part): string | null {
  if (!p.status) return 'skipped (time box or an earlier step)';
  if (p.status.rc === 124 || p.status.rc === 137)
    return `timed out after ${p.status.limit} s${p.json ? ' (its partial results are shown)' : ''}`;
  if (p.status.rc !== 0) return `exit ${p.status.rc}${p.err ? `: ${p.err.slice(0, 240)}` : ''}`;
  if (!p.json) return 'ran but printed no JSON';
  return null;
}

/** A number the part printed — also from a part its limit cut short (what it measured before is valid). */
const num = (p: Part, key: string): number | null => {
  const v = p.json?.[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
};
const ms = (p: Part, key: string): string => {
  const m = num(p, `${key}_ms`),
    b = num(p, `${key}_best_ms`);
  if (m === null) return cellProblem(p);
  return b === null ? fmt(m) : `${fmt(m)} (${fmt(b)})`;
};
function cellProblem(p: Part): string {
  const why = partProblem(p);
  if (why === null) return '—';
  return why.startsWith('timed out') ? 'timeout' : why.startsWith('skipped') ? 'skipped' : 'failed';
}
function fmt(x: number): string {
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  return x.toFixed(2);
}
const ratio = (a: number | null, b: number | null) => (a !== null && b !== null && b > 0 ? a / b : null);

/** Relative L2 distance of two parameter-keyed safetensors files (null when either is missing). */
export async function relL2Files(a: string, b: string): Promise<number | null> {
  if (!existsSync(a) || !existsSync(b)) return null;
  const ra = await openSafetensors(a),
    rb = await openSafetensors(b);
  try {
    let num2 = 0,
      den = 0;
    for (const t of rb.tensors) {
      const x = await ra.readFloat64(t.name),
        y = await rb.readFloat64(t.name);
      for (let i = 0; i < y.length; i++) {
        num2 += (x[i] - y[i]) ** 2;
        den += y[i] ** 2;
      }
    }
    return Math.sqrt(num2 / den);
  } finally {
    await ra.close();
    await rb.close();
  }
}

const sci = (x: number | null) => (x === null ? 'n/a' : x.toExponential(1));

function row(cells: string[], widths: number[]): string {
  return cells
    .map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
    .join('  ')
    .trimEnd();
}

export async function buildTable(dir: string): Promise<{ text: string; summary: Json }> {
  const P = (n: string) => readPart(dir, n);
  const env = (existsSync(join(dir, 'env.json')) ? JSON.parse(readFileSync(join(dir, 'env.json'), 'utf8')) : {}) as Record<string, string>;
  const adapter = P('adapter');
  const out: string[] = [];
  const summary: Json = { env };
  out.push(
    `weightscope GPU check — GPU: ${env.gpu || 'unknown'}; CPU: ${env.cpu || 'unknown'}; PyTorch ${env.torch || 'n/a'}; ${env.date || ''}`.trim(),
  );
  const vk = adapter.json?.vulkan;
  const vkText = Array.isArray(vk)
    ? vk.map((d: Json) => `${d.name} (${d.type}, Vulkan ${d.api})`).join(', ')
    : String(vk ?? adapter.err ?? 'not probed');
  out.push(`WebGPU adapter — Vulkan: ${vkText}; onnxruntime WebGPU EP: ${adapter.json?.webgpu ?? (partProblem(adapter) || 'n/a')}`);
  if (env.vulkan_setup) out.push(`Vulkan setup: ${env.vulkan_setup}`);
  out.push('');

  const W = [40, 18, 18, 18, 14, 24];
  out.push(row(['ms per call: median (best)', 'webgpu', 'cpu', 'torch-cuda', 'webgpu/torch', 'webgpu vs cpu (rel. L2)'], W));
  const checks: Json = {};
  for (const [key, label] of [
    ['cnn', 'fmnist CNN, batch 1000'],
    ['gpt2s', 'GPT-2-small-shaped LM, 8×128'],
  ] as const) {
    const g = P(`${key}-webgpu`),
      c = P(`${key}-cpu`),
      t = P(`${key}-torch`);
    for (const call of ['grad', 'hvp'] as const) {
      const diff = await relL2Files(
        join(dir, 'vec', `${key}-webgpu.${call === 'grad' ? 'grad' : 'hv'}.safetensors`),
        join(dir, 'vec', `${key}-cpu.${call === 'grad' ? 'grad' : 'hv'}.safetensors`),
      );
      const r = ratio(num(g, `${call}_ms`), num(t, `${call}_ms`));
      checks[`${key}_${call}_rel_l2`] = diff;
      checks[`${key}_${call}_webgpu_over_torch`] = r;
      out.push(
        row(
          [
            `${label}: ${call === 'grad' ? 'gradient' : 'Hv'}`,
            ms(g, call),
            ms(c, call),
            ms(t, call),
            r === null ? 'n/a' : r.toFixed(2),
            sci(diff),
          ],
          W,
        ),
      );
    }
    const losses = [g, c, t].map((p) => num(p, 'loss'));
    const ref = losses[1] ?? losses[0];
    if (ref !== null && losses[2] !== null) checks[`${key}_loss_ours_minus_torch`] = ref - losses[2];
    const s = (p: Part, k: string) => (num(p, k) === null ? 'n/a' : `${fmt(num(p, k)! / 1000)} s`);
    const loss = (x: number | null) => (x === null ? 'n/a' : x.toPrecision(7));
    out.push(
      `    first grad / first Hv call (graphs, session, shaders): webgpu ${s(g, 'first_grad_ms')} / ${s(g, 'first_hvp_ms')}, ` +
        `cpu ${s(c, 'first_grad_ms')} / ${s(c, 'first_hvp_ms')}; loss ours ${loss(ref)} vs torch ${loss(losses[2])}`,
    );
  }
  const gpt2Hv = checks.gpt2s_hvp_webgpu_over_torch as number | null;
  out.push(
    `    goal: GPT-2-small-shaped Hv on WebGPU ≤ 2× PyTorch CUDA: ${gpt2Hv === null ? 'not measured' : gpt2Hv <= 2 ? `met (${gpt2Hv.toFixed(2)}×)` : `missed (${gpt2Hv.toFixed(2)}×)`}`,
  );
  out.push('');

  out.push(row(['seconds', 'webgpu', 'cpu', 'torch-cuda', 'webgpu/torch', 'webgpu vs cpu'], W));
  const lg = P('lanczos-webgpu'),
    lc = P('lanczos-cpu');
  const eg = lg.json?.top_eigenvalues as number[] | undefined,
    ec = lc.json?.top_eigenvalues as number[] | undefined;
  let eigDiff: number | null = null;
  if (partProblem(lg) === null && partProblem(lc) === null && eg && ec && eg.length === ec.length) {
    eigDiff = Math.max(...eg.map((v, i) => Math.abs(v - ec[i]) / Math.abs(ec[i])));
  }
  checks.lanczos_max_rel_diff = eigDiff;
  const sec = (p: Part, key: string) => (num(p, key) === null ? cellProblem(p) : fmt(num(p, key)!));
  out.push(
    row(
      [
        'gpt2-tiny Hessian top-3 (Lanczos)',
        sec(lg, 'seconds'),
        sec(lc, 'seconds'),
        '—',
        '—',
        eigDiff === null ? 'n/a' : `${sci(eigDiff)} ${eigDiff <= 1e-3 ? '≤ 1e-3 ✓' : '> 1e-3 ✗'}`,
      ],
      W,
    ),
  );
  if (eg && ec)
    out.push(
      `    top-3: webgpu [${eg.map((v) => v.toFixed(4)).join(', ')}], cpu [${ec.map((v) => v.toFixed(4)).join(', ')}] (PyTorch reference 27.1820, 17.9774, 17.6902)`,
    );
  const cg = P('curve-webgpu'),
    cc = P('curve-cpu'),
    ct = P('curve-torch');
  const cr = ratio(num(cg, 'seconds_per_epoch'), num(ct, 'seconds_per_epoch'));
  const lossDiff =
    num(cg, 'last_loss') !== null && num(cc, 'last_loss') !== null ? Math.abs(num(cg, 'last_loss')! - num(cc, 'last_loss')!) : null;
  checks.curve_webgpu_over_torch = cr;
  out.push(
    row(
      [
        'fmnist-backdoor curve-training epoch',
        sec(cg, 'seconds_per_epoch'),
        sec(cc, 'seconds_per_epoch'),
        sec(ct, 'seconds_per_epoch'),
        cr === null ? 'n/a' : cr.toFixed(2),
        lossDiff === null ? 'n/a' : `|Δ epoch loss| ${sci(lossDiff)}`,
      ],
      W,
    ),
  );
  out.push('');

  out.push(row(['analyze (whole process), seconds', 'cuda', 'cpu', 'read floor', 'cpu/cuda', 'cuda vs cpu (max |Δα|)'], W));
  const ag = P('analyze-cuda'),
    ac = P('analyze-cpu'),
    rd = P('read-llama');
  const wall = (p: Part) => (partProblem(p) === null && p.status ? p.status.seconds : null);
  const layersOf = (p: Part) =>
    partProblem(p) === null ? (p.json?.layers as { name: string; alpha: number | null }[] | undefined) : undefined;
  const la = layersOf(ag),
    lb = layersOf(ac);
  let alphaDiff: number | null = null;
  if (la && lb && la.length === lb.length && la.length > 0) {
    alphaDiff = 0;
    for (let i = 0; i < la.length; i++) {
      const a = la[i].alpha,
        b = lb[i].alpha;
      if (la[i].name !== lb[i].name) alphaDiff = Infinity;
      else if (a === null || b === null) alphaDiff = a === b ? alphaDiff : Infinity;
      else alphaDiff = Math.max(alphaDiff, Math.abs(a - b));
    }
  }
  checks.analyze_max_alpha_diff = alphaDiff;
  const tg = wall(ag),
    tc = wall(ac);
  out.push(
    row(
      [
        `TinyLlama-1.1B-shaped (${la?.length ?? '?'} layers)`,
        tg === null ? cellProblem(ag) : fmt(tg),
        tc === null ? cellProblem(ac) : fmt(tc),
        sec(rd, 'seconds'),
        ratio(tc, tg) === null ? 'n/a' : ratio(tc, tg)!.toFixed(2),
        alphaDiff === null ? 'n/a' : `${sci(alphaDiff)} ${alphaDiff <= 1e-6 ? '≤ 1e-6 ✓' : '> 1e-6 ✗'}`,
      ],
      W,
    ),
  );
  const flopRatio = analysisFlops(SHAPES['llama2-7b']) / analysisFlops(SHAPES['tinyllama-1.1b']);
  const a7 = P('analyze7b-cuda');
  const t7 = wall(a7);
  const est = tg === null ? null : tg * flopRatio;
  checks.llama7b_cuda_seconds = t7;
  checks.llama7b_cuda_estimate_seconds = est;
  // Reading and decoding scale with the parameter count, not the flops.
  const paramRatio = count(SHAPES['llama2-7b']) / count(SHAPES['tinyllama-1.1b']);
  const read7 = num(rd, 'seconds') === null ? null : num(rd, 'seconds')! * paramRatio;
  checks.llama7b_read_estimate_seconds = read7;
  out.push(
    row(
      [
        'Llama-2-7B-shaped',
        t7 !== null ? fmt(t7) : est !== null ? `~${fmt(est)} est.` : 'n/a',
        '—',
        read7 === null ? 'n/a' : `~${fmt(read7)} est.`,
        '—',
        '—',
      ],
      W,
    ),
  );
  out.push(
    `    7B: ${t7 !== null ? `measured ${fmt(t7)} s` : `not run (${partProblem(a7)})`}; estimate from the 1.1B run × flop ratio ${flopRatio.toFixed(2)} (Σ 2NM² + 4/3·M³): ${est === null ? 'n/a' : `${fmt(est)} s`}; read floor × parameter ratio ${paramRatio.toFixed(2)}; goal ≤ 60 s on one H100`,
  );
  out.push('');

  const notes: string[] = [];
  for (const name of ['auto', 'cuda-ep']) {
    const p = P(name);
    const what = name === 'auto' ? '--device auto' : '--device cuda (onnxruntime CUDA EP)';
    if (p.status)
      notes.push(
        `${what}: ${p.status.rc === 0 ? `ran${p.json?.device ? ` on ${String(p.json.device)}` : ''}` : `exit ${p.status.rc}`}${p.err ? ` — ${p.err.slice(0, 200)}` : ''}`,
      );
  }
  const all = [
    'adapter',
    'gen-gpt2s',
    'cnn-webgpu',
    'cnn-cpu',
    'cnn-torch',
    'gpt2s-webgpu',
    'gpt2s-cpu',
    'gpt2s-torch',
    'lanczos-webgpu',
    'lanczos-cpu',
    'curve-webgpu',
    'curve-cpu',
    'curve-torch',
    'gen-llama',
    'analyze-cuda',
    'analyze-cpu',
    'read-llama',
    'gen-llama7b',
    'analyze7b-cuda',
  ];
  for (const n of all) {
    const why = partProblem(P(n));
    if (why) notes.push(`${n}: ${why}`);
  }
  if (notes.length) out.push('notes:', ...notes.map((n) => `  ${n}`));
  summary.checks = checks;
  return { text: out.join('\n') + '\n', summary };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: table.js RESULTS_DIR');
  const { text, summary } = await buildTable(dir);
  writeFileSync(join(dir, 'table.txt'), text);
  writeFileSync(join(dir, 'summary.json'), JSON.stringify(summary, null, 1) + '\n');
  process.stdout.write(text);
}
