/** Validation of request parts against zod schemas; failures become 400 'validation' problems listing each issue. */
import type { z } from 'zod';
import { HttpProblem } from './problem.js';

export function parseOr400<S extends z.ZodType>(schema: S, value: unknown, where: 'body' | 'params' | 'query'): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const errors = r.error.issues.map((i) => ({ in: where, path: i.path.join('.'), message: i.message, code: i.code }));
  throw new HttpProblem('validation', `${where}: ${errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join('; ')}`, {
    errors,
  });
}
