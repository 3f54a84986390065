// Centred cross-product of a batch of float32 rows, in float64, via an ONNX Runtime graph:
//   Xc = float64(X) − mu;  C = Xcᵀ·Xc
// The float32 → float64 cast happens in the graph, so callers hand their rows as they are.
// C is symmetric, so the columns are split into blocks of ~320 and only the upper block triangle
// is multiplied (10 GEMMs instead of 16 for d = 1280): measured ~1.5–2.5× faster than one full
// Gemm at 4096 × 1280, and exact in the same way (every entry is still one float64 dot product).
import type * as ort from 'onnxruntime-node';
import { DOUBLE, FLOAT, f32, f64, int64Initializer, lazySession, op, outF64, tensorInfo, type GraphSpec } from '../kernels/ort-graph.js';

const BLOCK_COLUMNS = 320;

interface Blocks {
  offsets: number[];
  sizes: number[];
}

function blocksFor(dim: number): Blocks {
  const count = Math.max(1, Math.round(dim / BLOCK_COLUMNS));
  const sizes: number[] = [];
  const offsets: number[] = [];
  let at = 0;
  for (let b = 0; b < count; b++) {
    const size = Math.floor(dim / count) + (b < dim % count ? 1 : 0);
    offsets.push(at);
    sizes.push(size);
    at += size;
  }
  return { offsets, sizes };
}

const outName = (i: number, j: number) => `C${i}_${j}`;

function graphFor(dim: number, blocks: Blocks): GraphSpec {
  const B = blocks.sizes.length;
  const nodes = [op('Cast', ['X'], ['Xd'], { to: { int: DOUBLE } }), op('Sub', ['Xd', 'mu'], ['Xc'])];
  const outputs = [];
  const initializers = [];
  if (B === 1) {
    nodes.push(op('Gemm', ['Xc', 'Xc'], [outName(0, 0)], { transA: { int: 1 } }));
    outputs.push(tensorInfo(outName(0, 0), DOUBLE, [dim, dim]));
  } else {
    const parts = blocks.sizes.map((_, i) => `P${i}`);
    initializers.push(int64Initializer('splits', blocks.sizes));
    nodes.push(op('Split', ['Xc', 'splits'], parts, { axis: { int: 1 } }));
    for (let i = 0; i < B; i++) {
      for (let j = i; j < B; j++) {
        nodes.push(op('Gemm', [parts[i], parts[j]], [outName(i, j)], { transA: { int: 1 } }));
        outputs.push(tensorInfo(outName(i, j), DOUBLE, [blocks.sizes[i], blocks.sizes[j]]));
      }
    }
  }
  return {
    nodes,
    inputs: [tensorInfo('X', FLOAT, ['n', dim]), tensorInfo('mu', DOUBLE, [1, dim])],
    outputs,
    initializers,
  };
}

interface Kernel {
  blocks: Blocks;
  session: () => Promise<ort.InferenceSession>;
}
const kernels = new Map<number, Kernel>();

function kernelFor(dim: number): Kernel {
  let k = kernels.get(dim);
  if (!k) {
    const blocks = blocksFor(dim);
    k = { blocks, session: lazySession(() => graphFor(dim, blocks)) };
    kernels.set(dim, k);
  }
  return k;
}

/**
 * Writes Σ (x − mu)(x − mu)ᵀ over the n rows into `out` (full symmetric dim×dim, row-major).
 * `rows` holds exactly n·dim float32 values, row-major.
 */
export async function centredCrossProduct(rows: Float32Array, n: number, dim: number, mu: Float64Array, out: Float64Array): Promise<void> {
  const { blocks, session } = kernelFor(dim);
  const result = await (await session()).run({ X: f32(rows, [n, dim]), mu: f64(mu, [1, dim]) });
  const B = blocks.sizes.length;
  for (let bi = 0; bi < B; bi++) {
    for (let bj = bi; bj < B; bj++) {
      const c = outF64(result, outName(bi, bj));
      const oi = blocks.offsets[bi];
      const oj = blocks.offsets[bj];
      const si = blocks.sizes[bi];
      const sj = blocks.sizes[bj];
      for (let r = 0; r < si; r++) {
        out.set(c.subarray(r * sj, (r + 1) * sj), (oi + r) * dim + oj);
      }
      if (bi !== bj) {
        // mirror into the lower block triangle
        for (let r = 0; r < si; r++) {
          const src = r * sj;
          for (let col = 0; col < sj; col++) out[(oj + col) * dim + oi + r] = c[src + col];
        }
      }
    }
  }
}
