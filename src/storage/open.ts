// Turns a user's location (plain path, file:// URI or s3:// URI) into a Store.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalStore } from './local.js';
import { S3Store } from './s3.js';
import { resolveS3Settings, s3ClientFor, type S3Options } from './s3-config.js';
import { StorageError, type Store } from './store.js';
import { isS3Uri, parseS3Uri } from './uri.js';

/**
 * `s3Options` (e.g. from --s3-force-path-style / --s3-checksums) apply to s3:// locations only and
 * override FRUITS_S3_* variables. Stores opened with the same configuration share one S3 client.
 */
export function openStore(location: string, s3Options?: S3Options): Store {
  if (isS3Uri(location)) {
    const { bucket, prefix } = parseS3Uri(location);
    const settings = resolveS3Settings(s3Options);
    return new S3Store({ client: s3ClientFor(settings), bucket, prefix, settings });
  }
  if (/^file:\/\//i.test(location)) {
    try {
      return new LocalStore(path.resolve(fileURLToPath(location)));
    } catch (err) {
      throw new StorageError('invalid_uri', `${location}: invalid file:// URI (${(err as Error).message})`, { cause: err });
    }
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) {
    throw new StorageError('invalid_uri', `unsupported location scheme: ${location} (use a path, file:// or s3://)`);
  }
  return new LocalStore(path.resolve(location));
}
