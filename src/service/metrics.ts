/**
 * Prometheus metrics with prom-client: Node's process metrics (event-loop lag, open file descriptors, heap, CPU),
 * request durations per route template and status, job durations per kind and state, jobs by state, upload bytes.
 * One registry per server, so several servers in one process (tests) keep their own counts.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { JobState } from './jobs/types.js';

type Awaitable<T> = T | Promise<T>;

export class Metrics {
  readonly registry = new Registry();
  private readonly jobDuration: Histogram<'kind' | 'state'>;
  private readonly requestDuration: Histogram<'method' | 'route' | 'status'>;
  private readonly uploadByteCounter: Counter;
  private readonly uploadCounter: Counter;

  /** `jobCounts`: the store's jobs by state (a Postgres query on an API node of the distributed mode). */
  constructor(jobCounts: () => Awaitable<Record<JobState, number>>) {
    collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    new Gauge({
      name: 'weightscope_jobs',
      help: 'Jobs in the store by state.',
      labelNames: ['state'],
      registers,
      async collect() {
        for (const [state, n] of Object.entries(await jobCounts())) this.set({ state }, n);
      },
    });
    this.jobDuration = new Histogram({
      name: 'weightscope_job_duration_seconds',
      help: 'Run time of jobs finished since start.',
      labelNames: ['kind', 'state'],
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 1800, 7200, 36_000],
      registers,
    });
    this.requestDuration = new Histogram({
      name: 'weightscope_http_request_duration_seconds',
      help: 'HTTP requests by method, route template and status (uploads and SSE streams included, until they end).',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.025, 0.1, 0.5, 2.5, 10, 60, 600],
      registers,
    });
    this.uploadByteCounter = new Counter({
      name: 'weightscope_upload_bytes_total',
      help: 'Bytes received in model and dataset uploads.',
      registers,
    });
    this.uploadCounter = new Counter({ name: 'weightscope_uploads_total', help: 'Model uploads received.', registers });
  }

  jobFinished(kind: string, state: JobState, seconds: number): void {
    this.jobDuration.observe({ kind, state }, seconds);
  }

  /** `route`: the route's template (/v1/jobs/{id}), or 'unmatched', so label values stay few. */
  request(method: string, route: string, status: number, seconds: number): void {
    this.requestDuration.observe({ method, route, status: String(status) }, seconds);
  }

  uploadBytes(n: number): void {
    this.uploadByteCounter.inc(n);
  }

  upload(): void {
    this.uploadCounter.inc();
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
