/** `weightscope serve`: the HTTP service and dashboard (configuration from the environment; see README). */
import { parseArgsOrPrintHelp } from '../args.js';
import { EXIT_OK } from '../types.js';

export const name = 'serve';
export const summary = 'run the HTTP API and dashboard (PORT, HOST, WEIGHTSCOPE_DATA, WEIGHTSCOPE_API_KEYS, WEIGHTSCOPE_MAX_UPLOAD)';

const USAGE = 'weightscope serve [--port N] [--host H] [--data DIR]';

export async function run(argv: string[]): Promise<number> {
  const args = parseArgsOrPrintHelp(argv, { port: { type: 'string' }, host: { type: 'string' }, data: { type: 'string' } }, USAGE, `Usage: ${USAGE}\nEnvironment: PORT (8080), HOST (127.0.0.1; another address needs WEIGHTSCOPE_API_KEYS or WEIGHTSCOPE_ALLOW_OPEN=1), WEIGHTSCOPE_DATA (./data; one server per folder), WEIGHTSCOPE_API_KEYS (comma-separated bearer keys), WEIGHTSCOPE_MAX_UPLOAD (2GiB), WEIGHTSCOPE_JOB_CONCURRENCY (1); limits, timeouts and allowed hosts: docs/service.md\n`);
  if (!args) return EXIT_OK;
  const { values } = args;
  const env = { ...process.env };
  if (typeof values.port === 'string') env.PORT = values.port;
  if (typeof values.host === 'string') env.HOST = values.host;
  if (typeof values.data === 'string') env.WEIGHTSCOPE_DATA = values.data;
  const { startServer } = await import('../../service/server.js');
  const running = await startServer({ env });
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void running.close().then(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  return EXIT_OK;
}
