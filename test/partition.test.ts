// Partitioning: consecutive runs of N images in listing order, numbered from 0, planned as a
// stream; a fingerprint identifies each partition's content, so resume can trust a part only
// when nothing about its images changed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ImageRef } from '../src/source/listing.js';
import { fingerprintOf, partFileName, planPartitions, type Partition } from '../src/source/partition.js';

function refs(n: number, edit?: (r: ImageRef, i: number) => ImageRef): ImageRef[] {
  return Array.from({ length: n }, (_, i) => {
    const r = { key: `c${i % 7}/img-${String(i).padStart(4, '0')}.jpg`, label: `c${i % 7}`, size: 1000 + i };
    return edit ? edit(r, i) : r;
  });
}

async function* stream<T>(items: Iterable<T>): AsyncIterable<T> {
  for (const x of items) yield x;
}

async function plan(images: ImageRef[], size: number): Promise<Partition[]> {
  const out: Partition[] = [];
  for await (const p of planPartitions(stream(images), size)) out.push(p);
  return out;
}

describe('planPartitions', () => {
  it('cuts consecutive runs of N in order, a short remainder split evenly with the last full run, indices from 0', async () => {
    const images = refs(230);
    const parts = await plan(images, 50);
    assert.deepEqual(
      parts.map((p) => p.images.length),
      [50, 50, 50, 40, 40],
    );
    assert.deepEqual((await plan(refs(201), 50)).map((p) => p.images.length), [50, 50, 50, 26, 25]);
    assert.deepEqual((await plan(refs(200), 50)).map((p) => p.images.length), [50, 50, 50, 50], 'no remainder: nothing split');
    assert.deepEqual((await plan(refs(70), 50)).map((p) => p.images.length), [35, 35]);
    assert.deepEqual(
      parts.map((p) => p.index),
      [0, 1, 2, 3, 4],
    );
    assert.deepEqual(
      parts.flatMap((p) => p.images),
      images,
      'every image once, in listing order',
    );
    assert.equal(parts[1].images[0].key, images[50].key);
  });

  it('gives one partition when N is at least the count, and none for no images', async () => {
    assert.deepEqual((await plan(refs(50), 50)).map((p) => p.images.length), [50]);
    assert.deepEqual((await plan(refs(7), 1000)).map((p) => p.images.length), [7]);
    assert.deepEqual(await plan([], 10), []);
  });

  it('is deterministic: the same listing gives the same partitions and fingerprints', async () => {
    const a = await plan(refs(120), 25);
    const b = await plan(refs(120), 25);
    assert.deepEqual(a, b);
    assert.equal(new Set(a.map((p) => p.fingerprint)).size, a.length, 'distinct partitions have distinct fingerprints');
    for (const p of a) assert.match(p.fingerprint, /^[0-9a-f]{64}$/);
  });

  it('changes the fingerprint of exactly the partition whose key, label or size changed', async () => {
    const base = await plan(refs(100), 25);
    const cases: [string, (r: ImageRef, i: number) => ImageRef][] = [
      ['key', (r, i) => (i === 60 ? { ...r, key: r.key.replace('.jpg', '.jpeg') } : r)],
      ['label', (r, i) => (i === 60 ? { ...r, label: 'other' } : r)],
      ['size', (r, i) => (i === 60 ? { ...r, size: r.size + 1 } : r)],
    ];
    for (const [what, edit] of cases) {
      const changed = await plan(refs(100, edit), 25);
      assert.deepEqual(
        changed.map((p, i) => p.fingerprint !== base[i].fingerprint),
        [false, false, true, false],
        `a changed ${what} in image 60 changes partition 2 only`,
      );
    }
  });

  it('changes fingerprints when the partition size changes (same images, other cuts)', async () => {
    const by25 = new Set((await plan(refs(100), 25)).map((p) => p.fingerprint));
    const by20 = await plan(refs(100), 20);
    assert.ok(by20.every((p) => !by25.has(p.fingerprint)));
  });

  it('fingerprints content only, so the same images give the same fingerprint wherever they are', () => {
    const images = refs(10);
    assert.equal(fingerprintOf(images), fingerprintOf(images.map((r) => ({ ...r }))));
    assert.notEqual(fingerprintOf(images), fingerprintOf([...images].reverse()), 'order matters');
  });

  it('rejects a partition size that is not a positive integer', async () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      await assert.rejects(plan(refs(3), bad), /partition size must be a positive integer/);
    }
  });

  it('plans as a stream: a partition is out once the next one is listed, even from an endless listing', async () => {
    let pulled = 0;
    async function* endless(): AsyncIterable<ImageRef> {
      for (let i = 0; ; i++) {
        pulled++;
        yield { key: `k/${i}.jpg`, label: 'k', size: i };
      }
    }
    const seen: number[] = [];
    for await (const p of planPartitions(endless(), 100)) {
      seen.push(p.index);
      assert.ok(pulled <= (p.index + 2) * 100, `partition ${p.index} came out after ${pulled} images were listed`);
      if (seen.length === 3) break;
    }
    assert.deepEqual(seen, [0, 1, 2]);
  });
});

describe('partFileName', () => {
  it('pads to five digits so names sort in index order', () => {
    assert.equal(partFileName(0), 'part-00000.parquet');
    assert.equal(partFileName(42, 'json'), 'part-00042.json');
    assert.equal(partFileName(123456), 'part-123456.parquet');
  });
});
