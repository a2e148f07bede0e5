/** A real service on an ephemeral port with a temp WEIGHTSCOPE_DATA, in-process or as a child process. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, type RunningServer } from '../../src/service/server.js';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));

export function tempDataDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'weightscope-svc-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function startTestServer(env: Record<string, string> = {}, dataDir?: string): Promise<RunningServer & { dataDir: string; cleanup(): Promise<void> }> {
  const t = dataDir ? { dir: dataDir, cleanup: () => undefined } : tempDataDir();
  const s = await startServer({
    env: { PORT: '0', HOST: '127.0.0.1', WEIGHTSCOPE_DATA: t.dir, WEIGHTSCOPE_MODELS_DIR: join(t.dir, 'no-models'), HF_HUB_CACHE: join(t.dir, 'no-hf'), ...env },
    log: () => undefined,
  });
  return Object.assign(s, {
    dataDir: t.dir,
    cleanup: async () => {
      await s.close();
      t.cleanup();
    },
  });
}

/** `weightscope serve` as a separate process (for kill -9); resolves once it listens. */
export async function spawnServer(env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), 'serve'], {
    cwd: REPO,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${err}`)), 30_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /serving (http:\/\/\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}: ${err}`));
    });
  });
  return { child, url };
}

/** Polls a job until it is terminal. */
export async function waitJob(base: string, id: string, headers: Record<string, string> = {}, timeoutMs = 120_000): Promise<{ state: string; result: string | null; error: { code: string; message: string } | null }> {
  const t0 = Date.now();
  for (;;) {
    const r = await fetch(`${base}/v1/jobs/${id}`, { headers });
    const j = (await r.json()) as { state: string; result: string | null; error: { code: string; message: string } | null };
    if (['succeeded', 'failed', 'cancelled'].includes(j.state)) return j;
    if (Date.now() - t0 > timeoutMs) throw new Error(`job ${id} still ${j.state} after ${timeoutMs} ms`);
    await new Promise((r2) => setTimeout(r2, 100));
  }
}

export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** POST a JSON body, or (raw) file bytes; the status and the parsed JSON answer. */
export async function post(base: string, path: string, body: Uint8Array | unknown, raw = false): Promise<{ status: number; body: Json }> {
  const r = await fetch(`${base}${path}`, raw
    ? { method: 'POST', body: body as Uint8Array, headers: { 'content-type': 'application/octet-stream' } }
    : { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  return { status: r.status, body: (await r.json()) as Json };
}

/**
 * Waits until the job runs and has reported progress (with a message matching `stage`, when given) or has already
 * ended; generous for loaded machines.
 */
export async function runningWithProgress(base: string, id: string, stage?: RegExp, timeoutMs = 120_000): Promise<Json> {
  for (const t0 = Date.now(); Date.now() - t0 < timeoutMs; ) {
    const j = (await (await fetch(`${base}/v1/jobs/${id}`)).json()) as Json;
    if (j.state === 'running' && j.progress > 0 && (!stage || stage.test(j.message))) return j;
    if (['succeeded', 'failed', 'cancelled'].includes(j.state)) return j;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`job ${id} never made progress`);
}
