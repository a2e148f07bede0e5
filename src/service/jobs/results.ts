/**
 * Where a finished job's result lives. Small results are JSON text in the jobs table; a result over the inline
 * limit (WEIGHTSCOPE_INLINE_RESULT; an analysis keeping a 7B model's eigenvalues is 10–20 MB) is written by the job's
 * own thread to $DATA/results/<job id>/result.json, with the kind's artifacts (named views such as the report
 * without eigenvalues, or one layer's ESD) beside it, so the server's thread streams files and never parses them.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** A stored result: inline text, or a folder (relative to the data folder) holding result.json and artifacts. */
export type StoredResult = { readonly text: string } | { readonly dir: string };

export const RESULT_FILE = 'result.json';

/** The folder of a job's file result, relative to the data folder. */
export const resultDir = (jobId: string): string => join('results', jobId);

/** In the job's thread: the result stored inline, or as files when its text is over `inlineLimit` bytes. */
export function storeResult(
  dataDir: string,
  jobId: string,
  result: unknown,
  inlineLimit: number,
  artifacts?: (result: never) => Record<string, unknown>,
): StoredResult {
  const text = JSON.stringify(result);
  if (Buffer.byteLength(text) <= inlineLimit) return { text };
  const dir = resultDir(jobId);
  const write = (name: string, content: string): void => {
    const p = join(dataDir, dir, name);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content);
  };
  for (const [name, value] of Object.entries(artifacts?.(result as never) ?? {})) {
    write(name, typeof value === 'string' ? value : JSON.stringify(value));
  }
  // Last, so a result.json that exists is complete with its artifacts.
  write(RESULT_FILE, text);
  return { dir };
}

/** The whole result as text (inline, or read from its file): for small results and job threads. */
export async function resultTextOf(dataDir: string, stored: StoredResult): Promise<string> {
  return 'text' in stored ? stored.text : readFile(join(dataDir, stored.dir, RESULT_FILE), 'utf8');
}
