/** `weightscope serve`: the HTTP service and dashboard (configuration from the environment; see README). */
import { parseArgsOrPrintHelp } from '../args.js';
import { untilSignal } from '../signals.js';
import { EXIT_OK } from '../types.js';

export const name = 'serve';
export const summary = 'run the HTTP API and dashboard (PORT, HOST, WEIGHTSCOPE_DATA, WEIGHTSCOPE_API_KEYS, WEIGHTSCOPE_MAX_UPLOAD)';

const USAGE = 'weightscope serve [--port N] [--host H] [--data DIR] [--no-workers]';

const HELP = `Usage: ${USAGE}
Environment: PORT (8080), HOST (127.0.0.1; another address needs WEIGHTSCOPE_API_KEYS or WEIGHTSCOPE_ALLOW_OPEN=1), WEIGHTSCOPE_DATA (./data; one server per folder),\n  WEIGHTSCOPE_API_KEYS (comma-separated bearer keys), WEIGHTSCOPE_MAX_UPLOAD (2GiB), WEIGHTSCOPE_JOB_CONCURRENCY (1); limits, timeouts and allowed hosts: docs/service.md
Distributed mode: WEIGHTSCOPE_DATABASE_URL (postgres://…; unset = embedded SQLite), WEIGHTSCOPE_BLOB_URL (file:///path or s3://bucket/prefix; unset = the data folder), WEIGHTSCOPE_CACHE, WEIGHTSCOPE_CACHE_SIZE (50GiB)
  --no-workers   an API node only: jobs run on \`weightscope worker\` nodes (needs WEIGHTSCOPE_DATABASE_URL)
`;

export async function run(argv: string[]): Promise<number> {
  const args = parseArgsOrPrintHelp(
    argv,
    { port: { type: 'string' }, host: { type: 'string' }, data: { type: 'string' }, 'no-workers': { type: 'boolean' } },
    USAGE,
    HELP,
  );
  if (!args) return EXIT_OK;
  const { values } = args;
  const env = { ...process.env };
  if (typeof values.port === 'string') env.PORT = values.port;
  if (typeof values.host === 'string') env.HOST = values.host;
  if (typeof values.data === 'string') env.WEIGHTSCOPE_DATA = values.data;
  const { startServer } = await import('../../service/server.js');
  const running = await startServer({ env, workers: values['no-workers'] !== true });
  await untilSignal(() => running.close());
  return EXIT_OK;
}
