// The preprocessing (uint8 RGB photos → normalised, bilinearly resized float NCHW batch) in a
// WebAssembly SIMD kernel, bit-identical to the graph nodes of graph-edit.ts as ONNX Runtime
// runs them: the per-channel affine map is a 256-entry table per channel (Cast, Mul, Add on
// a byte give exactly those float32 values), and each output is ORT's bilinear formula
// (((dx2·dy2)·X11 + (dx1·dy2)·X21) + (dx2·dy1)·X12) + (dx1·dy1)·X22 in float32, same weights,
// same order (float32 products and sums are correctly rounded in both, so the bits agree).
//
// Why: in the spliced graph the preprocessing cost ~0.42 ms of CPU per 100×100 photo against
// ~7.7 ms for the network (ORT's Resize alone 0.24 ms: four indexed loads per output); here it
// is ~0.16 ms. Four outputs of a row take their inputs from a window of at most eight floats of
// an input row (upsampling, or downsampling by at most 2), so one pair of 16-byte loads and byte
// swizzles gathers them. Other geometries (and output widths not a multiple of 4, NHWC inputs)
// are refused (supports, accepts); the featurizer runs the graph then.
// Test: test/preprocess-simd.test.ts.
import { I32, V128, encodeModule, wasm as w, whileLoop, type FunctionSpec } from '../kernels/wasm-module.js';
import { channelAffine, type ModelSpec } from './spec.js';

const f = Math.fround;

// toPlanes(pImg, pixels, pLut, pPlanes, planeBytes): plane c, float i = lut[c][img[3i + c]].
const toPlanesSpec = (): FunctionSpec => {
  const P = { img: 0, pixels: 1, lut: 2, planes: 3, planeBytes: 4 } as const;
  const L = { i: 5, src: 6, dst: 7 } as const;
  const body: number[] = [];
  for (let c = 0; c < 3; c++) {
    // dst + c·planeBytes ← lut[c·256 + img[src + c]]
    body.push(...w.get(L.dst), ...(c ? [...w.get(P.planeBytes), ...w.i32(c), ...w.i32Mul, ...w.i32Add] : []));
    body.push(...w.get(L.src), ...w.i32Load8U(c), ...w.i32(2), ...w.i32Shl, ...w.get(P.lut), ...w.i32Add, ...w.f32Load(1024 * c));
    body.push(...w.f32Store(0));
  }
  body.push(...w.get(L.src), ...w.i32(3), ...w.i32Add, ...w.set(L.src));
  body.push(...w.get(L.dst), ...w.i32(4), ...w.i32Add, ...w.set(L.dst));
  body.push(...w.get(L.i), ...w.i32(1), ...w.i32Add, ...w.set(L.i));
  return {
    name: 'toPlanes',
    params: [I32, I32, I32, I32, I32],
    locals: [I32, I32, I32],
    body: [...w.get(P.img), ...w.set(L.src), ...w.get(P.planes), ...w.set(L.dst), ...whileLoop([...w.get(L.i), ...w.get(P.pixels), ...w.i32LtU], body)],
  };
};

// Row table: per output row, 16 bytes [r1 byte offset, r2 byte offset, dy1, dy2]. Block table: per
// 4 outputs of a row, BLOCK bytes [window byte offset (+12 spare), X·1 masks lo/hi, X·2 masks
// lo/hi, dx1 ×4, dx2 ×4]; masks pick lanes of the two 16-byte halves of the window (0x80: zero).
const BLOCK = 112;

// resize(pPlane, pOut, rows, rowBytes, pRows, pBlocks, blocks): one plane, out row by row.
const resizeSpec = (): FunctionSpec => {
  const P = { plane: 0, out: 1, rows: 2, rowBytes: 3, rowTable: 4, blockTable: 5, blocks: 6 } as const;
  const L = { y: 7, b: 8, bt: 9, r1: 10, r2: 11, col: 12, dy1: 13, dy2: 14, a0: 15, a1: 16, x11: 17, x21: 18, x12: 19, x22: 20, o: 21 } as const;
  const pick = (half0: number, half1: number, mask: number) => [
    ...w.get(half0), ...w.get(L.bt), ...w.v128Load(mask), ...w.i8x16Swizzle,
    ...w.get(half1), ...w.get(L.bt), ...w.v128Load(mask + 16), ...w.i8x16Swizzle, ...w.v128Or,
  ];
  const window = (row: number) => [
    ...w.get(row), ...w.get(L.col), ...w.i32Add, ...w.v128Load(0), ...w.set(L.a0),
    ...w.get(row), ...w.get(L.col), ...w.i32Add, ...w.v128Load(16), ...w.set(L.a1),
  ];
  // (dx·dy)·X, the weight first as ORT multiplies it.
  const term = (dx: number, dy: number, x: number) => [...w.get(L.bt), ...w.v128Load(dx), ...w.get(dy), ...w.f32x4Mul, ...w.get(x), ...w.f32x4Mul];
  const block = [
    ...w.get(P.blockTable), ...w.get(L.b), ...w.i32(BLOCK), ...w.i32Mul, ...w.i32Add, ...w.set(L.bt),
    ...w.get(L.bt), ...w.i32Load(0), ...w.set(L.col),
    ...window(L.r1), ...pick(L.a0, L.a1, 16), ...w.set(L.x11), ...pick(L.a0, L.a1, 48), ...w.set(L.x21),
    ...window(L.r2), ...pick(L.a0, L.a1, 16), ...w.set(L.x12), ...pick(L.a0, L.a1, 48), ...w.set(L.x22),
    ...w.get(L.o), ...w.get(L.b), ...w.i32(4), ...w.i32Shl, ...w.i32Add,
    ...term(96, L.dy2, L.x11), ...term(80, L.dy2, L.x21), ...w.f32x4Add,
    ...term(96, L.dy1, L.x12), ...w.f32x4Add,
    ...term(80, L.dy1, L.x22), ...w.f32x4Add,
    ...w.v128Store(0),
    ...w.get(L.b), ...w.i32(1), ...w.i32Add, ...w.set(L.b),
  ];
  const row = [
    ...w.get(P.rowTable), ...w.get(L.y), ...w.i32(4), ...w.i32Shl, ...w.i32Add, ...w.set(L.bt),
    ...w.get(P.plane), ...w.get(L.bt), ...w.i32Load(0), ...w.i32Add, ...w.set(L.r1),
    ...w.get(P.plane), ...w.get(L.bt), ...w.i32Load(4), ...w.i32Add, ...w.set(L.r2),
    ...w.get(L.bt), ...w.f32Load(8), ...w.f32x4Splat, ...w.set(L.dy1),
    ...w.get(L.bt), ...w.f32Load(12), ...w.f32x4Splat, ...w.set(L.dy2),
    ...w.get(P.out), ...w.get(L.y), ...w.get(P.rowBytes), ...w.i32Mul, ...w.i32Add, ...w.set(L.o),
    ...w.i32(0), ...w.set(L.b),
    ...whileLoop([...w.get(L.b), ...w.get(P.blocks), ...w.i32LtU], block),
    ...w.get(L.y), ...w.i32(1), ...w.i32Add, ...w.set(L.y),
  ];
  return {
    name: 'resize',
    params: [I32, I32, I32, I32, I32, I32, I32],
    locals: [I32, I32, I32, I32, I32, I32, V128, V128, V128, V128, V128, V128, V128, V128, I32],
    body: whileLoop([...w.get(L.y), ...w.get(P.rows), ...w.i32LtU], row),
  };
};

/** ORT's linear-resize sampling along one axis (half-pixel centres, edge-clamped), in float32. */
interface Axis {
  i1: Int32Array;
  i2: Int32Array;
  d1: Float32Array;
  d2: Float32Array;
}

function axis(inSize: number, outSize: number): Axis {
  const scale = f(outSize / inSize);
  const a: Axis = { i1: new Int32Array(outSize), i2: new Int32Array(outSize), d1: new Float32Array(outSize), d2: new Float32Array(outSize) };
  for (let o = 0; o < outSize; o++) {
    const x = Math.max(0, Math.min(f(f(f(o + 0.5) / scale) - 0.5), inSize - 1));
    const lo = Math.min(Math.trunc(x), inSize - 1);
    const hi = Math.min(lo + 1, inSize - 1);
    a.i1[o] = lo;
    a.i2[o] = hi;
    // Equal neighbours (the last pixel): ORT weighs both halves.
    a.d1[o] = lo === hi ? 0.5 : f(Math.abs(x - lo));
    a.d2[o] = lo === hi ? 0.5 : f(Math.abs(x - hi));
  }
  return a;
}

let compiled: WebAssembly.Module | undefined;
const PAGE = 65536;

interface Geometry {
  width: number;
  height: number;
  rowTable: number;
  blockTable: number;
}

/** One per featurizer: its memory holds the tables, a photo, its float planes and the batch out. */
export class SimdPreprocessor {
  private readonly memory = new WebAssembly.Memory({ initial: 1 });
  private readonly toPlanes: (img: number, pixels: number, lut: number, planes: number, planeBytes: number) => void;
  private readonly resize: (plane: number, out: number, rows: number, rowBytes: number, rowTable: number, blockTable: number, blocks: number) => void;
  private geometry?: Geometry;
  private readonly accepted = new Map<string, boolean>();
  private readonly outW: number;
  private readonly outH: number;

  constructor(spec: ModelSpec) {
    if (!SimdPreprocessor.supports(spec)) throw new Error(`internal: the SIMD preprocessing needs an NCHW input of a width divisible by 4`);
    this.outW = spec.input.width;
    this.outH = spec.input.height;
    compiled ??= new WebAssembly.Module(encodeModule([toPlanesSpec(), resizeSpec()]));
    const exports = new WebAssembly.Instance(compiled, { env: { memory: this.memory } }).exports;
    this.toPlanes = exports.toPlanes as typeof this.toPlanes;
    this.resize = exports.resize as typeof this.resize;
    // The affine map of each channel's 256 byte values at offset 0, as the graph's float32 Mul and Add.
    const { scale, offset } = channelAffine(spec.normalize);
    const lut = new Float32Array(this.memory.buffer, 0, 3 * 256);
    for (let c = 0; c < 3; c++) for (let v = 0; v < 256; v++) lut[c * 256 + v] = f(f(v * f(scale[c])) + f(offset[c]));
  }

  /** Whether the kernel can serve this model's input at all (NCHW, width a multiple of 4). */
  static supports(spec: ModelSpec): boolean {
    return spec.input.layout === 'NCHW' && spec.input.width % 4 === 0;
  }

  /** Whether photos of this size go through the kernel (else the graph's preprocessing). */
  accepts(width: number, height: number): boolean {
    const key = `${width}×${height}`;
    let ok = this.accepted.get(key);
    if (ok === undefined) {
      ok = Number.isInteger(width) && Number.isInteger(height) && width >= 1 && height >= 1;
      const x = ok ? axis(width, this.outW) : undefined;
      for (let o = 0; x && o < this.outW; o += 4) if (x.i2[o + 3] - x.i1[o] > 7) ok = false;
      if (this.accepted.size >= 256) this.accepted.clear(); // a server sees photos of any size
      this.accepted.set(key, ok);
    }
    return ok;
  }

  /** The batch as float32 [n, 3, outH, outW], in this preprocessor's memory until the next call. */
  batch(images: readonly Uint8Array[], width: number, height: number): Float32Array {
    const geometry = this.tablesFor(width, height);
    const pixels = width * height;
    const planeBytes = (pixels + 8) * 4; // + a window's overrun past the last pixel
    const imageAt = align(geometry.blockTable + (this.outW / 4) * BLOCK);
    const planesAt = align(imageAt + pixels * 3);
    const outAt = align(planesAt + 3 * planeBytes);
    const outPlane = this.outW * this.outH;
    this.reserve(outAt + images.length * 3 * outPlane * 4);
    const bytes = new Uint8Array(this.memory.buffer);
    images.forEach((img, n) => {
      if (img.length !== pixels * 3) throw new Error(`image ${n} of the batch is not ${width}×${height}×3`);
      bytes.set(img, imageAt);
      this.toPlanes(imageAt, pixels, 0, planesAt, planeBytes);
      for (let c = 0; c < 3; c++) {
        const out = outAt + (n * 3 + c) * outPlane * 4;
        this.resize(planesAt + c * planeBytes, out, this.outH, this.outW * 4, geometry.rowTable, geometry.blockTable, this.outW / 4);
      }
    });
    return new Float32Array(this.memory.buffer, outAt, images.length * 3 * outPlane);
  }

  private reserve(bytes: number): void {
    const have = this.memory.buffer.byteLength;
    if (bytes > have) this.memory.grow(Math.ceil((bytes - have) / PAGE));
  }

  /** The sampling tables of a photo size (one size per dataset, usually): built once, kept. */
  private tablesFor(width: number, height: number): Geometry {
    if (this.geometry?.width === width && this.geometry.height === height) return this.geometry;
    const rowTable = 3 * 256 * 4;
    const blockTable = align(rowTable + this.outH * 16);
    this.reserve(blockTable + (this.outW / 4) * BLOCK);
    const ys = axis(height, this.outH);
    const xs = axis(width, this.outW);
    const buf = this.memory.buffer;
    const ints = new Int32Array(buf);
    const floats = new Float32Array(buf);
    const bytes = new Uint8Array(buf);
    for (let y = 0; y < this.outH; y++) {
      const at = (rowTable >> 2) + 4 * y;
      ints[at] = ys.i1[y] * width * 4;
      ints[at + 1] = ys.i2[y] * width * 4;
      floats[at + 2] = ys.d1[y];
      floats[at + 3] = ys.d2[y];
    }
    for (let b = 0; b < this.outW / 4; b++) {
      const at = blockTable + b * BLOCK;
      const start = xs.i1[4 * b];
      ints[at >> 2] = start * 4;
      for (let k = 0; k < 4; k++) {
        for (const [mask, source] of [[16, xs.i1[4 * b + k]], [48, xs.i2[4 * b + k]]] as const) {
          const s = source - start; // 0 … 7: which float of the window
          for (let j = 0; j < 4; j++) {
            bytes[at + mask + 4 * k + j] = s < 4 ? 4 * s + j : 0x80;
            bytes[at + mask + 16 + 4 * k + j] = s >= 4 ? 4 * (s - 4) + j : 0x80;
          }
        }
        floats[((at + 80) >> 2) + k] = xs.d1[4 * b + k];
        floats[((at + 96) >> 2) + k] = xs.d2[4 * b + k];
      }
    }
    this.geometry = { width, height, rowTable, blockTable };
    return this.geometry;
  }
}

const align = (n: number) => Math.ceil(n / 16) * 16;

