// Parsing of `s3://bucket/prefix` locations. The prefix is taken literally (no percent-decoding),
// as the AWS CLI does, so `s3://b/Pêche mûre` names the keys a user sees in the console.
import { StorageError } from './store.js';

export interface S3Location {
  bucket: string;
  /** Key prefix without leading or trailing '/', '' for the bucket root. */
  prefix: string;
}

const S3_SCHEME = /^s3:\/\//i;

export function isS3Uri(location: string): boolean {
  return S3_SCHEME.test(location);
}

/** Why `name` is not a valid S3 bucket name (general purpose buckets), or undefined if it is. */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return 'must be 3 to 63 characters long';
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name)) {
    return 'may contain only lowercase letters, digits, dots and hyphens, and must start and end with a letter or digit';
  }
  if (name.includes('..')) return 'must not contain two adjacent dots';
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) return 'must not look like an IP address';
  if (name.startsWith('xn--') || name.startsWith('sthree-')) return 'must not start with "xn--" or "sthree-"';
  if (name.endsWith('-s3alias') || name.endsWith('--ol-s3')) return 'must not end with "-s3alias" or "--ol-s3"';
  return undefined;
}

export function parseS3Uri(location: string): S3Location {
  if (!isS3Uri(location)) {
    throw new StorageError('invalid_uri', `${location}: not an s3:// location (expected s3://bucket/prefix)`);
  }
  const rest = location.replace(S3_SCHEME, '');
  const slash = rest.indexOf('/');
  const bucket = slash === -1 ? rest : rest.slice(0, slash);
  const prefix = slash === -1 ? '' : rest.slice(slash + 1).replace(/^\/+|\/+$/g, '');
  if (bucket === '') {
    throw new StorageError('invalid_uri', `${location}: no bucket name (expected s3://bucket/prefix)`);
  }
  const problem = bucketNameProblem(bucket);
  if (problem) {
    throw new StorageError('invalid_uri', `${location}: invalid bucket name "${bucket}": ${problem}`);
  }
  if (Buffer.byteLength(prefix) > 1024) {
    throw new StorageError('invalid_uri', `${location}: key prefix longer than S3's 1024-byte key limit`);
  }
  return { bucket, prefix };
}

export function formatS3Uri(bucket: string, key: string): string {
  return key === '' ? `s3://${bucket}` : `s3://${bucket}/${key}`;
}
