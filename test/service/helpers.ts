/** A real service on an ephemeral port with a temp WEIGHTSCOPE_DATA, in-process or as a child process. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, type EmbeddedContext, type RunningServer } from '../../src/service/server.js';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));

export function tempDataDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'weightscope-svc-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** An embedded-mode server (its context is the embedded one: SQLite `db`, the queue…). */
export async function startTestServer(
  env: Record<string, string> = {},
  dataDir?: string,
): Promise<RunningServer & { context: EmbeddedContext; dataDir: string; cleanup(): Promise<void> }> {
  const t = dataDir ? { dir: dataDir, cleanup: () => undefined } : tempDataDir();
  const s = await startServer({
    env: {
      PORT: '0',
      HOST: '127.0.0.1',
      WEIGHTSCOPE_DATA: t.dir,
      WEIGHTSCOPE_MODELS_DIR: join(t.dir, 'no-models'),
      HF_HUB_CACHE: join(t.dir, 'no-hf'),
      ...env,
    },
    log: () => undefined,
  });
  return Object.assign(s, {
    context: s.context as EmbeddedContext,
    dataDir: t.dir,
    cleanup: async () => {
      await s.close();
      t.cleanup();
    },
  });
}

/** `weightscope serve` as a separate process (for kill -9); resolves once it listens. */
export async function spawnServer(env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const { child, match } = await spawnCli(['serve'], { PORT: '0', HOST: '127.0.0.1', ...env }, /serving (http:\/\/\S+)/);
  return { child, url: match[1] };
}

/**
 * `weightscope <args>` as a separate process; resolves once its stderr matches `ready` (within 60 s). Its stderr is
 * kept in `log()` for failure messages.
 */
export async function spawnCli(
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
): Promise<{ child: ChildProcess; match: RegExpExecArray; log(): string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), ...args], {
    cwd: REPO,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`weightscope ${args.join(' ')} did not start: ${err}`)), 60_000);
    const check = (): void => {
      const m = ready.exec(err);
      if (m) {
        clearTimeout(timer);
        child.stderr!.off('data', check);
        resolve(m);
      }
    };
    child.stderr!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`weightscope ${args.join(' ')} exited with ${code}: ${err}`));
    });
  });
  return { child, match, log: () => err };
}

/** Polls a job until it is terminal. */
export async function waitJob(
  base: string,
  id: string,
  headers: Record<string, string> = {},
  timeoutMs = 120_000,
): Promise<{ state: string; result: string | null; error: { code: string; message: string } | null }> {
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
  const r = await fetch(
    `${base}${path}`,
    raw
      ? { method: 'POST', body: body as Uint8Array, headers: { 'content-type': 'application/octet-stream' } }
      : { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } },
  );
  return { status: r.status, body: (await r.json()) as Json };
}

/** Several files of `dir` → one model (multipart), each under its name in the folder. */
export async function postFolder(
  base: string,
  dir: string,
  names: readonly string[],
  name: string,
): Promise<{ status: number; body: Json }> {
  const form = new FormData();
  form.append('name', name);
  for (const n of names) form.append('files', new Blob([readFileSync(join(dir, n))]), n);
  const r = await fetch(`${base}/v1/models`, { method: 'POST', body: form });
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
