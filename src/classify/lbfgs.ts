// Limited-memory BFGS with a strong-Wolfe line search (Nocedal & Wright, algorithms 7.4, 3.5
// and 3.6): the standard optimiser for smooth convex losses such as L2-regularised multinomial
// logistic regression (scikit-learn's default solver). Deterministic: no randomness at all.

export interface Evaluation {
  value: number;
  gradient: Float64Array;
}

/** The objective: value and a freshly allocated gradient at x (x must not be kept: it is reused). */
export type Objective = (x: Float64Array) => Promise<Evaluation>;

export interface LbfgsOptions {
  maxIterations: number;
  /** Stop when max |gradient| ≤ this. */
  gradientTolerance: number;
  /** Stop when the relative decrease of the value over one iteration ≤ this (as SciPy's ftol). */
  valueTolerance: number;
  /** Correction pairs kept. */
  memory?: number;
  /** Cap on objective evaluations in one line search. */
  maxLineSearch?: number;
  /** Called after every iteration (progress, logging). */
  onIteration?: (iteration: number, value: number, gradientNorm: number) => void;
}

export type StopReason = 'gradient' | 'value' | 'max_iterations' | 'line_search';

export interface LbfgsResult {
  x: Float64Array;
  value: number;
  gradient: Float64Array;
  iterations: number;
  evaluations: number;
  reason: StopReason;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const v = Math.abs(a[i]);
    if (v > m) m = v;
  }
  return m;
}

/** Minimiser of the cubic through (a, fa, ga) and (b, fb, gb), or NaN when it has none. */
function cubicMin(a: number, fa: number, ga: number, b: number, fb: number, gb: number): number {
  const d1 = ga + gb - (3 * (fa - fb)) / (a - b);
  const disc = d1 * d1 - ga * gb;
  if (!(disc >= 0)) return NaN;
  const d2 = Math.sign(b - a) * Math.sqrt(disc);
  return b - ((b - a) * (gb + d2 - d1)) / (gb - ga + 2 * d2);
}

interface Point {
  alpha: number;
  value: number;
  gradient: Float64Array;
  slope: number;
}

/**
 * A step α along d satisfying the strong Wolfe conditions, or the best sufficient-decrease point
 * found when the evaluation budget runs out (undefined if there is none).
 */
async function wolfeSearch(
  evaluate: (alpha: number) => Promise<Point>,
  f0: number,
  slope0: number,
  alpha0: number,
  maxEvals: number,
): Promise<{ point?: Point; evals: number }> {
  const c1 = 1e-4;
  const c2 = 0.9;
  let evals = 0;
  const armijo = (p: Point) => p.value <= f0 + c1 * p.alpha * slope0;
  const curvature = (p: Point) => Math.abs(p.slope) <= -c2 * slope0;

  const zoom = async (lo: Point, hi: Point): Promise<Point | undefined> => {
    while (evals < maxEvals) {
      const left = Math.min(lo.alpha, hi.alpha);
      const width = Math.abs(hi.alpha - lo.alpha);
      let alpha = cubicMin(lo.alpha, lo.value, lo.slope, hi.alpha, hi.value, hi.slope);
      // Keep the trial inside the bracket, away from its ends (else bisect).
      if (!Number.isFinite(alpha) || alpha < left + 0.1 * width || alpha > left + 0.9 * width) alpha = (lo.alpha + hi.alpha) / 2;
      if (width < 1e-14 * Math.max(1, lo.alpha)) break;
      const p = await evaluate(alpha);
      evals++;
      if (!armijo(p) || p.value >= lo.value) {
        hi = p;
      } else {
        if (curvature(p)) return p;
        if (p.slope * (hi.alpha - lo.alpha) >= 0) hi = lo;
        lo = p;
      }
    }
    return lo.alpha > 0 ? lo : undefined;
  };

  let prev: Point = { alpha: 0, value: f0, gradient: new Float64Array(0), slope: slope0 };
  let alpha = alpha0;
  while (evals < maxEvals) {
    const p = await evaluate(alpha);
    evals++;
    if (!Number.isFinite(p.value)) {
      // Overflow far along the direction: come back towards the start.
      alpha = (prev.alpha + alpha) / 2;
      continue;
    }
    if (!armijo(p) || (prev.alpha > 0 && p.value >= prev.value)) return { point: await zoom(prev, p), evals };
    if (curvature(p)) return { point: p, evals };
    if (p.slope >= 0) return { point: await zoom(p, prev), evals };
    prev = p;
    alpha *= 2;
  }
  return { point: prev.alpha > 0 ? prev : undefined, evals };
}

export async function minimizeLbfgs(objective: Objective, x0: Float64Array, opts: LbfgsOptions): Promise<LbfgsResult> {
  const m = opts.memory ?? 10;
  const maxLineSearch = opts.maxLineSearch ?? 20;
  const n = x0.length;
  let x = x0.slice();
  let { value, gradient } = await objective(x);
  let evaluations = 1;
  const s: Float64Array[] = [];
  const y: Float64Array[] = [];
  const rho: number[] = [];
  const direction = new Float64Array(n);
  const alphas = new Float64Array(m);

  if (maxAbs(gradient) <= opts.gradientTolerance) return { x, value, gradient, iterations: 0, evaluations, reason: 'gradient' };

  for (let iter = 1; iter <= opts.maxIterations; iter++) {
    // Two-loop recursion: direction = −H·g.
    for (let i = 0; i < n; i++) direction[i] = -gradient[i];
    for (let j = s.length - 1; j >= 0; j--) {
      const a = rho[j] * dot(s[j], direction);
      alphas[j] = a;
      const yj = y[j];
      for (let i = 0; i < n; i++) direction[i] -= a * yj[i];
    }
    const gamma = s.length > 0 ? dot(s[s.length - 1], y[y.length - 1]) / dot(y[y.length - 1], y[y.length - 1]) : 1;
    for (let i = 0; i < n; i++) direction[i] *= gamma;
    for (let j = 0; j < s.length; j++) {
      const b = rho[j] * dot(y[j], direction);
      const sj = s[j];
      const k = alphas[j] - b;
      for (let i = 0; i < n; i++) direction[i] += k * sj[i];
    }
    let slope = dot(gradient, direction);
    if (!(slope < 0)) {
      // Not a descent direction (round-off): restart from steepest descent.
      s.length = y.length = rho.length = 0;
      for (let i = 0; i < n; i++) direction[i] = -gradient[i];
      slope = dot(gradient, direction);
    }
    // First step: unit length in parameter space; afterwards the quasi-Newton step α = 1.
    const alpha0 = s.length === 0 ? Math.min(1, 1 / Math.sqrt(-slope)) : 1;
    const base = x;
    const trial = new Float64Array(n);
    const evaluate = async (alpha: number): Promise<Point> => {
      for (let i = 0; i < n; i++) trial[i] = base[i] + alpha * direction[i];
      const e = await objective(trial);
      return { alpha, value: e.value, gradient: e.gradient, slope: dot(e.gradient, direction) };
    };
    const { point, evals } = await wolfeSearch(evaluate, value, slope, alpha0, maxLineSearch);
    evaluations += evals;
    if (!point) return { x, value, gradient, iterations: iter - 1, evaluations, reason: 'line_search' };

    const xNew = new Float64Array(n);
    const sNew = new Float64Array(n);
    const yNew = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      xNew[i] = base[i] + point.alpha * direction[i];
      sNew[i] = xNew[i] - base[i];
      yNew[i] = point.gradient[i] - gradient[i];
    }
    const sy = dot(sNew, yNew);
    // Keep the pair only when it preserves a positive-definite approximation.
    if (sy > 1e-10 * dot(yNew, yNew)) {
      if (s.length === m) {
        s.shift();
        y.shift();
        rho.shift();
      }
      s.push(sNew);
      y.push(yNew);
      rho.push(1 / sy);
    }
    const previous = value;
    x = xNew;
    value = point.value;
    gradient = point.gradient;
    const gNorm = maxAbs(gradient);
    opts.onIteration?.(iter, value, gNorm);
    if (gNorm <= opts.gradientTolerance) return { x, value, gradient, iterations: iter, evaluations, reason: 'gradient' };
    if ((previous - value) / Math.max(Math.abs(previous), Math.abs(value), 1) <= opts.valueTolerance) {
      return { x, value, gradient, iterations: iter, evaluations, reason: 'value' };
    }
  }
  return { x, value, gradient, iterations: opts.maxIterations, evaluations, reason: 'max_iterations' };
}
