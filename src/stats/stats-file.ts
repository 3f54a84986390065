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
import { createStats, mergeM2Into, type FeatureStats, type Moments } from './feature-stats.js';
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

/**
 * Statistics with m2 as stored, its packed upper triangle (row i holds j = i … d−1): all a merge
 * needs. Merging files this way reads, adds and writes half the numbers, with no symmetric
 * scatter and no copies (an update of a 20,000-photo dataset merges 8 + 3 files of 6.6 MB).
 */
export interface PackedStats extends Moments {
  /** Upper triangle of m2, row-major, dim·(dim+1)/2 values. */
  m2: Float64Array;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** `count` float64 values at byte `at`, little-endian on any platform. */
function readFloats(bytes: Uint8Array, at: number, count: number): Float64Array {
  // A copy, aligned: a Buffer's slice() would share (and misalign) the file's memory.
  if (LITTLE_ENDIAN) return new Float64Array(new Uint8Array(bytes.subarray(at, at + 8 * count)).buffer);
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, 8 * count);
  return Float64Array.from({ length: count }, (_, i) => view.getFloat64(8 * i, true));
}

function writeFloats(bytes: Uint8Array, at: number, values: Float64Array): number {
  if (LITTLE_ENDIAN) bytes.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), at);
  else {
    const view = new DataView(bytes.buffer, bytes.byteOffset + at, values.byteLength);
    values.forEach((v, i) => view.setFloat64(8 * i, v, true));
  }
  return at + values.byteLength;
}

export function encodePackedStats(s: PackedStats): Uint8Array {
  const d = s.dim;
  const bytes = new Uint8Array(encodedLength(d));
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < 8; i++) bytes[i] = MAGIC.charCodeAt(i);
  view.setUint32(8, STATS_FORMAT_VERSION, true);
  view.setUint32(12, d, true);
  view.setFloat64(16, s.count, true);
  let at = HEADER_BYTES;
  for (const arr of [s.mean, s.min, s.max, s.m2]) at = writeFloats(bytes, at, arr);
  view.setUint32(at, crc32(bytes.subarray(0, at)), true);
  return bytes;
}

export function encodeStats(s: FeatureStats): Uint8Array {
  const d = s.dim;
  const packed = new Float64Array((d * (d + 1)) / 2);
  for (let i = 0, at = 0; i < d; i++) {
    packed.set(s.m2.subarray(i * d + i, (i + 1) * d), at);
    at += d - i;
  }
  return encodePackedStats({ ...s, m2: packed });
}

/** Parses and validates an encoded statistics file, keeping m2 packed. `source` names it in error messages. */
export function decodePackedStats(bytes: Uint8Array, source = 'statistics file'): PackedStats {
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

  const count = view.getFloat64(16, true);
  if (!Number.isSafeInteger(count) || count < 0) fail(`invalid row count ${count}`);
  const [mean, min, max] = [0, 1, 2].map((a) => readFloats(bytes, HEADER_BYTES + 8 * a * d, d));
  const m2 = readFloats(bytes, HEADER_BYTES + 24 * d, (d * (d + 1)) / 2);
  if (count > 0) {
    for (let j = 0, diag = 0; j < d; diag += d - j, j++) {
      if (!Number.isFinite(mean[j]) || !(min[j] <= max[j]) || !Number.isFinite(min[j]) || !Number.isFinite(max[j])) {
        fail(`feature ${j} has an invalid mean/min/max`);
      }
      if (!(m2[diag] >= 0)) fail(`feature ${j} has a negative or non-finite squared deviation`);
    }
  }
  return { dim: d, count, mean, min, max, m2 };
}

/** Parses and validates an encoded statistics file. `source` names it in error messages. */
export function decodeStats(bytes: Uint8Array, source = 'statistics file'): FeatureStats {
  const p = decodePackedStats(bytes, source);
  const d = p.dim;
  const s = createStats(d);
  s.count = p.count;
  s.mean.set(p.mean);
  s.min.set(p.min);
  s.max.set(p.max);
  for (let i = 0, at = 0; i < d; i++) {
    const row = i * d;
    for (let j = i; j < d; j++, at++) {
      const v = p.m2[at];
      s.m2[row + j] = v;
      s.m2[j * d + i] = v;
    }
  }
  return s;
}

/** Adds `src` into `target` in place, m2 packed: the same numbers as mergeInto's upper triangle. */
export function mergePackedInto(target: PackedStats, src: PackedStats): void {
  mergeM2Into(target, src, true);
}
