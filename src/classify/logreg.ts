// Multinomial logistic regression with an L2 penalty, fitted by L-BFGS on the full batch:
//   minimise  (1/n) Σᵢ −log softmax(W·xᵢ + b)[yᵢ]  +  (λ/2)‖W‖²     (the bias is not penalised)
// The objective is convex, so the fit is deterministic and does not depend on a seed; the two
// products per evaluation (X·Wᵀ and Gᵀ·X) run in ONNX Runtime (see gemm.ts).
import { multiplyABt, multiplyAtB } from '../kernels/gemm.js';
import { minimizeLbfgs, type StopReason } from './lbfgs.js';

export interface LogRegModel {
  kind: 'logreg';
  classes: number;
  dim: number;
  /** classes × dim, row-major. */
  weights: Float32Array;
  bias: Float32Array;
  l2: number;
}

export interface LogRegFitOptions {
  l2: number;
  maxIterations: number;
  /** Relative decrease of the loss per iteration below which the fit stops. */
  tolerance: number;
  /** Warm start (e.g. the fit at a neighbouring λ). */
  init?: { weights: Float32Array; bias: Float32Array };
  onIteration?: (iteration: number, loss: number) => void;
}

export interface LogRegFit {
  model: LogRegModel;
  /** Final objective value (mean cross-entropy + penalty). */
  loss: number;
  iterations: number;
  evaluations: number;
  stop: StopReason;
}

/** Softmax of each row of n × c scores, in place; returns the array. */
export function softmaxRows(z: Float32Array, n: number, c: number): Float32Array {
  for (let i = 0; i < n; i++) {
    const base = i * c;
    let max = -Infinity;
    for (let j = 0; j < c; j++) if (z[base + j] > max) max = z[base + j];
    let sum = 0;
    for (let j = 0; j < c; j++) {
      const e = Math.exp(z[base + j] - max);
      z[base + j] = e;
      sum += e;
    }
    for (let j = 0; j < c; j++) z[base + j] /= sum;
  }
  return z;
}

export async function fitLogReg(x: Float32Array, y: Int32Array, n: number, dim: number, classes: number, opts: LogRegFitOptions): Promise<LogRegFit> {
  if (x.length !== n * dim) throw new RangeError(`expected ${n} × ${dim} inputs, got ${x.length}`);
  if (y.length !== n) throw new RangeError(`expected ${n} labels, got ${y.length}`);
  const wSize = classes * dim;
  const lambda = opts.l2;
  const w32 = new Float32Array(wSize);

  const objective = async (theta: Float64Array) => {
    for (let j = 0; j < wSize; j++) w32[j] = theta[j];
    const z = await multiplyABt(x, n, w32, classes, dim);
    const g = new Float32Array(n * classes);
    const gradient = new Float64Array(wSize + classes);
    let nll = 0;
    const invN = 1 / n;
    for (let i = 0; i < n; i++) {
      const base = i * classes;
      let max = -Infinity;
      for (let c = 0; c < classes; c++) {
        const v = z[base + c] + theta[wSize + c];
        z[base + c] = v;
        if (v > max) max = v;
      }
      let sum = 0;
      for (let c = 0; c < classes; c++) sum += Math.exp(z[base + c] - max);
      const lse = max + Math.log(sum);
      nll += lse - z[base + y[i]];
      for (let c = 0; c < classes; c++) {
        const p = Math.exp(z[base + c] - lse);
        const gi = (c === y[i] ? p - 1 : p) * invN;
        g[base + c] = gi;
        gradient[wSize + c] += gi;
      }
    }
    const gw = await multiplyAtB(g, n, classes, x, dim);
    let penalty = 0;
    for (let j = 0; j < wSize; j++) {
      penalty += theta[j] * theta[j];
      gradient[j] = gw[j] + lambda * theta[j];
    }
    return { value: nll * invN + 0.5 * lambda * penalty, gradient };
  };

  const theta0 = new Float64Array(wSize + classes);
  if (opts.init) {
    theta0.set(opts.init.weights);
    theta0.set(opts.init.bias, wSize);
  }
  const r = await minimizeLbfgs(objective, theta0, {
    maxIterations: opts.maxIterations,
    gradientTolerance: 1e-6,
    valueTolerance: opts.tolerance,
    onIteration: (i, v) => opts.onIteration?.(i, v),
  });
  return {
    model: { kind: 'logreg', classes, dim, weights: Float32Array.from(r.x.subarray(0, wSize)), bias: Float32Array.from(r.x.subarray(wSize)), l2: lambda },
    loss: r.value,
    iterations: r.iterations,
    evaluations: r.evaluations,
    stop: r.reason,
  };
}

/** Class probabilities, n × classes. */
export async function logRegProbabilities(model: LogRegModel, x: Float32Array, n: number): Promise<Float32Array> {
  const z = await multiplyABt(x, n, model.weights, model.classes, model.dim);
  for (let i = 0; i < n; i++) {
    const base = i * model.classes;
    for (let c = 0; c < model.classes; c++) z[base + c] += model.bias[c];
  }
  return softmaxRows(z, n, model.classes);
}
