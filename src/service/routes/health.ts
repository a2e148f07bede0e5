/** /healthz (the process answers), /readyz (the database answers), /metrics (Prometheus text), the OpenAPI document. */
import { COMMON_ERRORS, jsonBody, ref, type Json } from '../http/doc.js';
import type { Operation } from '../http/operation.js';
import { Health, ProblemSchema } from '../schemas.js';

const ok = { '200': { description: 'ok', content: jsonBody(ref('Health')) } };
const keyErrors = { '401': COMMON_ERRORS['401'], '403': COMMON_ERRORS['403'] };

export const healthOperations: readonly Operation[] = [
  {
    method: 'get',
    path: '/healthz',
    components: [
      ['Health', Health],
      ['Problem', ProblemSchema],
    ],
    doc: { summary: 'Liveness', security: [], responses: ok },
    handle(_ctx, _req, res) {
      res.json({ status: 'ok' });
    },
  },
  {
    method: 'get',
    path: '/readyz',
    doc: {
      summary: 'Readiness (database answers)',
      security: [],
      responses: { ...ok, '503': { description: 'not ready', content: jsonBody(ref('Health')) } },
    },
    async handle(ctx, _req, res) {
      try {
        await ctx.ping();
        res.json({ status: 'ok', jobs: await ctx.queue.counts() });
      } catch {
        res.status(503).json({ status: 'not-ready' });
      }
    },
  },
  {
    method: 'get',
    path: '/metrics',
    doc: {
      summary: 'Prometheus metrics',
      responses: {
        '200': { description: 'text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } },
        ...keyErrors,
      },
    },
    async handle(ctx, _req, res) {
      res.setHeader('content-type', ctx.metrics.contentType);
      res.send(await ctx.metrics.render());
    },
  },
];

/** GET /v1/openapi.json: `document` builds it from the whole route list (routes/index.ts), which this list is part of. */
export function openApiOperation(document: () => Json): Operation {
  return {
    method: 'get',
    path: '/v1/openapi.json',
    doc: {
      summary: 'This document',
      responses: { '200': { description: 'OpenAPI 3.1', content: jsonBody({ type: 'object' }) }, ...keyErrors },
    },
    handle(_ctx, _req, res) {
      res.json(document());
    },
  };
}
