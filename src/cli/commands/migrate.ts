/** `weightscope migrate --to postgres://…`: move an embedded data folder into the distributed stores. */
import { WeightscopeError } from '../../errors.js';
import { parseArgsOrPrintHelp } from '../args.js';
import { EXIT_OK } from '../types.js';

export const name = 'migrate';
export const summary = 'move an embedded catalog and its blobs into Postgres and a shared blob store';

const USAGE = 'weightscope migrate --to postgres://… [--blobs file:///path|s3://bucket/prefix] [--data DIR]';

const HELP = `Usage: ${USAGE}
Copies the embedded catalog of DIR (default WEIGHTSCOPE_DATA, ./data) into the Postgres database --to, and its blobs
into the shared store --blobs (default WEIGHTSCOPE_BLOB_URL; unset = leave them in DIR, which the nodes then share).
Unfinished jobs are queued again. Stop the embedded server first; running it twice is safe.
`;

export async function run(argv: string[]): Promise<number> {
  const args = parseArgsOrPrintHelp(argv, { to: { type: 'string' }, blobs: { type: 'string' }, data: { type: 'string' } }, USAGE, HELP);
  if (!args) return EXIT_OK;
  const { values } = args;
  if (typeof values.to !== 'string')
    throw new WeightscopeError('invalid-input', `--to postgres://… is required (usage: ${USAGE})`, { usage: true });
  const env: Record<string, string | undefined> = { ...process.env, WEIGHTSCOPE_DATABASE_URL: values.to };
  if (typeof values.data === 'string') env.WEIGHTSCOPE_DATA = values.data;
  if (typeof values.blobs === 'string') env.WEIGHTSCOPE_BLOB_URL = values.blobs;
  const { loadConfig } = await import('../../service/config.js');
  const config = loadConfig(env);
  const { openSharedBlobs } = await import('../../service/store/shared-blobs.js');
  const { migrateEmbedded } = await import('../../service/cluster/migrate.js');
  const { blobs, describe } = openSharedBlobs(config.cluster.blobUrl ?? undefined, config.dataDir, env);
  const log = (l: string): void => void process.stderr.write(`${l}\n`);
  const r = await migrateEmbedded({ dataDir: config.dataDir, databaseUrl: values.to, blobs, maxAttempts: config.jobAttempts }, log);
  process.stdout.write(
    `migrated ${r.models} model(s), ${r.datasets} dataset(s), ${r.jobs} job(s) (${r.requeued} queued again); ${r.blobs} blob(s), ${(r.copiedBytes / 2 ** 20).toFixed(1)} MiB copied to ${describe}\n`,
  );
  return EXIT_OK;
}
