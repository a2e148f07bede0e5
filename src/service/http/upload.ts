/**
 * Request bodies that are files: a raw body (`?name=FILE`) or multipart parts, each streamed into the blob store's
 * tmp folder (hashed on the fly) against one byte budget. Nothing here decides what the files are.
 */
import busboy from 'busboy';
import type { Request } from 'express';
import { WeightscopeError } from '../../errors.js';
import type { ServiceContext } from '../context.js';
import type { NamedPart } from '../store/models.js';

export interface ReceivedFiles {
  parts: NamedPart[];
  /** The multipart `name` field, if sent. */
  name?: string;
}

/** A declared length over the limit is refused before a byte is read; multipart framing gets slack. */
export function refuseDeclaredOverLimit(req: Request, limit: number): void {
  const declared = Number(req.headers['content-length']);
  const slack = req.is('multipart/form-data') ? 64 * 1024 : 0;
  if (Number.isFinite(declared) && declared > limit + slack) {
    req.res?.setHeader('connection', 'close');
    throw new WeightscopeError('too-large', `upload of ${declared} bytes is over the ${limit}-byte limit (WEIGHTSCOPE_MAX_UPLOAD)`);
  }
}

/** Every file of the request, up to `maxFiles` (more are read and dropped); one of WEIGHTSCOPE_MAX_UPLOADS at a time. */
export async function receiveFiles(req: Request, ctx: ServiceContext, maxFiles: number): Promise<ReceivedFiles> {
  const release = ctx.slots.uploads.take();
  try {
    return await receive(req, ctx, maxFiles);
  } finally {
    release();
  }
}

async function receive(req: Request, ctx: ServiceContext, maxFiles: number): Promise<ReceivedFiles> {
  const budget = { limit: ctx.config.maxUpload, used: 0 };
  const count = (n: number): void => {
    ctx.metrics.uploadBytes(n);
  };
  if (!req.is('multipart/form-data')) {
    const part = await ctx.blobs.ingest(req, budget, count);
    return { parts: [{ name: typeof req.query.name === 'string' ? req.query.name : null, part }] };
  }
  return new Promise((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: req.headers, limits: { files: maxFiles, fields: 16, fieldSize: 4096 } });
    } catch (e) {
      reject(new WeightscopeError('invalid-input', `bad multipart request: ${(e as Error).message}`));
      return;
    }
    const parts: NamedPart[] = [];
    const pending: Promise<void>[] = [];
    let failure: unknown = null;
    let name: string | undefined;
    let finished = false;
    /** Resolves or rejects once; a failure stops reading the request (the answer closes the connection). */
    const finish = async (): Promise<void> => {
      if (finished) return;
      finished = true;
      if (failure) {
        req.unpipe(bb);
        req.pause();
      }
      await Promise.allSettled(pending);
      if (failure) {
        await ctx.blobs.discard(parts.map((p) => p.part));
        reject(failure);
      } else resolve({ parts, ...(name ? { name } : {}) });
    };
    bb.on('file', (_field, stream, info) => {
      if (failure) {
        stream.resume();
        return;
      }
      pending.push(
        ctx.blobs.ingest(stream, budget, count).then(
          (part) => void parts.push({ name: info.filename || null, part }),
          (e: unknown) => {
            failure ??= e;
            void finish();
          },
        ),
      );
    });
    bb.on('field', (field, value) => {
      if (field === 'name' && value) name = value.slice(0, 200);
    });
    bb.on('close', () => void finish());
    bb.on('error', (e: Error) => {
      failure ??= new WeightscopeError('invalid-input', `bad multipart body: ${e.message}`);
      void finish();
    });
    req.pipe(bb);
  });
}
