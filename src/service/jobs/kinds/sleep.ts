/**
 * A test-only kind (registered when WEIGHTSCOPE_DEBUG_JOBS=1): counts to `steps` with `ms` between steps, then
 * returns {value}. It exercises the queue, progress, SSE, cancellation and crash recovery without any model. With
 * `children` it is a join: it runs after them and adds their values to its own.
 */
import { z } from 'zod';
import { WeightscopeError } from '../../../errors.js';
import { hashOf } from '../hash.js';
import { BASE_SECONDS } from '../limits.js';
import { resultTextOf } from '../results.js';
import { defineJobKind } from '../types.js';

const Leaf = z.object({
  steps: z.number().int().min(1).max(1000).default(5),
  ms: z.number().int().min(0).max(60_000).default(50),
  value: z.number().default(42),
  /** Fail at the end with this message (tests the failed path). */
  fail: z.string().optional(),
  /** Same inputs share a result unless false. */
  cache: z.boolean().default(true),
  /** Its time budget in seconds (before WEIGHTSCOPE_JOB_TIME_FACTOR); default 300 + twice the sleeping. */
  budget: z.number().positive().optional(),
  /** Allocate this many MiB of small objects first (tests the job heap limit). */
  allocateMb: z.number().int().min(0).max(65_536).default(0),
});
const Payload = Leaf.extend({ children: z.array(Leaf).max(64).optional() });

export const sleepJob = defineJobKind({
  kind: 'sleep',
  payload: Payload,
  cacheKey: (p) => (p.cache ? hashOf(p) : `${hashOf(p)}:${Math.random()}`),
  limits: { seconds: (p) => p.budget ?? BASE_SECONDS + (2 * p.steps * p.ms) / 1000 },
  children: (p) => (p.children ?? []).map((c) => ({ kind: 'sleep', payload: c })),
  async run(p, ctx) {
    const hoard: { i: number }[][] = [];
    for (let mb = 0; mb < p.allocateMb; mb++) hoard.push(Array.from({ length: 32_768 }, (_, i) => ({ i })));
    for (let i = 1; i <= p.steps; i++) {
      await new Promise((r) => setTimeout(r, p.ms));
      ctx.progress(i, p.steps, `step ${i}/${p.steps}`);
    }
    if (p.fail) throw new WeightscopeError('numerical', p.fail);
    const fromChildren = await Promise.all(
      ctx.children.map(async (c) => (c.result ? (JSON.parse(await resultTextOf(ctx.dataDir, c.result)) as { value: number }).value : 0)),
    );
    return {
      value: p.value + fromChildren.reduce((a, b) => a + b, 0),
      ...(ctx.children.length ? { children: ctx.children.map((c) => c.state) } : {}),
    };
  },
});
