/** POST /v1/imports (an import as a job, always) and GET /v1/imports/{id}: the stored model, id included. */
import { jsonBody, ref } from '../http/doc.js';
import { jobResource } from '../http/job-resource.js';
import { ImportRequest, ImportResult } from '../schemas.js';
import { planImport } from '../store/import.js';

export const imports = jobResource({
  kind: 'import',
  path: '/v1/imports',
  noun: 'Import',
  submit: {
    summary:
      'Import a model as a job (a local folder or file under an import root, or a hub id): progress in bytes, cancellable; the result is the stored model',
    notFound: 'No such path or model',
    body: ImportRequest,
    bodyId: 'ImportRequest',
    components: [['ImportResult', ImportResult]],
  },
  async submission(ctx, body) {
    // Checked now (roots, symlinks, what exists), so a bad path is a 403/404 here rather than a failed job.
    const plan = await planImport(ctx.config, body);
    return { payload: body, work: { bytes: plan.kind === 'local' ? plan.bytes : 0, parameters: 0, samples: 0 } };
  },
  result: { summary: 'The imported model', content: jsonBody(ref('ImportResult')) },
});
