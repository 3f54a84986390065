// Deterministic partitions: consecutive runs of N images in listing order, numbered from 0.
// Planned as a stream, so a listing of millions of keys never sits in memory at once.
import { sha256Hex } from '../util/hash.js';
import type { ImageRef } from './listing.js';

export interface Partition {
  index: number;
  images: ImageRef[];
  /** Identifies the partition's content (keys, labels, sizes): resume trusts a part only if it matches. */
  fingerprint: string;
}

export function partFileName(index: number, ext = 'parquet'): string {
  return `part-${String(index).padStart(5, '0')}.${ext}`;
}

export function fingerprintOf(images: readonly ImageRef[]): string {
  return sha256Hex(images.map((i) => `${i.key}\u0000${i.label}\u0000${i.size}`).join('\n'));
}

export async function* planPartitions(images: AsyncIterable<ImageRef>, size: number): AsyncIterable<Partition> {
  if (!Number.isInteger(size) || size < 1) throw new Error(`partition size must be a positive integer, got ${size}`);
  let batch: ImageRef[] = [];
  let index = 0;
  for await (const img of images) {
    batch.push(img);
    if (batch.length === size) {
      yield { index: index++, images: batch, fingerprint: fingerprintOf(batch) };
      batch = [];
    }
  }
  if (batch.length > 0) yield { index, images: batch, fingerprint: fingerprintOf(batch) };
}
