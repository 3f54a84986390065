// The WebAssembly SIMD matrix–vector kernels of the eigensolver against plain loops: every tail
// case of the vector loops (lengths 0–9 and not multiples of 4), odd row counts (the two-row
// pass of gemv, the four-row pass of symv), strides and offsets inside a larger matrix, and views from outside the arena.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SimdArena } from '../src/kernels/simd-gemv.js';
import { assertClose, seeded } from './fixtures/pca/fixtures.js';

const STRIDE = 41;
const ROWS = 37;

function setUp() {
  const arena = new SimdArena(ROWS * STRIDE + 4 * STRIDE + 64);
  const a = arena.f64(ROWS * STRIDE);
  const x = arena.f64(STRIDE);
  const y = arena.f64(STRIDE);
  const rnd = seeded(7);
  for (let i = 0; i < ROWS; i++) {
    for (let j = 0; j <= i && j < STRIDE; j++) {
      const v = rnd() - 0.5;
      a[i * STRIDE + j] = v;
      if (j < ROWS && i < STRIDE) a[j * STRIDE + i] = v; // symmetric on the leading square
    }
  }
  for (let i = 0; i < STRIDE; i++) x[i] = rnd() * 2 - 1;
  return { arena, a, x, y };
}

function reference(a: Float64Array, rows: number, cols: number, stride: number, x: Float64Array): number[] {
  return Array.from({ length: rows }, (_, r) => {
    let acc = 0;
    for (let i = 0; i < cols; i++) acc += a[r * stride + i] * x[i];
    return acc;
  });
}

describe('SIMD kernels', () => {
  test('gemv: all row counts and column tails, with a stride and an offset', () => {
    const { arena, a, x, y } = setUp();
    for (const offset of [0, STRIDE + 3]) {
      for (let rows = 0; rows <= 5; rows++) {
        for (let cols = 0; cols <= 9; cols++) {
          y.fill(NaN);
          arena.gemv(a.subarray(offset), rows, cols, STRIDE, x, y);
          assertClose(y.subarray(0, rows), reference(a.subarray(offset), rows, cols, STRIDE, x), 1e-15, 1e-15, `gemv ${rows}×${cols} at ${offset}`);
          if (rows < STRIDE) assert.ok(Number.isNaN(y[rows]), 'writes nothing past y[rows − 1]');
        }
      }
    }
    arena.gemv(a, ROWS - 2, STRIDE - 3, STRIDE, x, y);
    assertClose(y.subarray(0, ROWS - 2), reference(a, ROWS - 2, STRIDE - 3, STRIDE, x), 1e-14, 1e-14, 'gemv 35×38');
  });

  test('symv reads only the lower triangle and equals the full product', () => {
    const { arena, a, x, y } = setUp();
    // Every n mod 4 (the four-row passes and the rows left), odd and even column counts before a pass.
    const sizes = [[1, 0], [2, 0], [3, STRIDE + 1], [4, 0], [5, 2 * STRIDE + 2], [6, STRIDE + 1], [7, 0], [8, 3 * STRIDE + 3], [9, 0], [10, 2 * STRIDE + 2], [11, 0], [13, 0], [ROWS - 1, STRIDE + 1], [ROWS, 0]];
    for (const [n, offset] of sizes) {
      const view = a.subarray(offset);
      const expected = reference(view, n, n, STRIDE, x);
      // Poison the strict upper triangle: symv must not read it.
      const saved = a.slice();
      for (let r = 0; r < n; r++) for (let i = r + 1; i < n; i++) view[r * STRIDE + i] = NaN;
      y.fill(NaN);
      arena.symv(view, n, STRIDE, x, y);
      a.set(saved);
      assertClose(y.subarray(0, n), expected, 1e-14, 1e-14, `symv ${n} at ${offset}`);
      if (n < STRIDE) assert.ok(Number.isNaN(y[n]), 'writes nothing past y[n − 1]');
    }
  });

  test('refuses views that are not in the arena, and operands too short', () => {
    const { arena, a, x, y } = setUp();
    const other = new SimdArena(16).f64(16);
    assert.throws(() => arena.gemv(new Float64Array(16), 2, 2, 2, x, y), /not in this SIMD arena/);
    assert.throws(() => arena.symv(a, 2, STRIDE, other, y), /not in this SIMD arena/);
    assert.throws(() => arena.gemv(a, ROWS + 1, STRIDE, STRIDE, x, y), /too short/);
    assert.throws(() => arena.f64(1 << 20), /arena exhausted/);
  });
});
