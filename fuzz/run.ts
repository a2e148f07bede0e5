/**
 * `npm run fuzz [-- --execs N --seed S --target NAME …]`: every reader against mutations of the fixtures (see
 * fuzz/targets.ts); prints one line per target and writes fuzz/out/report.json; failing inputs go to fuzz/out/crashes/.
 * Exit 1 on any crash, hang (> 5 s) or out-of-memory (heap limit 1 GiB).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runTarget, TARGET_NAMES, type TargetReport } from './campaign.js';

const { values } = parseArgs({
  options: {
    execs: { type: 'string', default: '10000' },
    seed: { type: 'string', default: '1' },
    target: { type: 'string', multiple: true },
    'hang-ms': { type: 'string', default: '5000' },
    'heap-mb': { type: 'string', default: '1024' },
  },
});
const out = new URL('./out/', import.meta.url).pathname;
mkdirSync(out, { recursive: true });
const targets = values.target?.length ? values.target : TARGET_NAMES;
for (const t of targets) if (!TARGET_NAMES.includes(t)) throw new Error(`unknown target ${t} (have: ${TARGET_NAMES.join(', ')})`);
const reports: TargetReport[] = [];
for (const t of targets) {
  const r = await runTarget(
    t,
    {
      execs: Number(values.execs),
      seed: Number(values.seed),
      hangMs: Number(values['hang-ms']),
      heapMb: Number(values['heap-mb']),
      crashDir: `${out}crashes`,
    },
    (done) => {
      if (process.stderr.isTTY) process.stderr.write(`\r${t}: ${done}`);
    },
  );
  if (process.stderr.isTTY) process.stderr.write('\r');
  reports.push(r);
  const errs = Object.entries(r.errors)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  console.log(
    `${t.padEnd(20)} ${String(r.execs).padStart(7)} inputs in ${r.seconds.toFixed(1).padStart(6)} s (${(r.execs / r.seconds).toFixed(0)}/s), read ${r.ok}, refused: ${errs || 'none'}; peak heap ${r.peakHeapMb.toFixed(0)} MiB; failures ${r.failures.length}${r.stalls ? ` (${r.stalls} machine stall(s) re-run clean)` : ''}`,
  );
  for (const f of r.failures) console.log(`  ${f.kind} at input ${f.index} (${f.file}): ${f.message.split('\n')[0].slice(0, 200)}`);
}
writeFileSync(`${out}report.json`, JSON.stringify({ seed: Number(values.seed), reports }, null, 2));
process.exit(reports.some((r) => r.failures.length) ? 1 : 0);
