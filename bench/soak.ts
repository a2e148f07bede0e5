/**
 * The soak benchmark (issue 16): `node --import tsx bench/soak.ts [--minutes 10] [--clients 2]`. Drives a real
 * server over loopback with uploads (good and hostile), analyses, rankings and SSE subscribers for the given time,
 * then kill -9 and restart (bench/soak-lib.ts). Prints the figures: requests by status, 5xx other than stated limits,
 * /healthz p50/p99 (goal p99 < 100 ms), RSS and open fds (start, max, end), temp files left, jobs by state, and after
 * the restart: uploads missing, results changed, jobs not terminal (goal: none). Run it once; it loads the machine.
 */
import { parseArgs } from 'node:util';
import { runSoak } from './soak-lib.js';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '10' }, clients: { type: 'string', default: '2' } } });
const r = await runSoak({ seconds: Number(values.minutes) * 60, clients: Number(values.clients), log: (l) => console.error(l) });
console.log(JSON.stringify(r, null, 2));
const ok =
  r.unexpected5xx.length === 0 &&
  r.healthz.p99 < 100 &&
  r.afterRestart.uploadsMissing.length === 0 &&
  r.afterRestart.resultsChanged.length === 0 &&
  r.afterRestart.jobsNotTerminal.length === 0 &&
  r.tmpFilesAtEnd === 0;
console.log(ok ? 'soak: all goals met' : 'soak: a goal was missed (see above)');
process.exit(ok ? 0 : 1);
