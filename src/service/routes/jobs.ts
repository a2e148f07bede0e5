/** GET /v1/jobs/{id}, its SSE stream /events, DELETE (cancel); POST /v1/debug/jobs when debug jobs are on. */
import { Router, json } from 'express';
import type { ServiceContext } from '../context.js';
import { isTerminal } from '../jobs/types.js';
import { DebugJobRequest, IdParams } from '../schemas.js';
import { parseOr400 } from '../validate.js';
import { sendJob } from './analyses.js';

const PING_MS = 15_000;

export function jobRoutes(ctx: ServiceContext): Router {
  const r = Router();

  r.get('/v1/jobs/:id', (req, res) => {
    const { id } = parseOr400(IdParams, req.params, 'params');
    res.json(ctx.queue.require(id));
  });

  r.delete('/v1/jobs/:id', async (req, res) => {
    const { id } = parseOr400(IdParams, req.params, 'params');
    res.json(await ctx.queue.cancel(id));
  });

  /** Server-sent events: `state` (now, and on every change), `progress`, then `end` with the terminal job. */
  r.get('/v1/jobs/:id/events', (req, res) => {
    const { id } = parseOr400(IdParams, req.params, 'params');
    const job = ctx.queue.require(id);
    res.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    let seq = 0;
    const send = (event: string, data: unknown): void => {
      res.write(`id: ${++seq}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    send('state', job);
    if (isTerminal(job.state)) {
      send('end', job);
      res.end();
      return;
    }
    const ping = setInterval(() => res.write(': ping\n\n'), PING_MS);
    let unsubscribe = (): void => undefined;
    const stop = (): void => {
      clearInterval(ping);
      unsubscribe();
    };
    unsubscribe = ctx.queue.subscribe(id, (e) => {
      send(e.event, e.job);
      if (isTerminal(e.job.state)) {
        send('end', e.job);
        stop();
        res.end();
      }
    });
    req.on('close', stop);
  });

  if (ctx.config.debugJobs) {
    r.post('/v1/debug/jobs', json(), (req, res) => {
      const body = parseOr400(DebugJobRequest, req.body ?? {}, 'body');
      const { job, cached } = ctx.queue.submit('sleep', body);
      sendJob(res, job, cached);
    });
  }

  return r;
}
