/**
 * The one way library entry points validate their options (shared by the CLI, the API and the library): a zod schema,
 * and on failure a WeightscopeError('invalid-input') that names every offending option.
 */
import type { z } from 'zod';
import { WeightscopeError, formatZodError } from '../errors.js';

/** One failed option: its path in the options object and zod's message. */
export interface OptionIssue {
  readonly path: readonly string[];
  readonly message: string;
}

/**
 * `schema.parse(input ?? {})`, with failures as `invalid <what> options: path: message; …` and the issues in
 * `details.issues` (so a caller such as the CLI can name its own flag without parsing the message).
 */
export function parseOptions<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const r = schema.safeParse(input ?? {});
  if (!r.success) {
    const issues: OptionIssue[] = r.error.issues.map((i) => ({ path: i.path.map(String), message: i.message }));
    throw new WeightscopeError('invalid-input', `invalid ${what} options: ${formatZodError(r.error)}`, { issues });
  }
  return r.data;
}

/** The issues parseOptions attached to an error, or null for any other error. */
export function optionIssues(e: unknown): readonly OptionIssue[] | null {
  if (!(e instanceof WeightscopeError) || e.code !== 'invalid-input') return null;
  const issues = e.details?.issues;
  return Array.isArray(issues) && issues.length > 0 ? (issues as OptionIssue[]) : null;
}
