/**
 * RFC 9457 problem details, the one place errors become HTTP. Every failure has a stable `type` (a URN per
 * failure kind) so clients can branch on it: WeightscopeError codes (bad files and options) and ServiceError codes
 * (stores, queue) map one-to-one onto types, with an HTTP status each; HttpProblem is for what only HTTP knows
 * (authentication, request framing, unknown routes).
 */
import type { NextFunction, Request, Response } from 'express';
import type { ErrorCode } from '../errors.js';
import { isWeightscopeError } from '../errors.js';
import { ServiceError, type ServiceErrorCode } from './errors.js';

export type ProblemSlug =
  | ErrorCode
  | ServiceErrorCode
  | 'validation' // request body/params/query fail the schema
  | 'malformed-json'
  | 'unsupported-media-type'
  | 'unauthorized'
  | 'forbidden'
  | 'route-not-found'
  | 'payload-too-large'
  | 'internal';

export const problemType = (slug: ProblemSlug): string => `urn:weightscope:problem:${slug}`;

const STATUS: Record<ProblemSlug, number> = {
  'invalid-input': 400,
  'not-found': 404,
  'unsupported-format': 415,
  'corrupt-file': 422,
  'unsafe-pickle': 422,
  'unsupported-dtype': 422,
  'unsupported-op': 422,
  'shape-mismatch': 422,
  'too-large': 413,
  'device-unavailable': 503,
  numerical: 422,
  'no-weight-matrices': 422,
  validation: 400,
  'malformed-json': 400,
  'unsupported-media-type': 415,
  unauthorized: 401,
  forbidden: 403,
  'path-not-allowed': 403,
  'route-not-found': 404,
  'job-not-finished': 409,
  'job-failed': 409,
  'limit-exceeded': 422,
  busy: 503,
  'forbidden-origin': 403,
  'job-not-yours': 403,
  'payload-too-large': 413,
  internal: 500,
};

const TITLE: Record<ProblemSlug, string> = {
  'invalid-input': 'Invalid input',
  'not-found': 'Not found',
  'unsupported-format': 'Unsupported checkpoint format',
  'corrupt-file': 'Corrupt or truncated file',
  'unsafe-pickle': 'Unsafe pickle refused',
  'unsupported-dtype': 'Unsupported tensor dtype',
  'unsupported-op': 'Unsupported operator',
  'shape-mismatch': 'Shape mismatch',
  'too-large': 'Too large',
  'device-unavailable': 'Device unavailable',
  numerical: 'Numerical failure',
  'no-weight-matrices': 'No weight matrices in the checkpoint',
  validation: 'Request validation failed',
  'malformed-json': 'Malformed JSON body',
  'unsupported-media-type': 'Unsupported request content type',
  unauthorized: 'Missing API key',
  forbidden: 'API key not accepted',
  'path-not-allowed': 'Path outside the import roots',
  'route-not-found': 'No such route',
  'job-not-finished': 'Job has not finished',
  'job-failed': 'Job failed',
  'limit-exceeded': 'Over a server-side limit',
  busy: 'Server busy',
  'forbidden-origin': 'Cross-site request refused',
  'job-not-yours': 'Job requested by others',
  'payload-too-large': 'Payload too large',
  internal: 'Internal server error',
};

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  [extension: string]: unknown;
}

/** Thrown by the HTTP layer for what only it knows (authentication, request validation and framing). */
export class HttpProblem extends Error {
  constructor(
    readonly slug: ProblemSlug,
    detail: string,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(detail);
  }
}

export function makeProblem(slug: ProblemSlug, detail?: string, extensions: Record<string, unknown> = {}): Problem {
  return { type: problemType(slug), title: TITLE[slug], status: STATUS[slug], ...(detail ? { detail } : {}), ...extensions };
}

export function sendProblem(res: Response, p: Problem): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.status(p.status).type('application/problem+json').send(JSON.stringify(p));
}

/** The problem for any thrown value: known kinds keep their type; anything else is a 500 without internals. */
export function toProblem(err: unknown): Problem {
  if (err instanceof HttpProblem) return makeProblem(err.slug, err.message, err.extensions);
  if (err instanceof ServiceError) return makeProblem(err.code, err.message, err.details);
  if (isWeightscopeError(err)) return makeProblem(err.code, err.message);
  const e = err as { type?: string; status?: number; message?: string } | null;
  // body-parser's errors (express.json)
  if (e?.type === 'entity.parse.failed') return makeProblem('malformed-json', e.message);
  if (e?.type === 'entity.too.large') return makeProblem('payload-too-large', e.message);
  if (e && typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    return makeProblem('validation', e.message ?? 'bad request');
  }
  return makeProblem('internal', 'an unexpected error occurred; see the server log');
}

/** The error handler, with every occurrence of the data folder in a detail shown as "<data>" (no server paths out). */
export function problemHandlerFor(dataDir: string) {
  return (err: unknown, req: Request, res: Response, next: NextFunction): void => {
    if (err instanceof Error && err.message.includes(dataDir)) err.message = err.message.split(dataDir).join('<data>');
    problemHandler(err, req, res, next);
  };
}

/** Express 5 error handler (4 arguments). */
export function problemHandler(err: unknown, req: Request, res: Response, _next: NextFunction): void {
  const p = toProblem(err);
  // A request body left unread (an upload cut off at its limit, a body sent to the wrong place) is not drained
  // without end: once the answer is out the rest is discarded, and a body still arriving a second later (time
  // enough for the client to read the answer) has its connection closed.
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  if (hasBody && !req.complete) {
    res.once('finish', () => {
      req.resume();
      setTimeout(() => {
        if (!req.complete) req.socket.destroy();
      }, 1000).unref();
    });
  }
  const retry = err instanceof ServiceError ? err.details.retryAfter : undefined;
  if (typeof retry === 'number' && !res.headersSent) res.setHeader('retry-after', String(retry));
  if (p.status >= 500) console.error(`[weightscope] ${req.method} ${req.originalUrl}:`, err);
  sendProblem(res, { ...p, instance: req.originalUrl });
}
