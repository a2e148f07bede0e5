/**
 * One error type for every failure a user can cause (bad file, bad option, unsupported op).
 * `code` is stable: the service turns it into a problem+json `type`, the CLI prints `message` and exits non-zero.
 * Anything that is not a WeightscopeError is a bug (HTTP 500).
 */
export type ErrorCode =
  | 'invalid-input' // a request/CLI value that fails validation
  | 'not-found' // a path, model id, tensor or layer that does not exist
  | 'unsupported-format' // a file that is none of the formats we read
  | 'corrupt-file' // truncated, overlapping offsets, bad header, bad zip …
  | 'unsafe-pickle' // a pickle that asks for a global outside the allow-list
  | 'unsupported-dtype'
  | 'unsupported-op' // an ONNX op without a gradient rule or runtime support
  | 'shape-mismatch'
  | 'too-large' // over a configured size limit
  | 'device-unavailable' // an execution provider that is not present
  | 'numerical' // NaN/Inf or a fit that cannot run
  | 'no-weight-matrices'; // a readable file without a single weight matrix (a dataset, a tokenizer) given to analyze

export class WeightscopeError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'WeightscopeError';
    this.code = code;
    this.details = details;
  }
}

export function isWeightscopeError(e: unknown): e is WeightscopeError {
  return e instanceof WeightscopeError;
}

/** The part of a zod error that formatZodError reads (structural, so this module does not depend on zod). */
export interface ValidationIssues {
  readonly issues: readonly { readonly path: readonly PropertyKey[]; readonly message: string }[];
}

/** One line for a failed schema validation, `path: message` per problem, for a CLI error or a problem+json detail. */
export function formatZodError(e: ValidationIssues): string {
  return e.issues.map((i) => (i.path.length ? `${i.path.map(String).join('.')}: ${i.message}` : i.message)).join('; ');
}
