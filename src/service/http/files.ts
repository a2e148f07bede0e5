/** Streams a stored file as a response; a read error can only cut the response short, never reach the process. */
import { pipeline } from 'node:stream/promises';
import type { Response } from 'express';
import { WeightscopeError } from '../../errors.js';
import type { JobFile } from '../context.js';

/** `file` as ServiceContext.jobFile found it (null: missing → 404). */
export async function sendFile(res: Response, file: JobFile | null, type: string, headers: Record<string, string> = {}): Promise<void> {
  if (!file) throw new WeightscopeError('not-found', 'the stored file of this result is missing');
  const body = await file.open();
  res.type(type).setHeader('content-length', String(file.size));
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  await pipeline(body, res).catch(() => res.destroy());
}
