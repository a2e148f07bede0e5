/** Streams a stored file as a response; a read error can only cut the response short, never reach the process. */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { Response } from 'express';
import { WeightscopeError } from '../../errors.js';

export async function sendFile(res: Response, path: string, type: string, headers: Record<string, string> = {}): Promise<void> {
  const st = await stat(path).catch(() => null);
  if (!st?.isFile()) throw new WeightscopeError('not-found', 'the stored file of this result is missing');
  res.type(type).setHeader('content-length', String(st.size));
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  await pipeline(createReadStream(path), res).catch(() => res.destroy());
}
