/**
 * The CLI as users run it: a child process under tsx, its stdout/stderr and exit code. WEIGHTSCOPE_DATA points at a
 * temporary folder of this test process (removed at exit), so the per-layer cache never lands in the repository.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const MAIN = join(ROOT, 'src', 'cli', 'main.ts');

let dataDir: string | null = null;
function testDataDir(): string {
  if (!dataDir) {
    const dir = mkdtempSync(join(tmpdir(), 'ws-cli-data-'));
    dataDir = dir;
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return dataDir;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', MAIN, ...args],
      { cwd: ROOT, maxBuffer: 1 << 26, env: { ...process.env, WEIGHTSCOPE_DATA: testDataDir(), ...env } },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
