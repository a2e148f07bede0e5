/**
 * One route = one Operation: its method, its OpenAPI path template, its OpenAPI operation object and its handler,
 * together. app.ts mounts the list on express and openapi.ts documents the same list, so the two cannot drift.
 */
import { json, Router, type NextFunction, type Request, type Response } from 'express';
import type { z } from 'zod';
import type { ServiceConfig } from '../config.js';
import type { ServiceContext } from '../context.js';
import { HttpProblem } from '../problem.js';
import type { Json } from './doc.js';

export type Method = 'get' | 'post' | 'delete';

export interface Operation {
  readonly method: Method;
  /** OpenAPI path template, e.g. `/v1/jobs/{id}` (express gets `/v1/jobs/:id`). */
  readonly path: string;
  /** The OpenAPI operation object (summary, parameters, requestBody, responses). */
  readonly doc: Json;
  /** A JSON request body up to this size ('64kb'); other content types get 415. */
  readonly jsonLimit?: string;
  /** Schemas this operation's document refers to by id (`#/components/schemas/<id>`). */
  readonly components?: readonly (readonly [string, z.ZodType])[];
  /** Registered only when this holds (test-only routes); such routes are left out of the document. */
  readonly onlyIf?: (config: ServiceConfig) => boolean;
  handle(ctx: ServiceContext, req: Request, res: Response): unknown;
}

export const expressPath = (template: string): string => template.replace(/\{(\w+)\}/g, ':$1');

/** express.json, but a body that is not declared as JSON is a 415 rather than an empty object. */
export function jsonOnly(limit: string) {
  const parse = json({ limit });
  return (req: Request, res: Response, next: NextFunction): void => {
    const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
    if (hasBody && !req.is('application/json')) {
      next(
        new HttpProblem(
          'unsupported-media-type',
          `send the body as Content-Type: application/json (got ${req.headers['content-type'] ?? 'none'})`,
        ),
      );
      return;
    }
    parse(req, res, next);
  };
}

export function mountOperations(ctx: ServiceContext, ops: readonly Operation[]): Router {
  const r = Router();
  for (const op of ops) {
    if (op.onlyIf && !op.onlyIf(ctx.config)) continue;
    // The route's template labels its request metrics (set first, so a refused body is counted under it too).
    const label = (_req: Request, res: Response, next: NextFunction): void => {
      res.locals.route = op.path;
      next();
    };
    const handler = (req: Request, res: Response): unknown => op.handle(ctx, req, res);
    if (op.jsonLimit) r[op.method](expressPath(op.path), label, jsonOnly(op.jsonLimit), handler);
    else r[op.method](expressPath(op.path), label, handler);
  }
  return r;
}

/** The OpenAPI `paths` object of the documented operations, in list order. */
export function documentPaths(ops: readonly Operation[]): Record<string, Json> {
  const paths: Record<string, Json> = {};
  for (const op of ops) {
    if (op.onlyIf) continue;
    const item = (paths[op.path] ??= {});
    if (item[op.method]) throw new Error(`${op.method.toUpperCase()} ${op.path} is defined twice`);
    item[op.method] = op.doc;
  }
  return paths;
}
