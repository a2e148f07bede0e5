/**
 * Every route of the service, in document order. A new job kind adds its resource here (and its kind to
 * jobs/kinds/index.ts); see docs/service.md.
 */
import type { JobResource } from '../http/job-resource.js';
import type { Json } from '../http/doc.js';
import type { Operation } from '../http/operation.js';
import { buildOpenApi } from '../openapi.js';
import { analyses } from './analyses.js';
import { attacks } from './attacks.js';
import { collapses } from './collapses.js';
import { comparisons } from './comparisons.js';
import { connectivity, repairs } from './connectivity.js';
import { datasetOperations } from './datasets.js';
import { flatness } from './flatness.js';
import { healthOperations, openApiOperation } from './health.js';
import { hessians } from './hessians.js';
import { imports } from './imports.js';
import { jobOperations } from './jobs.js';
import { modelOperations } from './models.js';
import { rankings } from './rankings.js';
import { surfaces } from './surfaces.js';
import { taxonomies } from './taxonomies.js';

export const JOB_RESOURCES: readonly JobResource[] = [
  analyses,
  rankings,
  hessians,
  comparisons,
  connectivity,
  repairs,
  imports,
  collapses,
  flatness,
  taxonomies,
  surfaces,
  attacks,
];

export const OPERATIONS: readonly Operation[] = [
  ...healthOperations,
  openApiOperation(() => apiDocument()),
  ...modelOperations,
  ...datasetOperations,
  ...JOB_RESOURCES.flatMap((r) => r.operations),
  ...jobOperations,
];

let document: Json | null = null;

/** The service's OpenAPI document (api-spec/openapi.json; `npm run openapi` writes it), built once. */
export function apiDocument(): Json {
  document ??= buildOpenApi(OPERATIONS);
  return document;
}

/** Where a finished job's result is served: its resource's `{path}/{id}`, else the job itself. */
export function resultUrl(kind: string, id: string): string {
  const r = JOB_RESOURCES.find((x) => x.kind === kind);
  return r ? `${r.path}/${id}` : `/v1/jobs/${id}`;
}
