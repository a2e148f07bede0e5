/**
 * An import as a job: a large local folder (over WEIGHTSCOPE_IMPORT_INLINE) or a hub download, copied and hashed
 * into the blob store with byte progress, cancellable between chunks. It runs on the server's thread (I/O-bound,
 * and it writes to the stores); its result is the stored model (id included) and whether it was new.
 */
import { z } from 'zod';
import { BASE_SECONDS } from '../limits.js';
import { JobStopped } from '../stop.js';
import { defineJobKind } from '../types.js';

export const ImportPayload = z.union([
  z.object({ path: z.string().min(1) }).strict(),
  z.object({ hf: z.string().min(1), revision: z.string().min(1).optional() }).strict(),
]);
export type ImportPayload = z.infer<typeof ImportPayload>;

/** Budget assumption: 20 MB/s of copying and hashing (a download's budget assumes the same of the network). */
const IMPORT_BYTES_PER_S = 20e6;
/** A download's size is unknown when it is queued: this long, scaled by WEIGHTSCOPE_JOB_TIME_FACTOR. */
const DOWNLOAD_SECONDS = 12 * 3600;

export const importJob = defineJobKind({
  kind: 'import',
  thread: 'server',
  payload: ImportPayload,
  limits: { seconds: (p, work) => ('hf' in p && work.bytes === 0 ? DOWNLOAD_SECONDS : BASE_SECONDS + work.bytes / IMPORT_BYTES_PER_S) },
  async run(p, ctx) {
    const { planImport, executeImport } = await import('../../store/import.js');
    const services = ctx.services as import('../../store/import.js').ImportServices | undefined;
    if (!services?.models) throw new Error('the import kind runs on the server thread, with the stores');
    const plan = await planImport(services.config, p);
    const { model, created } = await executeImport(services, plan, {
      // Called from stream handlers, so they must not throw: a stop is reported through `stop` instead.
      progress: (done, total, message) => {
        if (!ctx.stopReason()) ctx.progress(done, total, message);
      },
      stop: () => {
        const r = ctx.stopReason();
        return r ? new JobStopped(r) : null;
      },
    });
    return { model, created };
  },
});
