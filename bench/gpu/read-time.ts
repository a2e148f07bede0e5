/**
 * The floor under `analyze` on any device: reading every tensor of a checkpoint as float64 and checking its values
 * (what analyze() does on its main thread before a spectrum is computed), timed. Prints one JSON line.
 *
 *   node bench/gpu/read-time.js PATH
 */
import { openCheckpoint } from '../../src/io/open.js';
import { valueProblem } from '../../src/report/analyze.js';

const path = process.argv[2];
if (!path) throw new Error('usage: read-time.js PATH');
const t0 = performance.now();
const { reader } = await openCheckpoint(path);
let values = 0;
let checkMs = 0;
try {
  for (const t of reader.tensors) {
    const w = await reader.readFloat64(t.name);
    const t1 = performance.now();
    valueProblem(w);
    checkMs += performance.now() - t1;
    values += w.length;
  }
} finally {
  await reader.close();
}
console.log(JSON.stringify({ case: 'read', path, values, seconds: (performance.now() - t0) / 1000, check_seconds: checkMs / 1000 }));
