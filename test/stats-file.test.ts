// Binary statistics files: exact round trip, compact size, and clear rejection of corrupt input.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createStats, decodePackedStats, decodeStats, encodePackedStats, encodeStats, mergeAll, mergePackedInto, mergeTree, statsOfRows, StatsFileError } from '../src/stats/index.js';
import { seeded } from './fixtures/pca/fixtures.js';

async function sample(d: number) {
  const rnd = seeded(11);
  const n = 25;
  const rows = Float32Array.from({ length: n * d }, () => rnd() * 6);
  return statsOfRows(rows, n, d);
}

describe('stats file', () => {
  test('round-trips bit for bit', async () => {
    const s = await sample(13);
    const back = decodeStats(encodeStats(s));
    assert.equal(back.dim, 13);
    assert.equal(back.count, s.count);
    assert.deepEqual(back.mean, s.mean);
    assert.deepEqual(back.min, s.min);
    assert.deepEqual(back.max, s.max);
    assert.deepEqual(back.m2, s.m2);
  });

  test('round-trips empty statistics (infinite min/max)', () => {
    const back = decodeStats(encodeStats(createStats(3)));
    assert.equal(back.count, 0);
    assert.deepEqual(Array.from(back.min), [Infinity, Infinity, Infinity]);
    assert.deepEqual(Array.from(back.max), [-Infinity, -Infinity, -Infinity]);
  });

  test('stores the symmetric cross-product once (upper triangle)', async () => {
    const d = 13;
    assert.equal(encodeStats(await sample(d)).length, 24 + 8 * (3 * d + (d * (d + 1)) / 2) + 4);
  });

  test('a packed merge of files (read from Buffers at any offset) writes the very bytes of a full merge', async () => {
    const d = 11;
    const rnd = seeded(5);
    const parts = await Promise.all(
      [3, 8, 1, 20, 6].map((n, p) => statsOfRows(Float32Array.from({ length: n * d }, () => rnd() * 6 * (p + 1)), n, d)),
    );
    const expected = encodeStats(mergeAll([...parts, createStats(d)]));
    // A file read into a larger Buffer at an odd offset, as a pooled read could hand it over.
    const asRead = (bytes: Uint8Array) => Buffer.concat([Buffer.from([1, 2, 3]), bytes]).subarray(3);
    const packed = [...parts, createStats(d)].map((s) => decodePackedStats(asRead(encodeStats(s))));
    assert.deepEqual(encodePackedStats(mergeTree(packed, mergePackedInto)), expected);
  });

  test('rejects foreign, truncated, extended, corrupt and future files with a clear message', async () => {
    const good = encodeStats(await sample(5));
    const mutate = (f: (b: Uint8Array) => Uint8Array) => f(good.slice());
    const cases: [Uint8Array, RegExp][] = [
      [new Uint8Array(10), /parts\.bin: too short/],
      [mutate((b) => ((b[0] = 0x50), b)), /not a fruits feature-statistics file/],
      [mutate((b) => ((b[8] = 2), b)), /unsupported format version 2 \(this build reads 1\)/],
      [good.slice(0, good.length - 9), /truncated: dimension 5 needs \d+ bytes/],
      [Uint8Array.from([...good, 0]), /trailing bytes/],
      [mutate((b) => ((b[12] = 6), b)), /truncated: dimension 6/],
      [mutate((b) => ((b[100] ^= 0x10), b)), /checksum mismatch/],
    ];
    for (const [bytes, message] of cases) {
      assert.throws(() => decodeStats(bytes, 'parts.bin'), (e: unknown) => e instanceof StatsFileError && message.test(e.message));
    }
  });
});
