// Matrix–vector product y = A·x in WebAssembly SIMD (f64x2), on matrices that live in a wasm
// memory arena.
//
// Why: the Householder tridiagonalisation needs one GEMV against the trailing matrix per column
// (half its flops, and memory-bound). Measured on this machine for a 1280×1280 float64 matrix:
// ~3 G elements/s here (SIMD, two rows per pass sharing the loads of x) against 1.1 for a JS loop
// and ~1.3 per CPU-second for ONNX Runtime's MatMul with N = 1 (MLAS has no float64 GEMV, and each
// call also pays the session overhead: 35 µs at 64×64, where this takes 1 µs).
import { F64, I32, V128, encodeModule, wasm as w, whileLoop, type FunctionSpec, type ValueType } from './wasm-module.js';

// gemv(pA, rows, cols, stride, pX, pY): y[r] = Σ_{i<cols} A[r·stride + i]·x[i]; pointers in bytes.
const P = { a: 0, rows: 1, cols: 2, stride: 3, x: 4, y: 5 } as const;
const L = {
  r: 6, p: 7, i: 8, end4: 9, rowBytes: 10, colBytes: 11, // i32
  acc: [12, 13, 14, 15], xa: 16, xb: 17, // v128: two accumulators per row, x[i…i+3]
  tail: [18, 19], xs: 20, // f64
  rowPtr: [21, 22], // i32
} as const;

/** The dot products of `rows` (1 or 2) consecutive rows starting at p, stored to y[r…]. */
function dotRows(rows: 1 | 2): number[] {
  const out: number[] = [];
  for (let k = 0; k < rows; k++) {
    out.push(...w.get(L.p), ...(k ? [...w.get(L.rowBytes), ...w.i32Add] : []), ...w.set(L.rowPtr[k]));
    out.push(...w.v128Zero, ...w.set(L.acc[2 * k]), ...w.v128Zero, ...w.set(L.acc[2 * k + 1]), ...w.f64Zero, ...w.set(L.tail[k]));
  }
  out.push(...w.i32(0), ...w.set(L.i));
  const vectorBody = [
    ...w.get(P.x), ...w.get(L.i), ...w.i32Add, ...w.v128Load(0), ...w.set(L.xa),
    ...w.get(P.x), ...w.get(L.i), ...w.i32Add, ...w.v128Load(16), ...w.set(L.xb),
  ];
  for (let k = 0; k < rows; k++) {
    for (const [half, xv] of [[0, L.xa], [1, L.xb]] as const) {
      const acc = L.acc[2 * k + half];
      vectorBody.push(...w.get(acc), ...w.get(L.rowPtr[k]), ...w.get(L.i), ...w.i32Add, ...w.v128Load(16 * half));
      vectorBody.push(...w.get(xv), ...w.f64x2Mul, ...w.f64x2Add, ...w.set(acc));
    }
  }
  vectorBody.push(...w.get(L.i), ...w.i32(32), ...w.i32Add, ...w.set(L.i));
  out.push(...whileLoop([...w.get(L.i), ...w.get(L.end4), ...w.i32LtU], vectorBody));
  const scalarBody = [...w.get(P.x), ...w.get(L.i), ...w.i32Add, ...w.f64Load(0), ...w.set(L.xs)];
  for (let k = 0; k < rows; k++) {
    scalarBody.push(...w.get(L.tail[k]), ...w.get(L.rowPtr[k]), ...w.get(L.i), ...w.i32Add, ...w.f64Load(0));
    scalarBody.push(...w.get(L.xs), ...w.f64Mul, ...w.f64Add, ...w.set(L.tail[k]));
  }
  scalarBody.push(...w.get(L.i), ...w.i32(8), ...w.i32Add, ...w.set(L.i));
  out.push(...whileLoop([...w.get(L.i), ...w.get(L.colBytes), ...w.i32LtU], scalarBody));
  for (let k = 0; k < rows; k++) {
    const [a0, a1] = [L.acc[2 * k], L.acc[2 * k + 1]];
    out.push(...w.get(P.y), ...w.get(L.r), ...w.i32(3), ...w.i32Shl, ...w.i32Add);
    out.push(...w.get(a0), ...w.get(a1), ...w.f64x2Add, ...w.tee(a0), ...w.f64x2Lane(0), ...w.get(a0), ...w.f64x2Lane(1), ...w.f64Add);
    out.push(...w.get(L.tail[k]), ...w.f64Add, ...w.f64Store(8 * k));
  }
  // advance to the next rows
  out.push(...w.get(L.p), ...w.get(L.rowBytes), ...(rows === 2 ? [...w.i32(1), ...w.i32Shl] : []), ...w.i32Add, ...w.set(L.p));
  out.push(...w.get(L.r), ...w.i32(rows), ...w.i32Add, ...w.set(L.r));
  return out;
}

const gemvSpec = (): FunctionSpec => ({
  name: 'gemv',
  params: [I32, I32, I32, I32, I32, I32],
  locals: [I32, I32, I32, I32, I32, I32, V128, V128, V128, V128, V128, V128, F64, F64, F64, I32, I32],
  body: [
    ...w.get(P.stride), ...w.i32(3), ...w.i32Shl, ...w.set(L.rowBytes),
    ...w.get(P.cols), ...w.i32(3), ...w.i32Shl, ...w.set(L.colBytes),
    ...w.get(P.cols), ...w.i32(-4), ...w.i32And, ...w.i32(3), ...w.i32Shl, ...w.set(L.end4),
    ...w.get(P.a), ...w.set(L.p),
    ...whileLoop([...w.get(L.r), ...w.i32(1), ...w.i32Add, ...w.get(P.rows), ...w.i32LtU], dotRows(2)),
    ...whileLoop([...w.get(L.r), ...w.get(P.rows), ...w.i32LtU], dotRows(1)),
  ],
});

// symv(pA, n, stride, pX, pY): y = A·x for a symmetric A of which only the lower triangle
// (A[r·stride + i], i ≤ r) is read — half the memory traffic of gemv: row r gives the dot product
// for y[r] and, by symmetry, adds A[r,i]·x[r] to every y[i < r] in the same pass. Rows go four at
// a time so that each x[i] and y[i] is loaded and y[i] stored once per four rows (1,280 × 1,280:
// ~1.8 → ~3 G matrix elements/s here); their 4×4 corner and the last n mod 4 rows are scalar.
const SYMV_ROWS = 4;
const Q = { a: 0, n: 1, stride: 2, x: 3, y: 4 } as const;
const M = {
  r: 5, i: 6, end2: 7, rowBytes: 8, colBytes: 9, p: 10, // i32: colBytes = r·8, end2 its even part
  rowPtr: [11, 12, 13, 14], // i32: rows r … r+3
  acc: [15, 16, 17, 18], xr: [19, 20, 21, 22], av: 23, xv: 24, yv: 25, // v128
  tail: [26, 27, 28, 29], s: 30, // f64
} as const;
const SYMV_LOCALS: ValueType[] = [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, V128, V128, V128, V128, V128, V128, V128, V128, V128, V128, V128, F64, F64, F64, F64, F64];

/** Rows r … r+R−1 of the lower triangle: columns before r in SIMD, then their R×R corner. */
function symvRows(R: 1 | 2 | 4): number[] {
  const out: number[] = [];
  const at = (base: number, offset: number[]) => [...w.get(base), ...offset, ...w.i32Add];
  out.push(...w.get(M.r), ...w.i32(3), ...w.i32Shl, ...w.set(M.colBytes));
  out.push(...w.get(M.colBytes), ...w.i32(-16), ...w.i32And, ...w.set(M.end2));
  for (let k = 0; k < R; k++) {
    out.push(...w.get(M.p), ...(k ? [...w.get(M.rowBytes), ...w.i32(k), ...w.i32Mul, ...w.i32Add] : []), ...w.set(M.rowPtr[k]));
    out.push(...at(Q.x, w.get(M.colBytes)), ...w.f64Load(8 * k), ...w.f64x2Splat, ...w.set(M.xr[k]));
    out.push(...w.v128Zero, ...w.set(M.acc[k]), ...w.f64Zero, ...w.set(M.tail[k]));
  }
  out.push(...w.i32(0), ...w.set(M.i));
  // Two columns per step: x and y loaded once for the R rows, y stored once.
  const vectorBody = [...at(Q.x, w.get(M.i)), ...w.v128Load(0), ...w.set(M.xv), ...at(Q.y, w.get(M.i)), ...w.v128Load(0), ...w.set(M.yv)];
  // y's update as a sum tree over the rows (a chain of R dependent adds would bound the loop).
  for (let k = 0; k < R; k++) {
    vectorBody.push(...at(M.rowPtr[k], w.get(M.i)), ...w.v128Load(0), ...w.tee(M.av));
    vectorBody.push(...w.get(M.xr[k]), ...w.f64x2Mul);
    if (k % 2 === 1) vectorBody.push(...w.f64x2Add);
    if (k === 3) vectorBody.push(...w.f64x2Add);
    vectorBody.push(...w.get(M.acc[k]), ...w.get(M.av), ...w.get(M.xv), ...w.f64x2Mul, ...w.f64x2Add, ...w.set(M.acc[k]));
  }
  vectorBody.push(...w.get(M.yv), ...w.f64x2Add, ...w.set(M.yv));
  vectorBody.push(...at(Q.y, w.get(M.i)), ...w.get(M.yv), ...w.v128Store(0));
  vectorBody.push(...w.get(M.i), ...w.i32(16), ...w.i32Add, ...w.set(M.i));
  out.push(...whileLoop([...w.get(M.i), ...w.get(M.end2), ...w.i32LtU], vectorBody));
  // An odd column left (r odd): scalar.
  const scalarBody: number[] = [];
  for (let k = 0; k < R; k++) {
    scalarBody.push(...at(M.rowPtr[k], w.get(M.i)), ...w.f64Load(0), ...w.set(M.s));
    scalarBody.push(...w.get(M.tail[k]), ...w.get(M.s), ...at(Q.x, w.get(M.i)), ...w.f64Load(0), ...w.f64Mul, ...w.f64Add, ...w.set(M.tail[k]));
    scalarBody.push(...at(Q.y, w.get(M.i)), ...at(Q.y, w.get(M.i)), ...w.f64Load(0), ...w.get(M.s), ...w.get(M.xr[k]), ...w.f64x2Lane(0), ...w.f64Mul, ...w.f64Add, ...w.f64Store(0));
  }
  scalarBody.push(...w.get(M.i), ...w.i32(8), ...w.i32Add, ...w.set(M.i));
  out.push(...whileLoop([...w.get(M.i), ...w.get(M.colBytes), ...w.i32LtU], scalarBody));
  // The corner: row r+a against columns r … r+a (constant offsets from column r).
  for (let a = 0; a < R; a++) {
    out.push(...w.get(M.acc[a]), ...w.f64x2Lane(0), ...w.get(M.acc[a]), ...w.f64x2Lane(1), ...w.f64Add, ...w.get(M.tail[a]), ...w.f64Add, ...w.set(M.s));
    for (let b = 0; b < a; b++) {
      const aij = [...at(M.rowPtr[a], w.get(M.colBytes)), ...w.f64Load(8 * b)];
      out.push(...w.get(M.s), ...aij, ...at(Q.x, w.get(M.colBytes)), ...w.f64Load(8 * b), ...w.f64Mul, ...w.f64Add, ...w.set(M.s));
      out.push(...at(Q.y, w.get(M.colBytes)), ...at(Q.y, w.get(M.colBytes)), ...w.f64Load(8 * b), ...aij, ...w.get(M.xr[a]), ...w.f64x2Lane(0), ...w.f64Mul, ...w.f64Add, ...w.f64Store(8 * b));
    }
    // y[r+a] += s + A[r+a, r+a]·x[r+a]
    out.push(...at(Q.y, w.get(M.colBytes)), ...at(Q.y, w.get(M.colBytes)), ...w.f64Load(8 * a), ...w.get(M.s), ...w.f64Add);
    out.push(...at(M.rowPtr[a], w.get(M.colBytes)), ...w.f64Load(8 * a), ...w.get(M.xr[a]), ...w.f64x2Lane(0), ...w.f64Mul, ...w.f64Add, ...w.f64Store(8 * a));
  }
  out.push(...w.get(M.p), ...w.get(M.rowBytes), ...w.i32(R), ...w.i32Mul, ...w.i32Add, ...w.set(M.p));
  out.push(...w.get(M.r), ...w.i32(R), ...w.i32Add, ...w.set(M.r));
  return out;
}

const symvSpec = (): FunctionSpec => ({
  name: 'symv',
  params: [I32, I32, I32, I32, I32],
  locals: SYMV_LOCALS,
  body: [
    ...w.get(Q.stride), ...w.i32(3), ...w.i32Shl, ...w.set(M.rowBytes),
    ...w.get(Q.a), ...w.set(M.p),
    // y = 0: every row adds to it.
    ...whileLoop([...w.get(M.r), ...w.get(Q.n), ...w.i32LtU], [
      ...w.get(Q.y), ...w.get(M.r), ...w.i32(3), ...w.i32Shl, ...w.i32Add, ...w.f64Zero, ...w.f64Store(0),
      ...w.get(M.r), ...w.i32(1), ...w.i32Add, ...w.set(M.r),
    ]),
    ...w.i32(0), ...w.set(M.r),
    ...whileLoop([...w.get(M.r), ...w.i32(SYMV_ROWS - 1), ...w.i32Add, ...w.get(Q.n), ...w.i32LtU], symvRows(SYMV_ROWS)),
    ...whileLoop([...w.get(M.r), ...w.get(Q.n), ...w.i32LtU], symvRows(1)),
  ],
});

// subtract(pDst, dstStride, pSrc, srcStride, rows, cols): dst[r·dstStride + c] −= src[r·srcStride + c],
// two columns per step: a block update computed by ORT into a contiguous buffer, applied in place
// to a strided block of the matrix (no copy of the matrix into and out of ORT).
const U = { dst: 0, dstStride: 1, src: 2, srcStride: 3, rows: 4, cols: 5 } as const;
const UL = { r: 6, i: 7, end2: 8, colBytes: 9 } as const;

const subtractSpec = (): FunctionSpec => {
  const at = (base: number) => [...w.get(base), ...w.get(UL.i), ...w.i32Add];
  return {
    name: 'subtract',
    params: [I32, I32, I32, I32, I32, I32],
    locals: [I32, I32, I32, I32],
    body: [
      ...w.get(U.dstStride), ...w.i32(3), ...w.i32Shl, ...w.set(U.dstStride),
      ...w.get(U.srcStride), ...w.i32(3), ...w.i32Shl, ...w.set(U.srcStride),
      ...w.get(U.cols), ...w.i32(3), ...w.i32Shl, ...w.set(UL.colBytes),
      ...w.get(UL.colBytes), ...w.i32(-16), ...w.i32And, ...w.set(UL.end2),
      ...whileLoop([...w.get(UL.r), ...w.get(U.rows), ...w.i32LtU], [
        ...w.i32(0), ...w.set(UL.i),
        ...whileLoop([...w.get(UL.i), ...w.get(UL.end2), ...w.i32LtU], [
          ...at(U.dst), ...at(U.dst), ...w.v128Load(0), ...at(U.src), ...w.v128Load(0), ...w.f64x2Sub, ...w.v128Store(0),
          ...w.get(UL.i), ...w.i32(16), ...w.i32Add, ...w.set(UL.i),
        ]),
        ...whileLoop([...w.get(UL.i), ...w.get(UL.colBytes), ...w.i32LtU], [
          ...at(U.dst), ...at(U.dst), ...w.f64Load(0), ...at(U.src), ...w.f64Load(0), ...w.f64Sub, ...w.f64Store(0),
          ...w.get(UL.i), ...w.i32(8), ...w.i32Add, ...w.set(UL.i),
        ]),
        ...w.get(U.dst), ...w.get(U.dstStride), ...w.i32Add, ...w.set(U.dst),
        ...w.get(U.src), ...w.get(U.srcStride), ...w.i32Add, ...w.set(U.src),
        ...w.get(UL.r), ...w.i32(1), ...w.i32Add, ...w.set(UL.r),
      ]),
    ],
  };
};

let compiled: WebAssembly.Module | undefined;

const PAGE = 65536;
/** wasm32 addresses: 4 GiB of memory at most. */
const MAX_PAGES = 65536;

/**
 * Float64Arrays carved out of one wasm memory, and the SIMD kernels that work on them. Sized once
 * (growing a wasm memory would detach every view handed out).
 */
export class SimdArena {
  private readonly memory: WebAssembly.Memory;
  private readonly gemvFn: (a: number, rows: number, cols: number, stride: number, x: number, y: number) => void;
  private readonly symvFn: (a: number, n: number, stride: number, x: number, y: number) => void;
  private readonly subtractFn: (dst: number, dstStride: number, src: number, srcStride: number, rows: number, cols: number) => void;
  private used = 0;

  /** An arena for `values` float64 values in all (each allocation is rounded up to 16 bytes). */
  constructor(values: number) {
    const pages = Math.ceil((values * 8 + PAGE) / PAGE);
    if (pages > MAX_PAGES) throw new RangeError(`SIMD arena of ${values} float64 values exceeds the 4 GiB of a wasm memory`);
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    // Built on first use: encoding the kernels' bytes is ~25 ms of JS, which every worker would
    // otherwise pay at start-up whether or not it fits a PCA.
    compiled ??= new WebAssembly.Module(encodeModule([gemvSpec(), symvSpec(), subtractSpec()]));
    const instance = new WebAssembly.Instance(compiled, { env: { memory: this.memory } });
    this.gemvFn = instance.exports.gemv as typeof this.gemvFn;
    this.symvFn = instance.exports.symv as typeof this.symvFn;
    this.subtractFn = instance.exports.subtract as typeof this.subtractFn;
  }

  /** A zeroed Float64Array of `length` values inside the arena. */
  f64(length: number): Float64Array {
    const bytes = Math.ceil((length * 8) / 16) * 16;
    if (this.used + bytes > this.memory.buffer.byteLength) throw new RangeError('internal: SIMD arena exhausted');
    const view = new Float64Array(this.memory.buffer, this.used, length);
    this.used += bytes;
    return view;
  }

  private address(view: Float64Array, what: string): number {
    if (view.buffer !== this.memory.buffer) throw new Error(`internal: ${what} is not in this SIMD arena`);
    return view.byteOffset;
  }

  /**
   * y[r] = Σ_{i<cols} a[r·stride + i]·x[i] for r < rows. `a`, `x`, `y` are views into this arena
   * (subarrays allowed: a starts at the first row's first used column).
   */
  gemv(a: Float64Array, rows: number, cols: number, stride: number, x: Float64Array, y: Float64Array): void {
    if (rows === 0) return;
    if (a.length < (rows - 1) * stride + cols || x.length < cols || y.length < rows) throw new RangeError('internal: gemv operand too short');
    this.gemvFn(this.address(a, 'gemv matrix'), rows, cols, stride, this.address(x, 'gemv x'), this.address(y, 'gemv y'));
  }

  /**
   * y = A·x for the symmetric n×n matrix A stored with row stride `stride`, reading only its
   * lower triangle (a[r·stride + i], i ≤ r). `a`, `x`, `y` are views into this arena; y is
   * overwritten and may not overlap x.
   */
  symv(a: Float64Array, n: number, stride: number, x: Float64Array, y: Float64Array): void {
    if (n === 0) return;
    if (a.length < (n - 1) * stride + n || x.length < n || y.length < n) throw new RangeError('internal: symv operand too short');
    this.symvFn(this.address(a, 'symv matrix'), n, stride, this.address(x, 'symv x'), this.address(y, 'symv y'));
  }

  /**
   * dst[r·dstStride + c] −= src[r·srcStride + c] for r < rows, c < cols; both views into this arena
   * (subarrays starting at the blocks' first entries), not overlapping.
   */
  subtract(dst: Float64Array, dstStride: number, src: Float64Array, srcStride: number, rows: number, cols: number): void {
    if (rows === 0 || cols === 0) return;
    if (dst.length < (rows - 1) * dstStride + cols || src.length < (rows - 1) * srcStride + cols) throw new RangeError('internal: subtract operand too short');
    this.subtractFn(this.address(dst, 'subtract target'), dstStride, this.address(src, 'subtract source'), srcStride, rows, cols);
  }
}
