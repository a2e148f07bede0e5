/** /healthz (the process answers), /readyz (the database answers), /metrics (Prometheus text). */
import { Router } from 'express';
import type { ServiceContext } from '../context.js';

export function healthRoutes(ctx: ServiceContext): Router {
  const r = Router();
  r.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  r.get('/readyz', (_req, res) => {
    try {
      ctx.db.prepare('SELECT 1').get();
      res.json({ status: 'ok', jobs: ctx.queue.counts() });
    } catch {
      res.status(503).json({ status: 'not-ready' });
    }
  });
  r.get('/metrics', (_req, res) => {
    res.type('text/plain; version=0.0.4').send(ctx.metrics.render(ctx.queue.counts()));
  });
  return r;
}
