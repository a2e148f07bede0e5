/** Every job kind the service knows. A new kind: one file in this folder, one line here. */
import type { JobKind } from '../types.js';
import { analysisJob } from './analysis.js';
import { attackJob } from './attack.js';
import { collapseJob } from './collapse.js';
import { comparisonJob } from './comparison.js';
import { connectivityJob, repairJob } from './connectivity.js';
import { flatnessJob } from './flatness.js';
import { hessianJob } from './hessian.js';
import { importJob } from './import.js';
import { inspectJob } from './inspect.js';
import { rankingJob } from './ranking.js';
import { sleepJob } from './sleep.js';
import { surfaceJob } from './surface.js';
import { taxonomyJob } from './taxonomy.js';

export const JOB_KINDS: readonly JobKind[] = [
  analysisJob,
  rankingJob,
  sleepJob,
  hessianJob,
  comparisonJob,
  connectivityJob,
  repairJob,
  importJob,
  inspectJob,
  collapseJob,
  flatnessJob,
  taxonomyJob,
  surfaceJob,
  attackJob,
] as readonly JobKind[];

export function findJobKind(kind: string): JobKind | undefined {
  return JOB_KINDS.find((k) => k.kind === kind);
}
