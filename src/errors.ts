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
  | 'numerical'; // NaN/Inf or a fit that cannot run

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
