/**
 * GET `{path}/{id}/model?format=onnx|safetensors`: the model file a job wrote and named in its result's `files`
 * (a repair's repaired model, a surface's best interior point). One definition for every kind that exports a model.
 */
import { WeightscopeError } from '../../errors.js';
import { COMMON_ERRORS, parametersOf, problem } from './doc.js';
import { sendFile } from './files.js';
import { idParams } from './job-resource.js';
import type { Operation } from './operation.js';
import { IdParams, ModelFormatQuery } from '../schemas.js';
import { parseOr400 } from '../validate.js';

export interface ModelDownloadSpec {
  /** The job kind whose result names the files. */
  readonly kind: string;
  /** The resource's path, e.g. `/v1/repairs`. */
  readonly path: string;
  /** 'Repair' → "Repair id (= its job id)". */
  readonly noun: string;
  /** What the model is, for the summary: 'the repaired model (the point at the chosen t)'. */
  readonly what: string;
  /** The attachment's base name: `repaired` → repaired.onnx. */
  readonly filename: string;
}

export function modelDownload(spec: ModelDownloadSpec): Operation {
  return {
    method: 'get',
    path: `${spec.path}/{id}/model`,
    doc: {
      summary: `Download ${spec.what}`,
      parameters: [...idParams(`${spec.noun} id (= its job id)`), ...parametersOf(ModelFormatQuery, 'query')],
      responses: {
        '200': { description: `the model file (attachment ${spec.filename}.onnx | ${spec.filename}.safetensors)`, content: { 'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } } },
        '404': problem('Unknown id, or no model of that format stored'),
        '409': problem('Not finished, failed or cancelled'),
        ...COMMON_ERRORS,
      },
    },
    async handle(ctx, req, res) {
      const { id } = parseOr400(IdParams, req.params, 'params');
      const { format } = parseOr400(ModelFormatQuery, req.query, 'query');
      const result = JSON.parse(await ctx.queue.resultText(id, spec.kind)) as { files?: Record<string, string> };
      const rel = result.files?.[format];
      if (!rel) throw new WeightscopeError('not-found', `${spec.kind} ${id} has no ${format} model`);
      const file = await ctx.jobFile(id, rel);
      if (!file) throw new WeightscopeError('not-found', `the ${format} model of ${spec.kind} ${id} is no longer stored`);
      await sendFile(res, file, 'application/octet-stream', { 'content-disposition': `attachment; filename="${spec.filename}.${format}"` });
    },
  };
}
