// One storage interface for every stage: a stage reads and writes keys relative to a root URI
// and never learns whether that root is a local folder or an S3 prefix.

export interface ObjectInfo {
  /** Key relative to the store root, '/'-separated, never starting with '/'. */
  key: string;
  size: number;
  /** Changes whenever the content may have: the ETag on S3, the modification time locally. */
  version?: string;
}

export interface Store {
  /** The root as the user gave it, normalised (e.g. `s3://bucket/prefix`, `/abs/path`). */
  readonly root: string;
  /** True for object stores: callers use it only to word messages, never to branch logic. */
  readonly remote: boolean;
  /**
   * Every object under `prefix` (recursively), in byte-wise lexicographic order of the key
   * (S3's order), as a stream: pagination is hidden and no full listing is held in memory.
   */
  list(prefix?: string): AsyncIterable<ObjectInfo>;
  /** Whole object. Rejects with a StorageError (code 'not_found' when it does not exist). */
  read(key: string): Promise<Buffer>;
  /**
   * The same, synchronously, where that is cheap (local files only): for small files in a worker
   * whose thread is busy with inference anyway, it saves the promise hops of an async read.
   */
  readSync?(key: string): Buffer;
  /** Atomic write: readers see the old object or the whole new one, never a part. */
  write(key: string, data: Uint8Array | string): Promise<void>;
  /**
   * Writes only if nothing exists at `key` (exclusive create locally, `If-None-Match: *` on S3):
   * true when this call created it. The primitive of the dataset lock.
   */
  writeIfAbsent(key: string, data: string): Promise<boolean>;
  /** Moves an object to another key of the same store (a rename locally, copy + delete on S3). */
  move(from: string, to: string): Promise<void>;
  exists(key: string): Promise<boolean>;
  /** Remove every object under `prefix` (--overwrite, and files a commit made obsolete). */
  deletePrefix(prefix: string): Promise<void>;
  /** URI of a key, for messages and manifests. */
  uriOf(key: string): string;
  /** A store rooted at `root/sub`. */
  sub(sub: string): Store;
}

export type StorageErrorCode = 'not_found' | 'access_denied' | 'no_bucket' | 'invalid_uri' | 'io';

export class StorageError extends Error {
  constructor(
    readonly code: StorageErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StorageError';
  }
}
