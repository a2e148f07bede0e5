/** The express 5 application: health, /v1 API behind API-key auth, the static dashboard, problem+json errors. */
import express, { type Express } from 'express';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { requireApiKey } from './auth.js';
import type { ServiceContext } from './context.js';
import { buildOpenApi } from './openapi.js';
import { HttpProblem, problemHandler } from './problem.js';
import { analysisRoutes } from './routes/analyses.js';
import { connectivityRoutes } from './routes/connectivity.js';
import { healthRoutes } from './routes/health.js';
import { hessianRoutes } from './routes/hessians.js';
import { jobRoutes } from './routes/jobs.js';
import { modelRoutes } from './routes/models.js';
import { rankingRoutes } from './routes/rankings.js';

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
  app.use((_req, res, next) => {
    res.on('finish', () => ctx.metrics.request(res.statusCode));
    next();
  });
  app.use(['/v1', '/metrics'], requireApiKey(ctx.config.apiKeys));
  app.use(healthRoutes(ctx));
  app.get('/v1/openapi.json', (_req, res) => {
    res.json(buildOpenApi());
  });
  app.use(modelRoutes(ctx));
  app.use(analysisRoutes(ctx));
  app.use(rankingRoutes(ctx));
  app.use(hessianRoutes(ctx));
  app.use(connectivityRoutes(ctx));
  app.use(jobRoutes(ctx));
  const web = webDir();
  if (web) app.use(express.static(web, { index: 'index.html', maxAge: 0 }));
  app.use((req, _res, next) => next(new HttpProblem('route-not-found', `no route for ${req.method} ${req.path}`)));
  app.use(problemHandler);
  return app;
}
