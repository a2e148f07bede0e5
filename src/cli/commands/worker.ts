/** `weightscope worker`: a worker node of the distributed mode (no port; jobs from Postgres, blobs from the shared store). */
import { WeightscopeError } from '../../errors.js';
import { intFlag, parseArgsOrPrintHelp } from '../args.js';
import { untilSignal } from '../signals.js';
import { EXIT_OK } from '../types.js';

export const name = 'worker';
export const summary = 'run jobs for API nodes (WEIGHTSCOPE_DATABASE_URL, WEIGHTSCOPE_BLOB_URL, WEIGHTSCOPE_CACHE)';

const USAGE = 'weightscope worker [--concurrency N] [--data DIR]';

const HELP = `Usage: ${USAGE}
Runs jobs queued by \`weightscope serve\` nodes that share its Postgres and blob store. Opens no port.
  --concurrency N   jobs at once (default WEIGHTSCOPE_JOB_CONCURRENCY, 1); quick jobs (reading uploads, rankings) get one slot more
Environment: WEIGHTSCOPE_DATABASE_URL (postgres://…, required), WEIGHTSCOPE_BLOB_URL (file:///path or s3://bucket/prefix; unset = the data folder),
  WEIGHTSCOPE_CACHE (this worker's own cache folder, default $WEIGHTSCOPE_DATA/cache), WEIGHTSCOPE_CACHE_SIZE (50GiB),
  WEIGHTSCOPE_HEARTBEAT_SECONDS (10), WEIGHTSCOPE_JOB_ATTEMPTS (2), WEIGHTSCOPE_SHUTDOWN_GRACE (20 s: on SIGTERM, running jobs may finish this long, then are handed back)
`;

export async function run(argv: string[]): Promise<number> {
  const args = parseArgsOrPrintHelp(argv, { concurrency: { type: 'string' }, data: { type: 'string' } }, USAGE, HELP);
  if (!args) return EXIT_OK;
  const env = { ...process.env };
  if (typeof args.values.data === 'string') env.WEIGHTSCOPE_DATA = args.values.data;
  const concurrency = intFlag(args.values.concurrency, '--concurrency');
  if (concurrency !== undefined) env.WEIGHTSCOPE_JOB_CONCURRENCY = String(concurrency);
  const { loadConfig } = await import('../../service/config.js');
  const config = loadConfig(env);
  if (!config.cluster.databaseUrl)
    throw new WeightscopeError(
      'invalid-input',
      'weightscope worker needs WEIGHTSCOPE_DATABASE_URL (postgres://…): without it, `weightscope serve` runs jobs itself',
    );
  const { startClusterNode } = await import('../../service/cluster/node.js');
  const log = (l: string): void => void process.stderr.write(`${l}\n`);
  const node = await startClusterNode(config, { api: false, workers: config.concurrency, log });
  log(
    `weightscope: worker ${node.worker!.id} running up to ${config.concurrency} job(s) (${node.describe}; cache ${config.cluster.cacheDir})`,
  );
  await untilSignal(() => node.close());
  return EXIT_OK;
}
