/**
 * GET `{path}/{id}/model?format=zip|onnx|safetensors`: the model a job wrote and named in its result's `files`
 * (jobs/kinds/job-model.ts: a repair's repaired model, a surface's best interior point) — an ONNX model file by file,
 * a Hugging Face folder as a ZIP of it (or its weights alone). One definition for every kind that exports a model.
 */
import { WeightscopeError } from '../../errors.js';
import { COMMON_ERRORS, parametersOf, problem } from './doc.js';
import { sendFile } from './files.js';
import { sendZip, type ZipEntry } from './zip.js';
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
        '200': {
          description:
            `the model: a Hugging Face folder as a ZIP of ${spec.filename}-<id>/ (config.json, model.safetensors, tokenizer …; the default for those), ` +
            `or one file (attachment ${spec.filename}.onnx | ${spec.filename}.safetensors)`,
          content: {
            'application/zip': { schema: { type: 'string', contentMediaType: 'application/zip' } },
            'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } },
          },
        },
        '404': problem('Unknown id, or no model of that format stored'),
        '413': problem('A ZIP over 4 GiB (download the files one by one)'),
        '409': problem('Not finished, failed or cancelled'),
        ...COMMON_ERRORS,
      },
    },
    async handle(ctx, req, res) {
      const { id } = parseOr400(IdParams, req.params, 'params');
      const query = parseOr400(ModelFormatQuery, req.query, 'query');
      const result = JSON.parse(await ctx.queue.resultText(id, spec.kind)) as {
        files?: Record<string, string>;
        modelFormat?: 'hf' | 'onnx';
      };
      const files = result.files ?? {};
      // Results written before Hugging Face folders were exported have no modelFormat: they are ONNX.
      const hf = result.modelFormat === 'hf';
      const format = query.format ?? (hf ? 'zip' : 'onnx');
      const base = `${spec.filename}-${id.slice(0, 8)}`;
      if (format === 'zip') {
        if (!hf)
          throw new WeightscopeError(
            'not-found',
            `${spec.kind} ${id} wrote an ONNX model: download it with format=onnx (and format=safetensors)`,
          );
        const entries: ZipEntry[] = [];
        for (const [name, rel] of Object.entries(files)) {
          const file = await ctx.jobFile(id, rel);
          if (!file) throw new WeightscopeError('not-found', `${name} of ${spec.kind} ${id} is no longer stored`);
          entries.push({ name: `${base}/${name}`, file });
        }
        await sendZip(res, entries, `${base}.zip`);
        return;
      }
      if (hf && format === 'onnx')
        throw new WeightscopeError(
          'not-found',
          `${spec.kind} ${id} wrote a Hugging Face folder: download it with format=zip (or its weights with format=safetensors)`,
        );
      const rel = hf ? files['model.safetensors'] : files[format];
      if (!rel) throw new WeightscopeError('not-found', `${spec.kind} ${id} has no ${format} model`);
      const file = await ctx.jobFile(id, rel);
      if (!file) throw new WeightscopeError('not-found', `the ${format} model of ${spec.kind} ${id} is no longer stored`);
      await sendFile(res, file, 'application/octet-stream', { 'content-disposition': `attachment; filename="${spec.filename}.${format}"` });
    },
  };
}
