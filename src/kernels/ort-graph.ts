// Tiny in-memory ONNX graphs run by onnxruntime-node's CPU provider.
//
// Why: the heavy float64 matrix products of statistics and PCA (XᵀX, block updates) run in MLAS,
// which is multi-threaded and SIMD — 30–80 GFLOP/s here against ~2 GFLOP/s for plain JS loops —
// while staying in IEEE double (matrix–vector products are in simd-gemv.ts: MLAS has no GEMV). Each graph is built once per process and reused with
// dynamic shapes; input typed arrays are handed to ORT without copies.
import * as ort from 'onnxruntime-node';
import { buildModel, type GraphSpec } from '../onnx/proto.js';

export { DOUBLE, FLOAT, INT64, int64Initializer, op, tensorInfo, type GraphSpec } from '../onnx/proto.js';

let taskThreads: number | undefined;

/**
 * The ORT thread budget of one task in this process (a worker's share of the cores), for graphs
 * that run once per part: every worker runs such a task at once, and each taking every core
 * oversubscribed them (20 parts re-projected on 2 workers × 2 threads: 1.75 s, × 1 thread: 1.4 s).
 * Unset (the coordinator, a library user) they take ORT's default, every core.
 */
export function setTaskThreads(threads: number): void {
  taskThreads = threads;
}

/**
 * Returns a getter that builds the session on first use and shares it afterwards. `perTask`: a
 * graph run by per-part tasks, which gets the task's thread budget (setTaskThreads).
 */
export function lazySession(build: () => GraphSpec, options: ort.InferenceSession.SessionOptions = {}, perTask = false): () => Promise<ort.InferenceSession> {
  let session: Promise<ort.InferenceSession> | undefined;
  return () => {
    const threads = perTask && taskThreads !== undefined ? { intraOpNumThreads: taskThreads } : {};
    session ??= ort.InferenceSession.create(buildModel(build(), { name: 'fruits_linalg' }), { graphOptimizationLevel: 'all', ...threads, ...options }).catch((e: unknown) => {
      session = undefined; // let a later call retry instead of caching the failure
      throw e;
    });
    return session;
  };
}

/**
 * For graphs run between stretches of JS work (statistics batches, eigensolver panels): ORT's
 * intra-op threads otherwise spin-wait after every run, burning CPU the JS thread could use.
 * Measured on statistics + fit of 20,000 × 1280 (3 interleaved pairs, loaded 2-core machine):
 * 2.65–2.80 → 1.88–2.05 s of CPU, and less wall-clock time too.
 */
export const NO_SPINNING: ort.InferenceSession.SessionOptions = { extra: { session: { intra_op: { allow_spinning: '0' } } } };

export function f64(data: Float64Array, dims: number[]): ort.Tensor {
  return new ort.Tensor('float64', data, dims);
}

export function f32(data: Float32Array, dims: number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims);
}

export function i64(values: number[]): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(values.map((v) => BigInt(v))), [values.length]);
}

/** The float64 payload of an output tensor (throws if the graph produced another type). */
export function outF64(result: ort.InferenceSession.OnnxValueMapType, name: string): Float64Array {
  const t = result[name] as ort.Tensor | undefined;
  if (!t || !(t.data instanceof Float64Array)) throw new Error(`internal: graph output ${name} is not float64`);
  return t.data;
}

export function outF32(result: ort.InferenceSession.OnnxValueMapType, name: string): Float32Array {
  const t = result[name] as ort.Tensor | undefined;
  if (!t || !(t.data instanceof Float32Array)) throw new Error(`internal: graph output ${name} is not float32`);
  return t.data;
}
