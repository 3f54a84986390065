// S3 store: keys live under `s3://bucket/prefix/`. Requests are retried by the SDK (standard or
// adaptive strategy, jittered backoff); a GET whose body is cut after the headers arrived is
// outside the SDK's reach, so read() retries that itself with the same attempt budget.
import type { ListObjectsV2CommandOutput, S3Client } from '@aws-sdk/client-s3';
import { s3Sdk, s3Uploads } from './aws-sdk.js';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import type { S3Settings } from './s3-config.js';
import { StorageError, type ObjectInfo, type Store } from './store.js';
import { formatS3Uri } from './uri.js';

const DELETE_BATCH = 1000; // DeleteObjects' limit
const BACKOFF_BASE_MS = 100;
const BACKOFF_CAP_MS = 20_000;

const ACCESS_DENIED = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'AllAccessDisabled',
  'AccountProblem',
]);

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

/**
 * HTTP reason phrases, required on the error path: an ESM import of node:http builds its module
 * namespace, which loads undici (~26–40 ms of every process's start-up, S3 used or not).
 */
function reasonPhrase(status: number): string | undefined {
  return (createRequire(import.meta.url)('node:http') as typeof import('node:http')).STATUS_CODES[status];
}

/** One-line StorageError naming the URI; never includes headers, credentials or signatures. */
export function s3Error(err: unknown, uri: string, bucket: string): StorageError {
  if (err instanceof StorageError) return err;
  const e = (err ?? {}) as SdkError;
  const status = e.$metadata?.httpStatusCode;
  const name = e.code && !e.name?.includes(e.code) ? e.code : (e.name ?? 'Error');
  // Answers without a body (every HEAD) carry no S3 error code; the HTTP reason says more.
  const shown = status && (name === 'Unknown' || name === 'UnknownError') ? (reasonPhrase(status) ?? name) : name;
  const tag = status ? `${status} ${shown}` : shown;
  const attempts = e.$metadata?.attempts && e.$metadata.attempts > 1 ? ` after ${e.$metadata.attempts} attempts` : '';
  if (name === 'NoSuchBucket') {
    return new StorageError('no_bucket', `${uri}: bucket "${bucket}" does not exist (${tag})`, { cause: err });
  }
  if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) {
    return new StorageError('not_found', `${uri}: no such object (${tag})`, { cause: err });
  }
  if (status === 403 || ACCESS_DENIED.has(name)) {
    return new StorageError('access_denied', `${uri}: access denied (${tag}); check the credentials and the IAM policy for this bucket and prefix`, { cause: err });
  }
  if (name === 'CredentialsProviderError') {
    return new StorageError('access_denied', `${uri}: no AWS credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, log in with aws sso login, or run with an instance/task role)`, { cause: err });
  }
  const detail = (e.message ?? String(err)).split('\n')[0].slice(0, 200);
  return new StorageError('io', `${uri}: ${tag}${attempts}${detail && detail !== name ? `: ${detail}` : ''}`, { cause: err });
}

function trimSlashes(s: string): string {
  return s.replace(/^\/+|\/+$/g, '');
}

/** Full-jitter exponential backoff, as the SDK's standard strategy uses. */
function backoffMs(attempt: number): number {
  return Math.random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
}

// Enough for browsers and viewers to open reports and exports straight from S3.
const CONTENT_TYPES: Record<string, string> = {
  parquet: 'application/vnd.apache.parquet',
  json: 'application/json',
  csv: 'text/csv; charset=utf-8',
  html: 'text/html; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  txt: 'text/plain; charset=utf-8',
};

function contentTypeOf(key: string): string | undefined {
  const ext = /\.([a-z0-9]+)$/i.exec(key)?.[1]?.toLowerCase();
  return ext ? CONTENT_TYPES[ext] : undefined;
}

export interface S3StoreInit {
  client: S3Client;
  bucket: string;
  /** Root prefix inside the bucket, '' for the bucket root. */
  prefix: string;
  settings: S3Settings;
}

export class S3Store implements Store {
  readonly remote = true;
  readonly root: string;
  readonly bucket: string;
  /** '' or 'prefix/': prepended to every key. */
  private readonly base: string;
  private readonly client: S3Client;
  private readonly settings: S3Settings;

  constructor(init: S3StoreInit) {
    this.client = init.client;
    this.bucket = init.bucket;
    this.settings = init.settings;
    const prefix = trimSlashes(init.prefix);
    this.base = prefix === '' ? '' : `${prefix}/`;
    this.root = formatS3Uri(this.bucket, prefix);
  }

  uriOf(key: string): string {
    return key === '' ? this.root : formatS3Uri(this.bucket, this.base + key);
  }

  sub(sub: string): Store {
    return new S3Store({ client: this.client, bucket: this.bucket, prefix: this.base + trimSlashes(sub), settings: this.settings });
  }

  private async call<T>(uri: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (err) {
      throw s3Error(err, uri, this.bucket);
    }
  }

  /** ListObjectsV2 pages as a stream of objects; the next page is fetched while this one is consumed. */
  private async *pages(fullPrefix: string, uri: string, maxKeys?: number): AsyncGenerator<NonNullable<ListObjectsV2CommandOutput['Contents']>[number]> {
    const fetchPage = (token?: string, startAfter?: string) =>
      this.call(uri, () =>
        this.client.send(
          new (s3Sdk().ListObjectsV2Command)({
            Bucket: this.bucket,
            Prefix: fullPrefix === '' ? undefined : fullPrefix,
            ContinuationToken: token,
            StartAfter: startAfter,
            MaxKeys: maxKeys,
          }),
        ),
      );
    let pending = fetchPage();
    for (;;) {
      const page = await pending;
      const contents = page.Contents ?? [];
      const truncated = page.IsTruncated === true && maxKeys === undefined && contents.length > 0;
      if (truncated) {
        // Some S3-compatible stores omit the token; StartAfter the last key is equivalent.
        pending = page.NextContinuationToken ? fetchPage(page.NextContinuationToken) : fetchPage(undefined, contents[contents.length - 1].Key);
        pending.catch(() => undefined); // surfaced when awaited; silenced if the caller stops early
      }
      for (const o of contents) yield o;
      if (!truncated) return;
    }
  }

  /**
   * Objects under `prefix` taken as a folder, as LocalStore does: the object `prefix` itself, then
   * everything under `prefix/` (not `prefixed-sibling`). Full keys, byte-wise order.
   */
  private async *objectsUnder(prefix: string): AsyncGenerator<{ fullKey: string; size: number; etag?: string }> {
    const rel = trimSlashes(prefix);
    const uri = this.uriOf(rel === '' ? '' : `${rel}/`);
    if (rel !== '') {
      // An object named exactly `rel` sorts before any other key starting with `rel`.
      for await (const o of this.pages(this.base + rel, uri, 1)) {
        if (o.Key === this.base + rel) yield { fullKey: o.Key, size: o.Size ?? 0, etag: o.ETag };
      }
    }
    for await (const o of this.pages(rel === '' ? this.base : `${this.base}${rel}/`, uri)) {
      if (o.Key !== undefined) yield { fullKey: o.Key, size: o.Size ?? 0, etag: o.ETag };
    }
  }

  async *list(prefix = ''): AsyncIterable<ObjectInfo> {
    for await (const o of this.objectsUnder(prefix)) {
      // Zero-byte "folder" markers made by consoles are not objects of the dataset.
      if (o.fullKey.endsWith('/')) continue;
      yield { key: o.fullKey.slice(this.base.length), size: o.size, version: o.etag };
    }
  }

  async read(key: string): Promise<Buffer> {
    const uri = this.uriOf(key);
    for (let attempt = 1; ; attempt++) {
      const out = await this.call(uri, () => this.client.send(new (s3Sdk().GetObjectCommand)({ Bucket: this.bucket, Key: this.base + key })));
      try {
        if (!out.Body) throw new Error('response has no body');
        const bytes = await out.Body.transformToByteArray();
        if (out.ContentLength !== undefined && bytes.byteLength !== out.ContentLength) {
          throw new Error(`body truncated at ${bytes.byteLength} of ${out.ContentLength} bytes`);
        }
        return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      } catch (err) {
        if (attempt >= this.settings.maxAttempts) {
          const why = ((err as Error)?.message ?? String(err)).split('\n')[0];
          throw new StorageError('io', `${uri}: download interrupted ${attempt} times (last: ${why})`, { cause: err });
        }
        await sleep(backoffMs(attempt));
      }
    }
  }

  async write(key: string, data: Uint8Array | string): Promise<void> {
    const uri = this.uriOf(key);
    const body = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const params = { Bucket: this.bucket, Key: this.base + key, Body: body, ContentType: contentTypeOf(key) };
    // A PUT is atomic; a multipart upload becomes visible only when completed, and is aborted on error.
    if (body.byteLength <= this.settings.partSizeBytes) {
      await this.call(uri, () => this.client.send(new (s3Sdk().PutObjectCommand)({ ...params, ContentLength: body.byteLength })));
      return;
    }
    const upload = new (s3Uploads().Upload)({
      client: this.client,
      params,
      partSize: this.settings.partSizeBytes,
      queueSize: this.settings.uploadQueueSize,
      leavePartsOnError: false,
    });
    await this.call(uri, () => upload.done());
  }

  async writeIfAbsent(key: string, data: string): Promise<boolean> {
    const uri = this.uriOf(key);
    // The HEAD first also protects stores that ignore If-None-Match on PUT (S3 honours it since
    // 2024; some S3-compatible servers do not): there only a simultaneous create can slip through.
    if (await this.exists(key)) return false;
    try {
      await this.client.send(new (s3Sdk().PutObjectCommand)({ Bucket: this.bucket, Key: this.base + key, Body: Buffer.from(data), ContentType: contentTypeOf(key), IfNoneMatch: '*' }));
      return true;
    } catch (err) {
      // 412: the object exists; 409: a concurrent conditional write to the same key is in flight.
      const status = (err as SdkError).$metadata?.httpStatusCode;
      if (status === 412 || status === 409) return false;
      throw s3Error(err, uri, this.bucket);
    }
  }

  async move(from: string, to: string): Promise<void> {
    const uri = this.uriOf(from);
    const source = `${this.bucket}/${this.base + from}`.split('/').map(encodeURIComponent).join('/');
    await this.call(uri, () => this.client.send(new (s3Sdk().CopyObjectCommand)({ Bucket: this.bucket, Key: this.base + to, CopySource: source })));
    await this.call(uri, () => this.client.send(new (s3Sdk().DeleteObjectCommand)({ Bucket: this.bucket, Key: this.base + from })));
  }

  async exists(key: string): Promise<boolean> {
    const rel = trimSlashes(key);
    const uri = this.uriOf(rel);
    if (rel !== '') {
      try {
        await this.client.send(new (s3Sdk().HeadObjectCommand)({ Bucket: this.bucket, Key: this.base + rel }));
        return true;
      } catch (err) {
        const e = s3Error(err, uri, this.bucket);
        if (e.code !== 'not_found') throw e;
      }
    }
    // Not an object: a folder exists when something is under it (as for LocalStore). The listing
    // also tells a missing bucket (no_bucket) from a missing key, which a bodiless HEAD 404 cannot.
    for await (const _ of this.pages(rel === '' ? this.base : `${this.base}${rel}/`, uri, 1)) return true;
    return rel === '' && this.base === '';
  }

  async deletePrefix(prefix: string): Promise<void> {
    const uri = this.uriOf(trimSlashes(prefix));
    let batch: string[] = [];
    const flush = async () => {
      const keys = batch;
      batch = [];
      const out = await this.call(uri, () =>
        this.client.send(
          new (s3Sdk().DeleteObjectsCommand)({ Bucket: this.bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }),
        ),
      );
      // DeleteObjects answers 200 even when some keys failed; those are listed in Errors.
      const failed = out.Errors?.[0];
      if (failed) {
        const failedUri = formatS3Uri(this.bucket, failed.Key ?? '');
        const status = failed.Code === 'AccessDenied' ? 403 : undefined;
        const err = s3Error({ name: failed.Code, message: failed.Message, $metadata: { httpStatusCode: status } }, failedUri, this.bucket);
        throw new StorageError(err.code, `${err.message} (${out.Errors!.length} of ${keys.length} deletions failed)`, { cause: err });
      }
    };
    for await (const o of this.objectsUnder(prefix)) {
      batch.push(o.fullKey);
      if (batch.length === DELETE_BATCH) await flush();
    }
    if (batch.length > 0) await flush();
  }
}
