/**
 * A job resource: `POST {path}` validates a body, turns it into the job kind's payload and queues it (202, or 200
 * for a finished job with the same inputs); `GET {path}/{id}` serves the stored result. One definition gives the
 * express routes and their OpenAPI entries (see docs/service.md, "Adding a job kind").
 */
import type { Request, Response } from 'express';
import { join } from 'node:path';
import { requesterOf } from '../auth.js';
import { RESULT_FILE } from '../jobs/results.js';
import { sendFile } from './files.js';
import type { z } from 'zod';
import type { Awaitable, ServiceContext } from '../context.js';
import type { Work } from '../jobs/limits.js';
import type { JobView } from '../jobs/rows.js';
import { IdParams } from '../schemas.js';
import { parseOr400 } from '../validate.js';
import { COMMON_ERRORS, JSON_BODY_ERRORS, jsonBody, jsonRequest, locationHeader, parametersOf, problem, ref, type Json } from './doc.js';
import type { Operation } from './operation.js';

export interface JobResourceSpec<B> {
  /** The job kind (src/service/jobs/kinds/<kind>.ts) this resource queues. */
  readonly kind: string;
  /** POST here submits; GET `{path}/{id}` is the result. */
  readonly path: string;
  /** What a result is called in the docs: 'Hessian' → "Hessian id (= its job id)". */
  readonly noun: string;
  readonly submit: {
    readonly summary: string;
    /** The 404 description (which referenced ids may be unknown). */
    readonly notFound: string;
    /** The schema the body is validated with. */
    readonly body: z.ZodType<B>;
    /** Its component id in the document, and the schema documented under it (default: `body`). */
    readonly bodyId: string;
    readonly bodyDoc?: z.ZodType;
    /** Further component schemas the documented body refers to. */
    readonly components?: readonly (readonly [string, z.ZodType])[];
    /** JSON body size limit (default 64kb). */
    readonly limit?: string;
  };
  /**
   * The job payload for a validated body (ids, never paths), and the size of its inputs (for its time limit): looks
   * up stored models and datasets (unknown ids → not-found).
   */
  submission(ctx: ServiceContext, body: B): Awaitable<{ payload: unknown; work: Work }>;
  readonly result: {
    readonly summary: string;
    /** The 200 response's content map. */
    readonly content: Json;
    /** Query parameters of the result (documented; `send` parses them). */
    readonly query?: z.ZodObject;
    /** Serves the result; default: the stored JSON as is. */
    send?(ctx: ServiceContext, req: Request, res: Response, id: string): unknown;
  };
  /** Further routes under the resource (e.g. `{path}/{id}/model`). */
  readonly extra?: readonly Operation[];
}

export interface JobResource {
  readonly kind: string;
  readonly path: string;
  readonly operations: readonly Operation[];
}

/** The answer to a job submission: 202 (queued) or 200 (a finished job with the same inputs), Location = the job. */
export function sendJob(res: Response, job: JobView, cached: boolean): void {
  res
    .status(cached ? 200 : 202)
    .location(`/v1/jobs/${job.id}`)
    .json({ job });
}

export const idParams = (description: string): Json[] => parametersOf(IdParams, 'path', { id: description });

/** The documented 202/200 answers of a job submission. */
export function jobAccepted(): Json {
  const headers = locationHeader('/v1/jobs/{id}');
  return {
    '202': {
      description: 'Queued (Location: the job; its `result` is the result URL once succeeded)',
      headers,
      content: jsonBody(ref('JobEnvelope')),
    },
    '200': { description: 'A finished job with the same inputs exists (cached)', headers, content: jsonBody(ref('JobEnvelope')) },
  };
}

export function jobResource<B>(spec: JobResourceSpec<B>): JobResource {
  const { submit, result } = spec;
  const post: Operation = {
    method: 'post',
    path: spec.path,
    jsonLimit: submit.limit ?? '64kb',
    components: [...(submit.components ?? []), [submit.bodyId, submit.bodyDoc ?? submit.body]],
    doc: {
      summary: submit.summary,
      requestBody: jsonRequest(submit.bodyId),
      responses: {
        ...jobAccepted(),
        '404': problem(submit.notFound),
        ...JSON_BODY_ERRORS,
        '422': problem('An option over a server-side limit (`limit-exceeded`, naming the limit and WEIGHTSCOPE_LIMITS)'),
      },
    },
    async handle(ctx, req, res) {
      const body = parseOr400(submit.body, req.body, 'body');
      const { payload, work } = await spec.submission(ctx, body);
      const { job, cached } = await ctx.queue.submit(spec.kind, payload, work, requesterOf(res));
      sendJob(res, job, cached);
    },
  };
  const get: Operation = {
    method: 'get',
    path: `${spec.path}/{id}`,
    doc: {
      summary: result.summary,
      parameters: [...idParams(`${spec.noun} id (= its job id)`), ...(result.query ? parametersOf(result.query, 'query') : [])],
      responses: {
        '200': { description: 'result', content: result.content },
        '404': problem('Unknown id (or a job of another kind)'),
        '409': problem('Not finished (`job-not-finished`), or failed/cancelled (`job-failed`); `job` holds the Job'),
        ...COMMON_ERRORS,
      },
    },
    async handle(ctx, req, res) {
      const { id } = parseOr400(IdParams, req.params, 'params');
      if (result.send) return result.send(ctx, req, res, id);
      const stored = await ctx.queue.result(id, spec.kind);
      if ('dir' in stored) return sendFile(res, await ctx.jobFile(id, join(stored.dir, RESULT_FILE)), 'application/json');
      res.type('application/json').send(stored.text);
    },
  };
  return { kind: spec.kind, path: spec.path, operations: [post, get, ...(spec.extra ?? [])] };
}
