/** POST/GET/DELETE /v1/models and POST /v1/models/import. */
import busboy from 'busboy';
import { Router, json, type Request } from 'express';
import { createReadStream, existsSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { WeightscopeError } from '../../errors.js';
import type { ServiceContext } from '../context.js';
import { HttpProblem } from '../problem.js';
import { IdParams, ImportRequest } from '../schemas.js';
import { downloadFromHub } from '../store/hub.js';
import type { NamedPart } from '../store/models.js';
import { parseOr400 } from '../validate.js';

/** Multipart: every file part is one file of the model (a sharded checkpoint); a `name` field names the model. */
function receiveMultipart(req: Request, ctx: ServiceContext): Promise<{ parts: NamedPart[]; name?: string }> {
  return new Promise((resolvePromise, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: req.headers, limits: { files: 256, fields: 16, fieldSize: 4096 } });
    } catch (e) {
      reject(new WeightscopeError('invalid-input', `bad multipart request: ${(e as Error).message}`));
      return;
    }
    const parts: NamedPart[] = [];
    const pending: Promise<void>[] = [];
    const budget = { limit: ctx.config.maxUpload, used: 0 };
    let failure: unknown = null;
    let name: string | undefined;
    bb.on('file', (_field, stream, info) => {
      if (failure) {
        stream.resume();
        return;
      }
      pending.push(
        ctx.blobs.ingest(stream, budget, (n) => (ctx.metrics.uploadBytes += n)).then(
          (part) => void parts.push({ name: info.filename || null, part }),
          (e: unknown) => {
            failure ??= e;
            stream.resume();
          },
        ),
      );
    });
    bb.on('field', (field, value) => {
      if (field === 'name' && value) name = value.slice(0, 200);
    });
    const finish = async (): Promise<void> => {
      await Promise.allSettled(pending);
      if (failure) {
        await ctx.blobs.discard(parts.map((p) => p.part));
        reject(failure);
      } else resolvePromise({ parts, ...(name ? { name } : {}) });
    };
    bb.on('close', () => void finish());
    bb.on('error', (e: Error) => {
      failure ??= new WeightscopeError('invalid-input', `bad multipart body: ${e.message}`);
      req.unpipe(bb);
      req.resume();
      void finish();
    });
    req.pipe(bb);
  });
}

function isInside(child: string, root: string): boolean {
  const rel = relative(root, child);
  return rel === '' || (!rel.startsWith('..') && !rel.startsWith(sep) && rel !== '..');
}

async function realRoots(roots: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const r of roots) out.push(await realpath(r).catch(() => resolve(r)));
  return out;
}

async function importModel(ctx: ServiceContext, body: unknown) {
  const reqBody = parseOr400(ImportRequest, body, 'body');
  const { resolveModelPath } = await import('../../io/hf.js');
  const roots = await realRoots(ctx.config.importRoots);
  const checkInside = async (p: string): Promise<string> => {
    const real = await realpath(p).catch(() => {
      throw new WeightscopeError('not-found', `no such file or folder: ${p}`);
    });
    if (!roots.some((r) => isInside(real, r))) {
      throw new HttpProblem('path-not-allowed', `${p} is outside the import roots (${ctx.config.importRoots.join(', ')})`);
    }
    return real;
  };
  let resolved;
  let source: string;
  let display: string;
  if ('path' in reqBody) {
    const real = await checkInside(resolve(reqBody.path));
    resolved = await resolveModelPath(real);
    source = `import:${reqBody.path}`;
    display = reqBody.path.split(/[\\/]/).filter(Boolean).pop() ?? reqBody.path;
  } else {
    source = `hf:${reqBody.hf}@${reqBody.revision ?? 'main'}`;
    display = reqBody.hf;
    try {
      resolved = await resolveModelPath(reqBody.hf, {
        cacheDirs: ctx.config.hfCacheDirs,
        modelsDir: ctx.config.modelsDir,
        ...(reqBody.revision ? { revision: reqBody.revision } : {}),
      });
    } catch (e) {
      if (!(e instanceof WeightscopeError && e.code === 'not-found' && ctx.config.hfDownload)) throw e;
      // Not cached locally, and downloads are enabled.
      const parts = await downloadFromHub(ctx.config.hfDownload, reqBody.hf, reqBody.revision ?? 'main', ctx.blobs, { limit: ctx.config.maxUpload, used: 0 });
      return ctx.models.add(parts, source, display);
    }
  }
  const base = resolved.dir ?? dirname(resolved.files[0]);
  const files = [...resolved.files];
  if (resolved.indexFile) files.push(resolved.indexFile);
  if (resolved.dir && existsSync(join(resolved.dir, 'config.json'))) files.push(join(resolved.dir, 'config.json'));
  const parts: NamedPart[] = [];
  try {
    for (const f of files) {
      const real = await checkInside(f);
      const part = await ctx.blobs.ingestFile(real, () => createReadStream(real));
      parts.push({ name: relative(base, f).split(sep).join('/'), part });
    }
  } catch (e) {
    await ctx.blobs.discard(parts.map((p) => p.part));
    throw e;
  }
  // A single weight file keeps only its own name; with config/index alongside, the folder is the model.
  return ctx.models.add(parts, source, display);
}

export function modelRoutes(ctx: ServiceContext): Router {
  const r = Router();

  r.post('/v1/models', async (req, res) => {
    // A declared length over the limit is refused before a byte is stored or read; multipart framing gets slack.
    const declared = Number(req.headers['content-length']);
    const slack = req.is('multipart/form-data') ? 64 * 1024 : 0;
    if (Number.isFinite(declared) && declared > ctx.config.maxUpload + slack) {
      res.setHeader('connection', 'close');
      throw new WeightscopeError('too-large', `upload of ${declared} bytes is over the ${ctx.config.maxUpload}-byte limit (WEIGHTSCOPE_MAX_UPLOAD)`);
    }
    let received: { parts: NamedPart[]; name?: string };
    if (req.is('multipart/form-data')) received = await receiveMultipart(req, ctx);
    else {
      const q = typeof req.query.name === 'string' ? req.query.name : null;
      const part = await ctx.blobs.ingest(req, { limit: ctx.config.maxUpload, used: 0 }, (n) => (ctx.metrics.uploadBytes += n));
      received = { parts: [{ name: q, part }] };
    }
    ctx.metrics.uploads++;
    const { model, created } = await ctx.models.add(received.parts, 'upload', received.name);
    res.status(created ? 201 : 200).location(`/v1/models/${model.id}`).json(model);
  });

  r.post('/v1/models/import', json({ limit: '64kb' }), async (req, res) => {
    const { model, created } = await importModel(ctx, req.body);
    res.status(created ? 201 : 200).location(`/v1/models/${model.id}`).json(model);
  });

  r.get('/v1/models', (_req, res) => {
    res.json({ models: ctx.models.list() });
  });

  r.get('/v1/models/:id', (req, res) => {
    const { id } = parseOr400(IdParams, req.params, 'params');
    res.json(ctx.models.require(id));
  });

  r.delete('/v1/models/:id', async (req, res) => {
    const { id } = parseOr400(IdParams, req.params, 'params');
    await ctx.models.delete(id);
    res.status(204).end();
  });

  return r;
}
