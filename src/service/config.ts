/** Service configuration from the environment, validated once at startup (bad values → a clear error). */
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { WeightscopeError, formatZodError } from '../errors.js';
import { defaultCacheDirs, defaultModelsDir } from '../io/hf.js';

/** "2GiB", "500MB", "1048576" → bytes. */
export function parseSize(s: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$/i.exec(s);
  if (!m) throw new WeightscopeError('invalid-input', `not a size: ${JSON.stringify(s)}`);
  const unit = (m[2] ?? '').toLowerCase().replace(/b$/, '');
  const pow = { '': 0, k: 1, ki: 1, m: 2, mi: 2, g: 3, gi: 3, t: 4, ti: 4 }[unit];
  if (pow === undefined) throw new WeightscopeError('invalid-input', `unknown size unit in ${JSON.stringify(s)}`);
  const base = unit.endsWith('i') || unit === '' ? 1024 : 1000;
  return Math.floor(Number(m[1]) * base ** pow);
}

const EnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().min(1).default('127.0.0.1'),
  WEIGHTSCOPE_DATA: z.string().min(1).default('./data'),
  WEIGHTSCOPE_API_KEYS: z.string().optional(),
  WEIGHTSCOPE_MAX_UPLOAD: z.string().default('2GiB'),
  /** Concurrent jobs (each in its own worker thread). */
  WEIGHTSCOPE_JOB_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(1),
  /** Extra allow-listed roots for POST /v1/models/import, separated by ':' (models/ and HF caches always are). */
  WEIGHTSCOPE_IMPORT_ROOTS: z.string().optional(),
  /** 1 = POST /v1/models/import {hf} downloads from HF_ENDPOINT when the model is not in the local cache. */
  WEIGHTSCOPE_HF_DOWNLOAD: z.enum(['0', '1']).default('0'),
  HF_ENDPOINT: z.url().default('https://huggingface.co'),
  HF_TOKEN: z.string().optional(),
  /** Without keys, Host names besides the loopback ones (comma-separated), and Origins allowed to change state. */
  WEIGHTSCOPE_ALLOWED_HOSTS: z.string().optional(),
  WEIGHTSCOPE_ALLOWED_ORIGINS: z.string().optional(),
  /** 1 = listen on a non-loopback HOST without API keys (refused otherwise). */
  WEIGHTSCOPE_ALLOW_OPEN: z.enum(['0', '1']).default('0'),
  /** Results whose JSON is longer are stored as files beside the database and streamed. */
  WEIGHTSCOPE_INLINE_RESULT: z.string().default('1MiB'),
  /** Finished jobs (and their files) older than this many days are removed; 0 keeps them forever. */
  WEIGHTSCOPE_RETENTION_DAYS: z.coerce.number().min(0).default(90),
  /** Imports (local or downloads) are not bound by the upload limit but by this; over the inline size they are jobs. */
  WEIGHTSCOPE_MAX_IMPORT: z.string().default('1TiB'),
  WEIGHTSCOPE_IMPORT_INLINE: z.string().default('256MiB'),
  /** Seconds a client may take to send one request (an upload of 2 GiB at 1 MB/s fits in the default hour). */
  WEIGHTSCOPE_REQUEST_TIMEOUT: z.coerce.number().positive().default(3600),
  /** Open connections, SSE streams and uploads in progress at once. */
  WEIGHTSCOPE_MAX_CONNECTIONS: z.coerce.number().int().min(1).default(512),
  WEIGHTSCOPE_MAX_STREAMS: z.coerce.number().int().min(1).default(128),
  WEIGHTSCOPE_MAX_UPLOADS: z.coerce.number().int().min(1).default(4),
  /** Heap of the thread that reads an upload before it is stored, and how long it may take (seconds). */
  WEIGHTSCOPE_INSPECT_HEAP: z.string().default('2GiB'),
  WEIGHTSCOPE_INSPECT_TIMEOUT: z.coerce.number().positive().default(120),
  /** Job parameter caps replacing the defaults: "kind.option=N,…" (see src/service/jobs/limits.ts). */
  WEIGHTSCOPE_LIMITS: z.string().optional(),
  /** Multiplies every job's wall-clock budget (which scales with the job's work). */
  WEIGHTSCOPE_JOB_TIME_FACTOR: z.coerce.number().positive().default(1),
  /** Heap of each job's thread. */
  WEIGHTSCOPE_JOB_HEAP: z.string().default('8GiB'),
  /** Registers test-only job kinds (the "sleep" kind and POST /v1/debug/jobs). */
  WEIGHTSCOPE_DEBUG_JOBS: z.enum(['0', '1']).default('0'),
  /** Distributed mode (src/service/cluster): catalog and queue in this Postgres; unset = embedded SQLite. */
  WEIGHTSCOPE_DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'a postgres://… URL')
    .optional(),
  /** The shared blob store: file:///path or s3://bucket/prefix; unset = the data folder. */
  WEIGHTSCOPE_BLOB_URL: z
    .string()
    .regex(/^(file|s3):\/\//, 'file:///path or s3://bucket/prefix')
    .optional(),
  /** A worker's local cache of the blob store (default $WEIGHTSCOPE_DATA/cache) and its bound. */
  WEIGHTSCOPE_CACHE: z.string().min(1).optional(),
  WEIGHTSCOPE_CACHE_SIZE: z.string().default('50GiB'),
  /** A job whose worker died this many times fails instead of running again. */
  WEIGHTSCOPE_JOB_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(2),
  /** Workers refresh their running jobs this often; a job silent for 4.5 intervals is retried elsewhere. */
  WEIGHTSCOPE_HEARTBEAT_SECONDS: z.coerce.number().min(0.1).max(60).default(10),
  /** On SIGTERM a worker lets running jobs finish this long, then hands them back to the queue. */
  WEIGHTSCOPE_SHUTDOWN_GRACE: z.coerce.number().min(0).max(3600).default(20),
});

export interface ServiceConfig {
  port: number;
  host: string;
  dataDir: string;
  apiKeys: string[];
  maxUpload: number;
  concurrency: number;
  /** Allow-listed roots for imports: the models folder, the HF caches, WEIGHTSCOPE_IMPORT_ROOTS. */
  importRoots: string[];
  /** The project's model store (WEIGHTSCOPE_MODELS_DIR, default models/ in the repository). */
  modelsDir: string;
  /** HF hub caches, in huggingface_hub's order (HF_HUB_CACHE, HF_HOME/hub, ~/.cache/huggingface/hub). */
  hfCacheDirs: string[];
  debugJobs: boolean;
  /** Checks of a keyless server (guard.ts). */
  allowedHosts: string[];
  allowedOrigins: string[];
  allowOpen: boolean;
  retentionDays: number;
  maxImport: number;
  importInline: number;
  inlineResultBytes: number;
  /** Request time limit (ms), and caps on connections, SSE streams and uploads in progress. */
  requestTimeoutMs: number;
  maxConnections: number;
  maxStreams: number;
  maxUploads: number;
  /** Raw WEIGHTSCOPE_LIMITS (parsed against the job kinds' caps when the queue is built). */
  limits: string;
  jobTimeFactor: number;
  jobHeapBytes: number;
  /** Bounds of the thread that reads uploads (store/inspect.ts). */
  inspect: { heapBytes: number; timeoutMs: number; concurrency: number };
  /** Hub downloads for imports: off unless WEIGHTSCOPE_HF_DOWNLOAD=1. */
  hfDownload: { endpoint: string; token?: string } | null;
  /** Interrupted runs a job gets (restarts of the embedded server, dead workers in the distributed mode). */
  jobAttempts: number;
  /** The distributed mode's settings; databaseUrl null = embedded. */
  cluster: {
    databaseUrl: string | null;
    blobUrl: string | null;
    cacheDir: string;
    cacheBytes: number;
    heartbeatMs: number;
    shutdownGraceMs: number;
  };
}

const list = (s: string | undefined): string[] =>
  (s ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);

export function loadConfig(env: Record<string, string | undefined> = process.env): ServiceConfig {
  const r = EnvSchema.safeParse(env);
  if (!r.success) {
    throw new WeightscopeError('invalid-input', `bad environment: ${formatZodError(r.error)}`);
  }
  const e = r.data;
  const size = (
    name:
      | 'WEIGHTSCOPE_MAX_UPLOAD'
      | 'WEIGHTSCOPE_INSPECT_HEAP'
      | 'WEIGHTSCOPE_JOB_HEAP'
      | 'WEIGHTSCOPE_INLINE_RESULT'
      | 'WEIGHTSCOPE_MAX_IMPORT'
      | 'WEIGHTSCOPE_IMPORT_INLINE'
      | 'WEIGHTSCOPE_CACHE_SIZE',
  ): number => {
    try {
      return parseSize(e[name]);
    } catch (err) {
      throw new WeightscopeError('invalid-input', `${name}: ${(err as Error).message}`);
    }
  };
  const maxUpload = size('WEIGHTSCOPE_MAX_UPLOAD');
  const modelsDir = defaultModelsDir(env);
  const hfCacheDirs = defaultCacheDirs(env);
  const roots = [
    modelsDir,
    ...hfCacheDirs,
    ...(e.WEIGHTSCOPE_IMPORT_ROOTS ?? '')
      .split(':')
      .filter(Boolean)
      .map((p) => resolve(p)),
  ];
  return {
    port: e.PORT,
    host: e.HOST,
    dataDir: resolve(e.WEIGHTSCOPE_DATA),
    apiKeys: list(e.WEIGHTSCOPE_API_KEYS),
    maxUpload,
    concurrency: e.WEIGHTSCOPE_JOB_CONCURRENCY,
    importRoots: [...new Set(roots)],
    modelsDir,
    hfCacheDirs,
    debugJobs: e.WEIGHTSCOPE_DEBUG_JOBS === '1',
    allowedHosts: list(e.WEIGHTSCOPE_ALLOWED_HOSTS),
    allowedOrigins: list(e.WEIGHTSCOPE_ALLOWED_ORIGINS),
    allowOpen: e.WEIGHTSCOPE_ALLOW_OPEN === '1',
    retentionDays: e.WEIGHTSCOPE_RETENTION_DAYS,
    maxImport: size('WEIGHTSCOPE_MAX_IMPORT'),
    importInline: size('WEIGHTSCOPE_IMPORT_INLINE'),
    inlineResultBytes: size('WEIGHTSCOPE_INLINE_RESULT'),
    requestTimeoutMs: Math.round(e.WEIGHTSCOPE_REQUEST_TIMEOUT * 1000),
    maxConnections: e.WEIGHTSCOPE_MAX_CONNECTIONS,
    maxStreams: e.WEIGHTSCOPE_MAX_STREAMS,
    maxUploads: e.WEIGHTSCOPE_MAX_UPLOADS,
    limits: e.WEIGHTSCOPE_LIMITS ?? '',
    jobTimeFactor: e.WEIGHTSCOPE_JOB_TIME_FACTOR,
    jobHeapBytes: size('WEIGHTSCOPE_JOB_HEAP'),
    inspect: { heapBytes: size('WEIGHTSCOPE_INSPECT_HEAP'), timeoutMs: e.WEIGHTSCOPE_INSPECT_TIMEOUT * 1000, concurrency: 2 },
    hfDownload:
      e.WEIGHTSCOPE_HF_DOWNLOAD === '1'
        ? { endpoint: e.HF_ENDPOINT.replace(/\/+$/, ''), ...(e.HF_TOKEN ? { token: e.HF_TOKEN } : {}) }
        : null,
    jobAttempts: e.WEIGHTSCOPE_JOB_ATTEMPTS,
    cluster: {
      databaseUrl: e.WEIGHTSCOPE_DATABASE_URL ?? null,
      blobUrl: e.WEIGHTSCOPE_BLOB_URL ?? null,
      cacheDir: resolve(e.WEIGHTSCOPE_CACHE ?? join(e.WEIGHTSCOPE_DATA, 'cache')),
      cacheBytes: size('WEIGHTSCOPE_CACHE_SIZE'),
      heartbeatMs: Math.round(e.WEIGHTSCOPE_HEARTBEAT_SECONDS * 1000),
      shutdownGraceMs: Math.round(e.WEIGHTSCOPE_SHUTDOWN_GRACE * 1000),
    },
  };
}
