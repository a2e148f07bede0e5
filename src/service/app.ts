/** The express 5 application: the route list (routes/index.ts) behind API-key auth, the static dashboard, problem+json errors. */
import express, { type Express } from 'express';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { requireApiKey } from './auth.js';
import type { ServiceContext } from './context.js';
import { siteGuard } from './guard.js';
import { mountOperations } from './http/operation.js';
import { HttpProblem, problemHandlerFor } from './problem.js';
import { OPERATIONS } from './routes/index.js';

/** src/web under tsx; from dist/service the sources' web folder (it has no build step). */
function webDir(): string | null {
  for (const rel of ['../web/', '../../src/web/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(`${dir}index.html`)) return dir;
  }
  return null;
}

export function createApp(ctx: ServiceContext): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use((req, res, next) => {
    const t0 = process.hrtime.bigint();
    res.on('close', () =>
      ctx.metrics.request(
        req.method,
        typeof res.locals.route === 'string' ? res.locals.route : 'unmatched',
        res.statusCode,
        Number(process.hrtime.bigint() - t0) / 1e9,
      ),
    );
    next();
  });
  app.use(siteGuard(ctx.config));
  app.use(['/v1', '/metrics'], requireApiKey(ctx.config.apiKeys));
  app.use(mountOperations(ctx, OPERATIONS));
  const web = webDir();
  if (web) app.use(express.static(web, { index: 'index.html', maxAge: 0 }));
  app.use((req, _res, next) => next(new HttpProblem('route-not-found', `no route for ${req.method} ${req.path}`)));
  app.use(problemHandlerFor(ctx.config.dataDir));
  return app;
}
