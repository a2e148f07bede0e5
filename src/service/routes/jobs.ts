/** GET /v1/jobs/{id}, its SSE stream /events, DELETE (cancel); POST /v1/debug/jobs when debug jobs are on. */
import { BUSY, COMMON_ERRORS, jsonBody, problem, ref } from '../http/doc.js';
import { idParams, sendJob } from '../http/job-resource.js';
import type { Operation } from '../http/operation.js';
import type { JobEvent } from '../jobs/rows.js';
import { requesterOf } from '../auth.js';
import type { JobView } from '../jobs/queue.js';
import { isTerminal } from '../jobs/types.js';
import { DebugJobRequest, IdParams, Job, JobEnvelope, JobErrorSchema, JobId } from '../schemas.js';
import { parseOr400 } from '../validate.js';

const PING_MS = 15_000;

export const jobOperations: readonly Operation[] = [
  {
    method: 'get',
    path: '/v1/jobs/{id}',
    components: [
      ['JobId', JobId],
      ['JobError', JobErrorSchema],
      ['Job', Job],
      ['JobEnvelope', JobEnvelope],
    ],
    doc: {
      summary: 'Job state, progress, result URL, error',
      parameters: idParams('Job id'),
      responses: { '200': { description: 'job', content: jsonBody(ref('Job')) }, '404': problem('Unknown id'), ...COMMON_ERRORS },
    },
    async handle(ctx, req, res) {
      const { id } = parseOr400(IdParams, req.params, 'params');
      res.json(await ctx.queue.require(id));
    },
  },
  {
    method: 'delete',
    path: '/v1/jobs/{id}',
    doc: {
      summary:
        "Withdraw your request for the job; the last request's withdrawal cancels it (it stops at its next step). Finished jobs are returned unchanged",
      parameters: idParams('Job id'),
      responses: {
        '200': { description: 'job', content: jsonBody(ref('Job')) },
        '404': problem('Unknown id'),
        ...COMMON_ERRORS,
        '403': problem('API key not accepted, or the job was requested only by other keys (`job-not-yours`)'),
      },
    },
    async handle(ctx, req, res) {
      const { id } = parseOr400(IdParams, req.params, 'params');
      res.json(await ctx.queue.cancel(id, requesterOf(res)));
    },
  },
  {
    method: 'get',
    path: '/v1/jobs/{id}/events',
    doc: {
      summary:
        'Server-sent events: `state`, `progress`, then `end`; each `data` is the Job and each `id` its updated_at, so a client reconnecting with Last-Event-ID is sent the state only if it changed',
      parameters: idParams('Job id'),
      responses: {
        '200': { description: 'event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } },
        '404': problem('Unknown id'),
        ...COMMON_ERRORS,
        '503': BUSY,
      },
    },
    /** `state` (now, and on every change), `progress`, then `end` with the terminal job. */
    async handle(ctx, req, res) {
      const { id } = parseOr400(IdParams, req.params, 'params');
      const job = await ctx.queue.require(id);
      const release = ctx.slots.streams.take();
      res.on('close', release);
      res.writeHead(200, {
        'Content-Type': 'text/event-stream',
        'Cache-Control': 'no-cache',
        Connection: 'keep-alive',
        'X-Accel-Buffering': 'no',
      });
      res.flushHeaders();
      const send = (event: string, data: JobView): void => {
        res.write(`id: ${data.updated_at}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      };
      res.write('retry: 3000\n\n');
      // A client that reconnects after seeing this very state (Last-Event-ID) is not sent it again.
      if (req.headers['last-event-id'] !== String(job.updated_at) || isTerminal(job.state)) send('state', job);
      if (isTerminal(job.state)) {
        send('end', job);
        res.end();
        return;
      }
      const ping = setInterval(() => res.write(': ping\n\n'), PING_MS);
      let unsubscribe = (): void => undefined;
      let ended = false;
      const stop = (): void => {
        ended = true;
        clearInterval(ping);
        unsubscribe();
      };
      const onEvent = (e: JobEvent): void => {
        if (ended) return;
        send(e.event, e.job);
        if (isTerminal(e.job.state)) {
          send('end', e.job);
          stop();
          res.end();
        }
      };
      unsubscribe = ctx.queue.subscribe(id, onEvent);
      req.on('close', stop);
      // With the distributed queue, the job may have finished on another node between the read and the subscription.
      const again = await ctx.queue.get(id);
      if (again && isTerminal(again.state)) onEvent({ event: 'state', job: again });
    },
  },
  {
    method: 'post',
    path: '/v1/debug/jobs',
    jsonLimit: '16kb',
    onlyIf: (config) => config.debugJobs,
    doc: {},
    async handle(ctx, req, res) {
      const body = parseOr400(DebugJobRequest, req.body ?? {}, 'body');
      const { job, cached } = await ctx.queue.submit('sleep', body, undefined, requesterOf(res));
      sendJob(res, job, cached);
    },
  },
];
