/** Prometheus text exposition (version 0.0.4): jobs by state, job durations, upload bytes. */
import type { JobState } from './jobs/types.js';

const BUCKETS = [0.1, 0.5, 1, 5, 15, 60, 300, 1800, 7200];

interface Histogram { buckets: number[]; sum: number; count: number }

export class Metrics {
  private readonly durations = new Map<string, Histogram>(); // key: kind\0state
  uploadBytes = 0;
  uploads = 0;
  private readonly requests = new Map<string, number>(); // key: status class

  jobFinished(kind: string, state: JobState, seconds: number): void {
    const key = `${kind}\0${state}`;
    let h = this.durations.get(key);
    if (!h) this.durations.set(key, (h = { buckets: BUCKETS.map(() => 0), sum: 0, count: 0 }));
    BUCKETS.forEach((b, i) => { if (seconds <= b) h.buckets[i]++; });
    h.sum += seconds;
    h.count++;
  }

  request(status: number): void {
    const k = `${Math.floor(status / 100)}xx`;
    this.requests.set(k, (this.requests.get(k) ?? 0) + 1);
  }

  render(jobsByState: Record<JobState, number>): string {
    const L: string[] = [];
    L.push('# HELP weightscope_jobs Jobs in the store by state.', '# TYPE weightscope_jobs gauge');
    for (const [s, n] of Object.entries(jobsByState)) L.push(`weightscope_jobs{state="${s}"} ${n}`);
    L.push('# HELP weightscope_job_duration_seconds Run time of jobs finished since start.', '# TYPE weightscope_job_duration_seconds histogram');
    for (const [key, h] of this.durations) {
      const [kind, state] = key.split('\0');
      const lab = `kind="${kind}",state="${state}"`;
      BUCKETS.forEach((b, i) => L.push(`weightscope_job_duration_seconds_bucket{${lab},le="${b}"} ${h.buckets[i]}`));
      L.push(`weightscope_job_duration_seconds_bucket{${lab},le="+Inf"} ${h.count}`);
      L.push(`weightscope_job_duration_seconds_sum{${lab}} ${h.sum}`, `weightscope_job_duration_seconds_count{${lab}} ${h.count}`);
    }
    L.push('# HELP weightscope_upload_bytes_total Bytes received in model uploads.', '# TYPE weightscope_upload_bytes_total counter');
    L.push(`weightscope_upload_bytes_total ${this.uploadBytes}`);
    L.push('# HELP weightscope_uploads_total Model uploads received.', '# TYPE weightscope_uploads_total counter');
    L.push(`weightscope_uploads_total ${this.uploads}`);
    L.push('# HELP weightscope_http_responses_total HTTP responses by status class.', '# TYPE weightscope_http_responses_total counter');
    for (const [k, n] of this.requests) L.push(`weightscope_http_responses_total{code="${k}"} ${n}`);
    return L.join('\n') + '\n';
  }
}
