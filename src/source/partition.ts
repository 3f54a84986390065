// Deterministic partitions: consecutive runs of N images in listing order, numbered from 0.
// Planned as a stream, so a listing of millions of keys never sits in memory at once.
import { sha256Hex } from '../util/hash.js';
import type { Store } from '../storage/store.js';
import { PLAN_DIR, planSchema } from '../sink/formats.js';
import type { ImageRef } from './listing.js';
import { PermanentError } from '../util/errors.js';

export interface Partition {
  index: number;
  images: ImageRef[];
  /** Identifies the partition's content (keys, labels, sizes): resume trusts a part only if it matches. */
  fingerprint: string;
  /** The part file it becomes, when not partFileName(index) (parts of later versions). */
  file?: string;
}

export function partFileName(index: number, ext = 'parquet'): string {
  return `part-${String(index).padStart(5, '0')}.${ext}`;
}

/** Part names of version ≥ 2 carry the version: they never collide with a part of another version. */
export function versionedPartFileName(version: number, index: number): string {
  return `part-v${String(version).padStart(5, '0')}-${String(index).padStart(5, '0')}.parquet`;
}

export function fingerprintOf(images: readonly ImageRef[]): string {
  return sha256Hex(images.map((i) => `${i.key}\u0000${i.label}\u0000${i.size}`).join('\n'));
}

/**
 * Cuts a stream of items into runs of `size`, the last two sharing a short remainder evenly: the
 * last full run waits until the stream shows what follows it. A short last task left one worker
 * idle at the end of every run (12,000 photos in parts of 1,024: 288 photos' work, ~2 % of the
 * run); two halves of between size/2 and size items end together, and neither counts as
 * undersized for compaction. Full runs and updates cut their new parts with it.
 */
export class TailBalancedRuns<T> {
  private held: T[] | undefined;
  private batch: T[] = [];

  constructor(private readonly size: number) {}

  /** Adds an item; returns the run it lets go, if any. */
  push(item: T): T[] | undefined {
    this.batch.push(item);
    if (this.batch.length < this.size) return undefined;
    const out = this.held;
    this.held = this.batch;
    this.batch = [];
    return out;
  }

  /** The runs left at the end of the stream (none, one, or the two halves). */
  finish(): T[][] {
    const { held, batch } = this;
    if (held && batch.length > 0) {
      const both = held.concat(batch);
      const half = Math.ceil(both.length / 2);
      return [both.slice(0, half), both.slice(half)];
    }
    return [held, batch].filter((run): run is T[] => run !== undefined && run.length > 0);
  }
}

export async function* planPartitions(images: AsyncIterable<ImageRef>, size: number): AsyncIterable<Partition> {
  if (!Number.isInteger(size) || size < 1) throw new Error(`partition size must be a positive integer, got ${size}`);
  const partition = (index: number, list: ImageRef[]): Partition => ({ index, images: list, fingerprint: fingerprintOf(list) });
  const runs = new TailBalancedRuns<ImageRef>(size);
  let index = 0;
  for await (const img of images) {
    const run = runs.push(img);
    if (run) yield partition(index++, run);
  }
  for (const run of runs.finish()) yield partition(index++, run);
}

export function planKey(index: number): string {
  return `${PLAN_DIR}/${partFileName(index, 'json')}`;
}

/** The plan file of a partition: written by the coordinator, read by the task that runs it. */
export async function writePlan(store: Store, p: Partition, key = planKey(p.index)): Promise<string> {
  await store.write(key, JSON.stringify(p));
  return key;
}

export async function readPlan(store: Store, key: string): Promise<Partition> {
  const damaged = () => new PermanentError(`${store.uriOf(key)}: damaged partition plan`); // the same bytes fail every attempt
  let raw: unknown;
  try {
    raw = JSON.parse((await store.read(key)).toString('utf8'));
  } catch (err) {
    if (err instanceof SyntaxError) throw damaged();
    throw err; // a storage error may pass
  }
  const r = planSchema.safeParse(raw);
  if (!r.success || r.data.fingerprint !== fingerprintOf(r.data.images)) throw damaged();
  const p: Partition = r.data;
  return p;
}
