// The index of a features dataset: one entry per image (key, size, version, sha256, its part or
// why it was rejected), in byte-wise key order, in chunk files under _index/. An update merges
// it with the sorted listing in one streaming pass, so memory stays flat however many images the
// dataset holds, and no Parquet part is opened to learn what the dataset contains.
//
// Chunk boundaries depend on the keys alone (a boundary after a key whose hash ends in enough
// zero bits), so an insertion changes only the chunk it falls in; chunks are named after their
// content, so an unchanged chunk is never written again.
import { crc32 } from 'node:zlib';
import type { Store } from '../storage/store.js';
import { sha256Hex } from '../util/hash.js';
import { UserError } from '../util/errors.js';
import { INDEX_DIR, indexEntrySchema, type IndexChunk, type IndexEntry } from './formats.js';
import { compareBytewise } from '../util/byte-order.js';

/** Mean entries per chunk (a power of two), and the most one chunk may hold. */
const MEAN_CHUNK = 2048;
const MAX_CHUNK = 8 * MEAN_CHUNK;

export function isBoundary(key: string): boolean {
  return (crc32(key) & (MEAN_CHUNK - 1)) === 0;
}

export class IndexWriter {
  private lines: string[] = [];
  private first = '';
  private last = '';
  readonly chunks: IndexChunk[] = [];
  private written = 0;

  constructor(private readonly store: Store) {}

  async add(e: IndexEntry): Promise<void> {
    if (this.written + this.lines.length > 0 && compareBytewise(this.last, e.k) >= 0) throw new Error(`index out of order: ${this.last} then ${e.k}`);
    if (this.lines.length === 0) this.first = e.k;
    this.last = e.k;
    this.lines.push(JSON.stringify(e));
    if (isBoundary(e.k) || this.lines.length >= MAX_CHUNK) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.lines.length === 0) return;
    const text = `${this.lines.join('\n')}\n`;
    const file = `${INDEX_DIR}/${sha256Hex(text).slice(0, 32)}.jsonl`;
    if (!(await this.store.exists(file))) await this.store.write(file, text);
    this.chunks.push({ file, first: this.first, last: this.last, count: this.lines.length });
    this.written += this.lines.length;
    this.lines = [];
  }

  /** Writes the last chunk; returns the chunk list for the manifest. */
  async close(): Promise<IndexChunk[]> {
    await this.flush();
    return this.chunks;
  }
}

/** Every entry of the index, in key order, one chunk in memory at a time. */
export async function* readIndex(store: Store, chunks: readonly IndexChunk[]): AsyncIterable<IndexEntry> {
  for (const c of chunks) {
    const lines = (await store.read(c.file)).toString('utf8').split('\n');
    let n = 0;
    for (const line of lines) {
      if (line === '') continue;
      const r = indexEntrySchema.safeParse(JSON.parse(line));
      if (!r.success) throw new UserError(`${store.uriOf(c.file)}: damaged index chunk (line ${n + 1})`);
      n++;
      yield r.data;
    }
    if (n !== c.count) throw new UserError(`${store.uriOf(c.file)}: damaged index chunk (${n} entries, the manifest says ${c.count})`);
  }
}

/** Removes chunk files no version refers to any more. */
export async function removeUnusedChunks(store: Store, chunks: readonly IndexChunk[]): Promise<void> {
  const used = new Set(chunks.map((c) => c.file));
  const unused: string[] = [];
  for await (const o of store.list(INDEX_DIR)) if (!used.has(o.key)) unused.push(o.key);
  for (const key of unused) await store.deletePrefix(key);
}
