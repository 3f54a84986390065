// Products whose result is symmetric, computed on one block triangle only: the rows of the result
// are cut into bands of ~160, and each band is one Gemm against just the rows of the other operand
// that its half of the triangle needs. For 1,280 rows that is 56 % of the full product's flops (a
// SYRK is 50 %), each entry still one float64 dot product in MLAS, both operands contiguous row
// ranges of their buffers (no copy). Used by the statistics' cross-product (XcᵀXc, upper) and the
// eigensolver's trailing updates (X·Yᵀ, lower).
import type * as ort from 'onnxruntime-node';
import { DOUBLE, NO_SPINNING, lazySession, op, tensorInfo } from './ort-graph.js';

const BAND_ROWS = 160;

export interface Bands {
  offsets: number[];
  sizes: number[];
}

/** Cuts `rows` into near-equal bands of about BAND_ROWS rows (at least one band). */
export function bandsFor(rows: number): Bands {
  const count = Math.max(1, Math.round(rows / BAND_ROWS));
  const offsets: number[] = [];
  const sizes: number[] = [];
  let at = 0;
  for (let b = 0; b < count; b++) {
    const size = Math.floor(rows / count) + (b < rows % count ? 1 : 0);
    offsets.push(at);
    sizes.push(size);
    at += size;
  }
  return { offsets, sizes };
}

/**
 * A graph of `count` Gemms, S_b = A_b · B_bᵀ (+ C_b when `accumulate`), inputs A0, B0, (C0,) …,
 * outputs S0 …; every shape is dynamic. `perTask`: run by per-part tasks (lazySession).
 */
function bandGemmSession(count: number, accumulate: boolean, perTask: boolean): () => Promise<ort.InferenceSession> {
  return lazySession(() => {
    const nodes = [];
    const inputs = [];
    const outputs = [];
    for (let b = 0; b < count; b++) {
      nodes.push(op('Gemm', accumulate ? [`A${b}`, `B${b}`, `C${b}`] : [`A${b}`, `B${b}`], [`S${b}`], { transB: { int: 1 } }));
      inputs.push(tensorInfo(`A${b}`, DOUBLE, [`m${b}`, 'n']), tensorInfo(`B${b}`, DOUBLE, [`r${b}`, 'n']));
      if (accumulate) inputs.push(tensorInfo(`C${b}`, DOUBLE, [`m${b}`, `r${b}`]));
      outputs.push(tensorInfo(`S${b}`, DOUBLE, [`m${b}`, `r${b}`]));
    }
    return { nodes, inputs, outputs };
  }, NO_SPINNING, perTask);
}

/** One session per (band count, accumulate, perTask), built on first use. */
const sessions = new Map<string, () => Promise<ort.InferenceSession>>();

export function bandSession(count: number, accumulate: boolean, perTask: boolean): () => Promise<ort.InferenceSession> {
  const key = `${count}/${accumulate}/${perTask}`;
  let session = sessions.get(key);
  if (!session) {
    session = bandGemmSession(count, accumulate, perTask);
    sessions.set(key, session);
  }
  return session;
}
