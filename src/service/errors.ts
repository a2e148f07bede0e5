/**
 * Failures the service's stores and queue report, in their own words: no HTTP in here. One middleware
 * (problem.ts) maps each code to a problem+json type and status, next to WeightscopeError's codes.
 */
export type ServiceErrorCode =
  | 'job-not-finished' // the result of a queued or running job was asked for
  | 'job-failed' // the result of a failed or cancelled job was asked for
  | 'path-not-allowed' // an import path outside the allow-listed roots
  | 'limit-exceeded' // a request parameter over a server-side cap (names the cap and its setting)
  | 'busy' // too many connections, streams or queued jobs; retry later
  | 'forbidden-origin' // a cross-site or rebinding request to a keyless server
  | 'job-not-yours'; // a DELETE of a shared job by a key that did not request it

export class ServiceError extends Error {
  constructor(
    readonly code: ServiceErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ServiceError';
  }
}
