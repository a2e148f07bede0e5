/**
 * The blob store on S3 or any S3-compatible service (`s3://bucket/prefix`; @aws-sdk/client-s3 with the usual
 * AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION). Objects: <prefix>blobs/<sha256>.
 * An upload streams to <prefix>tmp/<uuid> as a multipart upload (memory: PART_BYTES × QUEUE, whatever the size)
 * while being hashed; commit() copies it server-side to its content address and deletes it. A node killed
 * mid-upload leaves an incomplete multipart upload — no object at all — which sweepTmp() aborts later.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { randomUUID } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { WeightscopeError } from '../../errors.js';
import { createReadStream } from 'node:fs';
import { meteredCopy, type IngestedPart, type IngestHooks, type UploadBudget } from './blobs.js';
import type { SharedBlobs } from '../context.js';

const PART_BYTES = 8 * 2 ** 20;
const QUEUE = 4;
/** CopyObject's limit; larger objects are copied part by part (UploadPartCopy). */
const COPY_LIMIT = 5 * 2 ** 30;
const COPY_PART = 512 * 2 ** 20;

const SHA = /^[0-9a-f]{64}$/;

export interface S3Location {
  bucket: string;
  /** '' or ends with '/'. */
  prefix: string;
}

export function parseS3Url(url: string): S3Location {
  const u = new URL(url);
  if (u.protocol !== 's3:' || !u.hostname) throw new WeightscopeError('invalid-input', `not an s3://bucket/prefix URL: ${url}`);
  const prefix = decodeURIComponent(u.pathname).replace(/^\/+/, '');
  return { bucket: u.hostname, prefix: prefix && !prefix.endsWith('/') ? `${prefix}/` : prefix };
}

/** A client from the environment; a custom endpoint (MinIO, Ceph, a test stand-in) is addressed path-style. */
export function s3ClientFromEnv(env: Record<string, string | undefined> = process.env): S3Client {
  const endpoint = env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  return new S3Client({
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    // Keys from the given environment; otherwise the SDK's own chain (instance roles, profiles…).
    ...(env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
      ? {
          credentials: {
            accessKeyId: env.AWS_ACCESS_KEY_ID,
            secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
            ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
          },
        }
      : {}),
    // Checksums only where S3 requires them: several S3-compatible services reject the newer default trailers.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

const isMissing = (e: unknown): boolean => {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return err.name === 'NotFound' || err.name === 'NoSuchKey' || err.$metadata?.httpStatusCode === 404;
};

export class S3BlobStore implements SharedBlobs {
  constructor(
    private readonly s3: S3Client,
    private readonly loc: S3Location,
  ) {}

  private key(sha256: string): string {
    if (!SHA.test(sha256)) throw new WeightscopeError('invalid-input', `not a sha256: ${sha256}`);
    return `${this.loc.prefix}blobs/${sha256}`;
  }

  private get tmpPrefix(): string {
    return `${this.loc.prefix}tmp/`;
  }

  async ingest(source: Readable, budget: UploadBudget, onBytes?: (n: number) => void, hooks: IngestHooks = {}): Promise<IngestedPart> {
    const key = `${this.tmpPrefix}${randomUUID()}`;
    const body = new PassThrough({ highWaterMark: PART_BYTES });
    const upload = new Upload({
      client: this.s3,
      params: { Bucket: this.loc.bucket, Key: key, Body: body },
      partSize: PART_BYTES,
      queueSize: QUEUE,
      leavePartsOnError: false,
    });
    const uploaded = upload.done();
    // If the upload fails first, stop feeding it (the copy below then fails too).
    uploaded.catch((e: unknown) => body.destroy(e as Error));
    try {
      const { sha256, bytes } = await meteredCopy(source, body, budget, onBytes, hooks);
      await uploaded;
      return { tmpPath: key, sha256, bytes };
    } catch (e) {
      await upload.abort().catch(() => undefined);
      await this.deleteKey(key);
      throw e;
    }
  }

  async ingestFile(path: string, onBytes?: (n: number) => void, hooks: IngestHooks = {}): Promise<IngestedPart> {
    return this.ingest(createReadStream(path, { highWaterMark: 1 << 20 }), { limit: Number.MAX_SAFE_INTEGER, used: 0 }, onBytes, hooks);
  }

  /**
   * Copies the staged object to its content address, even when that exists: the copy refreshes its modification
   * time, which the sweep reads to spare blobs that a catalog row is about to name.
   */
  async commit(part: IngestedPart): Promise<string> {
    const dest = this.key(part.sha256);
    const source = `${this.loc.bucket}/${part.tmpPath.split('/').map(encodeURIComponent).join('/')}`;
    if (part.bytes <= COPY_LIMIT) {
      await this.s3.send(new CopyObjectCommand({ Bucket: this.loc.bucket, Key: dest, CopySource: source }));
    } else {
      await this.copyInParts(source, dest, part.bytes);
    }
    await this.deleteKey(part.tmpPath);
    return dest;
  }

  private async copyInParts(source: string, dest: string, bytes: number): Promise<void> {
    const { UploadId } = await this.s3.send(new CreateMultipartUploadCommand({ Bucket: this.loc.bucket, Key: dest }));
    try {
      const parts: { ETag: string; PartNumber: number }[] = [];
      for (let off = 0, n = 1; off < bytes; off += COPY_PART, n++) {
        const end = Math.min(bytes, off + COPY_PART) - 1;
        const r = await this.s3.send(
          new UploadPartCopyCommand({
            Bucket: this.loc.bucket,
            Key: dest,
            UploadId,
            PartNumber: n,
            CopySource: source,
            CopySourceRange: `bytes=${off}-${end}`,
          }),
        );
        parts.push({ ETag: r.CopyPartResult?.ETag ?? '', PartNumber: n });
      }
      await this.s3.send(
        new CompleteMultipartUploadCommand({ Bucket: this.loc.bucket, Key: dest, UploadId, MultipartUpload: { Parts: parts } }),
      );
    } catch (e) {
      await this.s3.send(new AbortMultipartUploadCommand({ Bucket: this.loc.bucket, Key: dest, UploadId })).catch(() => undefined);
      throw e;
    }
  }

  async discard(parts: readonly IngestedPart[]): Promise<void> {
    await Promise.all(parts.map((p) => this.deleteKey(p.tmpPath)));
  }

  private async deleteKey(key: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.loc.bucket, Key: key })).catch(() => undefined);
  }

  async has(sha256: string): Promise<boolean> {
    try {
      await this.s3.send(new HeadObjectCommand({ Bucket: this.loc.bucket, Key: this.key(sha256) }));
      return true;
    } catch (e) {
      if (isMissing(e)) return false;
      throw e;
    }
  }

  async read(sha256: string): Promise<Readable> {
    try {
      const r = await this.s3.send(new GetObjectCommand({ Bucket: this.loc.bucket, Key: this.key(sha256) }));
      if (!(r.Body instanceof Readable)) throw new Error('the S3 client gave no stream');
      return r.Body;
    } catch (e) {
      if (isMissing(e)) throw new WeightscopeError('not-found', `blob ${sha256} is not in the store`);
      throw e;
    }
  }

  async delete(sha256: string): Promise<void> {
    await this.deleteKey(this.key(sha256));
  }

  async touch(): Promise<void> {
    // commit() copies every time, which refreshes the object's modification time.
  }

  async *list(): AsyncIterable<{ sha256: string; bytes: number; modified: number }> {
    const prefix = `${this.loc.prefix}blobs/`;
    let token: string | undefined;
    do {
      const r = await this.s3.send(new ListObjectsV2Command({ Bucket: this.loc.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of r.Contents ?? []) {
        const sha = (o.Key ?? '').slice(prefix.length);
        if (SHA.test(sha)) yield { sha256: sha, bytes: o.Size ?? 0, modified: o.LastModified?.getTime() ?? 0 };
      }
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
  }

  /** Deletes staged objects and aborts multipart uploads older than `ageMs` (uploads whose node died). */
  async sweepTmp(ageMs: number): Promise<number> {
    const cutoff = Date.now() - ageMs;
    let n = 0;
    let token: string | undefined;
    do {
      const r = await this.s3.send(new ListObjectsV2Command({ Bucket: this.loc.bucket, Prefix: this.tmpPrefix, ContinuationToken: token }));
      for (const o of r.Contents ?? []) {
        if (o.Key && (o.LastModified?.getTime() ?? 0) < cutoff) {
          await this.deleteKey(o.Key);
          n++;
        }
      }
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    const mp = await this.s3.send(new ListMultipartUploadsCommand({ Bucket: this.loc.bucket, Prefix: this.tmpPrefix })).catch(() => null);
    for (const u of mp?.Uploads ?? []) {
      if (u.Key && u.UploadId && (u.Initiated?.getTime() ?? 0) < cutoff) {
        await this.s3
          .send(new AbortMultipartUploadCommand({ Bucket: this.loc.bucket, Key: u.Key, UploadId: u.UploadId }))
          .catch(() => undefined);
        n++;
      }
    }
    return n;
  }
}
