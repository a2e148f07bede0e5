/**
 * Bearer API keys (WEIGHTSCOPE_API_KEYS): without a key → 401, with an unknown key → 403. Health routes stay open.
 * With no keys configured everything is open, which is why the server binds 127.0.0.1 by default.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { HttpProblem } from './problem.js';

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

export const OPEN_PATHS = new Set(['/healthz', '/readyz']);

/** Who is asking, for shared jobs (queue.cancel): the key's digest prefix, or 'open' on a keyless server. */
export function requesterOf(res: Response): string {
  return typeof res.locals.requester === 'string' ? res.locals.requester : 'open';
}

export function requireApiKey(keys: readonly string[]) {
  const digests = keys.map(digest);
  return (req: Request, res: Response, next: NextFunction): void => {
    if (digests.length === 0 || OPEN_PATHS.has(req.path)) return next();
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '');
    if (!m) {
      res.set('WWW-Authenticate', 'Bearer realm="weightscope"');
      return next(new HttpProblem('unauthorized', 'send Authorization: Bearer <key>'));
    }
    const d = digest(m[1]);
    // Compare digests in constant time, so timing does not reveal key prefixes.
    if (!digests.some((k) => timingSafeEqual(k, d))) return next(new HttpProblem('forbidden', 'the API key is not valid'));
    res.locals.requester = `key:${d.toString('hex').slice(0, 16)}`;
    next();
  };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host) || host === '::ffff:127.0.0.1';
}
