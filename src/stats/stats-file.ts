// Binary encoding of FeatureStats, so partial statistics can travel between machines as files.
//
// Layout (little-endian):
//   0  8 bytes  magic "FRSTATS\0"
//   8  u32      format version (1)
//  12  u32      dim
//  16  f64      count
//  24  f64×dim  mean, then f64×dim min, then f64×dim max
//      f64×dim(dim+1)/2  m2 upper triangle, row-major (i ≤ j) — m2 is symmetric
//      u32      CRC-32 of every byte before it
// For dim = 1280 that is ~6.6 MB.
import { crc32 } from 'node:zlib';
import { createStats, type FeatureStats } from './feature-stats.js';
import { PermanentError } from '../util/errors.js';

const MAGIC = 'FRSTATS\0';
export const STATS_FORMAT_VERSION = 1;
const HEADER_BYTES = 24;
const MAX_DIM = 1 << 16;

/** A statistics file that cannot be read as one (truncated, corrupt, another format): no retry mends it. */
export class StatsFileError extends PermanentError {
  override readonly name = 'StatsFileError';
}

function encodedLength(dim: number): number {
  return HEADER_BYTES + 8 * (3 * dim + (dim * (dim + 1)) / 2) + 4;
}

export function encodeStats(s: FeatureStats): Uint8Array {
  const d = s.dim;
  const bytes = new Uint8Array(encodedLength(d));
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < 8; i++) bytes[i] = MAGIC.charCodeAt(i);
  view.setUint32(8, STATS_FORMAT_VERSION, true);
  view.setUint32(12, d, true);
  view.setFloat64(16, s.count, true);
  let at = HEADER_BYTES;
  for (const arr of [s.mean, s.min, s.max]) {
    for (let j = 0; j < d; j++, at += 8) view.setFloat64(at, arr[j], true);
  }
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++, at += 8) view.setFloat64(at, s.m2[i * d + j], true);
  }
  view.setUint32(at, crc32(bytes.subarray(0, at)), true);
  return bytes;
}

/** Parses and validates an encoded statistics file. `source` names it in error messages. */
export function decodeStats(bytes: Uint8Array, source = 'statistics file'): FeatureStats {
  const fail = (why: string): never => {
    throw new StatsFileError(`${source}: ${why}`);
  };
  if (bytes.length < HEADER_BYTES + 4) fail(`too short to be a statistics file (${bytes.length} bytes)`);
  for (let i = 0; i < 8; i++) {
    if (bytes[i] !== MAGIC.charCodeAt(i)) fail('not a fruits feature-statistics file (bad magic bytes)');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== STATS_FORMAT_VERSION) fail(`unsupported format version ${version} (this build reads ${STATS_FORMAT_VERSION})`);
  const d = view.getUint32(12, true);
  if (d < 1 || d > MAX_DIM) fail(`implausible feature dimension ${d}`);
  const expected = encodedLength(d);
  if (bytes.length !== expected) {
    fail(`${bytes.length < expected ? 'truncated' : 'trailing bytes'}: dimension ${d} needs ${expected} bytes, got ${bytes.length}`);
  }
  const crcAt = expected - 4;
  if (crc32(bytes.subarray(0, crcAt)) !== view.getUint32(crcAt, true)) fail('checksum mismatch (file is corrupt)');

  const s = createStats(d);
  s.count = view.getFloat64(16, true);
  if (!Number.isSafeInteger(s.count) || s.count < 0) fail(`invalid row count ${s.count}`);
  let at = HEADER_BYTES;
  for (const arr of [s.mean, s.min, s.max]) {
    for (let j = 0; j < d; j++, at += 8) arr[j] = view.getFloat64(at, true);
  }
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++, at += 8) {
      const v = view.getFloat64(at, true);
      s.m2[i * d + j] = v;
      s.m2[j * d + i] = v;
    }
  }
  if (s.count > 0) {
    for (let j = 0; j < d; j++) {
      if (!Number.isFinite(s.mean[j]) || !(s.min[j] <= s.max[j]) || !Number.isFinite(s.min[j]) || !Number.isFinite(s.max[j])) {
        fail(`feature ${j} has an invalid mean/min/max`);
      }
      if (!(s.m2[j * d + j] >= 0)) fail(`feature ${j} has a negative or non-finite squared deviation`);
    }
  }
  return s;
}
