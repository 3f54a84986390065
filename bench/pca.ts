// Benchmark of the statistics + PCA core on a MobileNetV2-sized problem (20,000 × 1280 float32),
// compared in the same run with scikit-learn / numpy on the same matrix when a python3 with
// scikit-learn is available. Also checks that accumulation memory stays flat in the row count.
//
//   node dist/bench/pca.js [--rows 20000] [--dim 1280] [--k 200] [--no-python]
//
// Prints a table and a JSON line; benchPca() returns the same figures for `npm run bench`.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { fitPca } from '../src/pca/fit.js';
import { project } from '../src/pca/project.js';
import { symmetricEigen } from '../src/pca/symmetric-eigen.js';
import { accumulate, covariance, createStats, statsOfRows } from '../src/stats/index.js';
import { FLOAT, f32, lazySession, op, outF32, tensorInfo } from '../src/kernels/ort-graph.js';

export interface BenchPcaOptions {
  rows?: number;
  dim?: number;
  k?: number;
  variance?: number;
  /** Rows per chunk when streaming (accumulation memory test, transform). */
  chunkRows?: number;
  /** Row counts compared for peak memory (each in a fresh process). */
  memoryRows?: [number, number];
  /** python3 executable with numpy + scikit-learn; false to skip the comparison. */
  python?: string | false;
  log?: (line: string) => void;
}

type Figures = Record<string, number | string>;

const FEATURIZER = { modelId: 'bench-synthetic', sha256: '0'.repeat(64) };
const LATENT = 256;

// Latent scores · fixed loadings, as an ORT float32 MatMul: generating 20k × 1280 from 256 latent
// factors is 6.5 GFLOP — seconds in JS, ~0.1 s here.
const mixSession = lazySession(() => ({
  nodes: [op('MatMul', ['Z', 'B'], ['X'])],
  inputs: [tensorInfo('Z', FLOAT, ['n', LATENT]), tensorInfo('B', FLOAT, [LATENT, 'd'])],
  outputs: [tensorInfo('X', FLOAT, ['n', 'd'])],
}));

/**
 * Deterministic synthetic "CNN features": a power-law spectrum of 256 latent factors, per-feature
 * noise of varied scale, an offset and ReLU6 clipping — non-negative, sparse-ish, correlated.
 * Rows come out identical however the stream is chunked.
 */
class FeatureGenerator {
  private state = 0x9e3779b9;
  private readonly loadings: Float32Array;
  private readonly noiseScale: Float32Array;
  private readonly offset: Float32Array;

  constructor(readonly dim: number) {
    this.loadings = new Float32Array(LATENT * dim);
    for (let t = 0; t < LATENT; t++) {
      const weight = 2.5 / (1 + t) ** 0.8;
      for (let j = 0; j < dim; j++) this.loadings[t * dim + j] = weight * this.gaussian() / Math.sqrt(LATENT / 16);
    }
    this.noiseScale = Float32Array.from({ length: dim }, () => 0.05 + 0.3 * this.uniform());
    this.offset = Float32Array.from({ length: dim }, () => 1.5 * this.uniform() - 0.3);
  }

  private uniform(): number {
    this.state = (Math.imul(this.state, 1664525) + 1013904223) >>> 0;
    return this.state / 4294967296;
  }

  private gaussian(): number {
    // Box–Muller; the generator is not the thing being measured.
    return Math.sqrt(-2 * Math.log(1 - this.uniform())) * Math.cos(2 * Math.PI * this.uniform());
  }

  async next(n: number): Promise<Float32Array> {
    const d = this.dim;
    const z = new Float32Array(n * LATENT);
    for (let i = 0; i < z.length; i++) z[i] = this.gaussian();
    const session = await mixSession();
    const mixed = outF32(await session.run({ Z: f32(z, [n, LATENT]), B: f32(this.loadings, [LATENT, d]) }), 'X');
    const out = new Float32Array(n * d);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < d; j++) {
        const x = mixed[i * d + j] + this.offset[j] + this.noiseScale[j] * (this.uniform() * 2 - 1) * 1.7;
        out[i * d + j] = x < 0 ? 0 : x > 6 ? 6 : x;
      }
    }
    return out;
  }
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const result = await fn();
  return [result, performance.now() - t0];
}

function findPython(): string | undefined {
  // Debian's python3-sklearn lives in /usr/bin/python3, which a pyenv shim may hide.
  for (const candidate of [process.env.FRUITS_PYTHON, 'python3', '/usr/bin/python3']) {
    if (!candidate) continue;
    const r = spawnSync(candidate, ['-c', 'import sklearn, numpy'], { stdio: 'ignore' });
    if (r.status === 0) return candidate;
  }
  return undefined;
}

const PYTHON_SNIPPET = String.raw`
import json, sys, time
import numpy as np
from sklearn.decomposition import PCA
path, n, d, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
x32 = np.fromfile(path, dtype='<f4').reshape(n, d)
x = x32.astype(np.float64)
out = {}
def clock(name, fn):
    t = time.perf_counter(); r = fn(); out[name] = (time.perf_counter() - t) * 1000; return r
full = clock('sklearnFullMs', lambda: PCA(svd_solver='full').fit(x))
rnd = clock('sklearnRandomized200Ms', lambda: PCA(n_components=k, svd_solver='randomized', random_state=0).fit(x))
clock('sklearnRandomized200Float32Ms', lambda: PCA(n_components=k, svd_solver='randomized', random_state=0).fit(x32))
def cov_eigh():
    w, v = np.linalg.eigh(np.cov(x, rowvar=False)); return w
w = clock('numpyCovEighMs', cov_eigh)
# The exact method for many rows and few columns: scikit-learn >= 1.5's svd_solver='covariance_eigh';
# on an older scikit-learn (Debian 12 ships 1.2), the same steps as its _fit_full, in numpy.
def covariance_eigh():
    try:
        p = PCA(svd_solver='covariance_eigh').fit(x)
        return p.explained_variance_, p.explained_variance_ratio_, p.components_, 'sklearn'
    except ValueError:
        n = x.shape[0]
        mean = x.mean(axis=0)
        c = x.T @ x
        c -= n * np.outer(mean, mean)
        c /= n - 1
        ev, vec = np.linalg.eigh(c)
        ev, vec = ev[::-1].copy(), vec[:, ::-1].T.copy()
        ev[ev < 0] = 0
        signs = np.sign(vec[np.arange(vec.shape[0]), np.argmax(np.abs(vec), axis=1)])
        return ev, ev / ev.sum(), vec * signs[:, None], 'numpy (scikit-learn 1.5 steps)'
# Three times, as ours: the first call and the median of the three.
ce_times = []
for _ in range(3):
    t = time.perf_counter(); ce_values, ce_ratios, ce_components, ce_impl = covariance_eigh(); ce_times.append((time.perf_counter() - t) * 1000)
out['covarianceEighFirstMs'] = ce_times[0]
out['covarianceEighMs'] = sorted(ce_times)[1]
out['covarianceEighImpl'] = ce_impl
out['covarianceEighEigenvalues'] = ce_values.tolist()
out['covarianceEighRatios'] = ce_ratios.tolist()
out['covarianceEighTop10'] = ce_components[:10].ravel().tolist()
out['fullRatios'] = full.explained_variance_ratio_.tolist()
out['fullEigenvalues'] = full.explained_variance_.tolist()
out['randomizedRatios'] = rnd.explained_variance_ratio_.tolist()
out['fullKForVariance'] = int(np.searchsorted(np.cumsum(full.explained_variance_ratio_), float(sys.argv[5])) + 1)
out['sklearnVersion'] = __import__('sklearn').__version__
print(json.dumps(out))
`;

interface PythonResult {
  sklearnFullMs: number;
  sklearnRandomized200Ms: number;
  sklearnRandomized200Float32Ms: number;
  numpyCovEighMs: number;
  fullRatios: number[];
  fullEigenvalues: number[];
  randomizedRatios: number[];
  fullKForVariance: number;
  sklearnVersion: string;
  covarianceEighMs: number;
  covarianceEighFirstMs: number;
  covarianceEighImpl: string;
  covarianceEighEigenvalues: number[];
  covarianceEighRatios: number[];
  /** The first 10 components, row-major 10 × d. */
  covarianceEighTop10: number[];
}

function runPython(python: string, rows: Float32Array, n: number, d: number, k: number, variance: number): PythonResult {
  const dir = mkdtempSync(join(tmpdir(), 'bench-pca-'));
  try {
    const file = join(dir, 'x.f32');
    writeFileSync(file, new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength));
    writeFileSync(join(dir, 'bench.py'), PYTHON_SNIPPET);
    const r = spawnSync(python, [join(dir, 'bench.py'), file, String(n), String(d), String(k), String(variance)], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    if (r.status !== 0) throw new Error(`python comparison failed: ${r.stderr.trim().split('\n').pop()}`);
    return JSON.parse(r.stdout) as PythonResult;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Streams `rows` rows through accumulate in chunks; run in a fresh process for a clean maxRSS. */
async function memoryChild(rows: number, dim: number, chunkRows: number): Promise<Figures> {
  const gen = new FeatureGenerator(dim);
  const stats = createStats(dim);
  const rssBefore = process.memoryUsage().rss;
  let peak = rssBefore;
  for (let start = 0; start < rows; start += chunkRows) {
    const count = Math.min(chunkRows, rows - start);
    await accumulate(stats, await gen.next(count), count, start);
    peak = Math.max(peak, process.memoryUsage().rss);
  }
  return { rows, rssBeforeMiB: rssBefore / 2 ** 20, rssPeakMiB: peak / 2 ** 20, maxRssMiB: process.resourceUsage().maxRSS / 1024 };
}

function memoryRun(rows: number, dim: number, chunkRows: number): Figures {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, [self, '--memory-child', String(rows), String(dim), String(chunkRows)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`memory run failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Figures;
}

export async function benchPca(opts: BenchPcaOptions = {}): Promise<Figures> {
  const n = opts.rows ?? 20000;
  const d = opts.dim ?? 1280;
  const k = opts.k ?? 200;
  const variance = opts.variance ?? 0.95;
  const chunkRows = opts.chunkRows ?? 1000;
  const memoryRows = opts.memoryRows ?? [20000, 80000];
  const log = opts.log ?? (() => {});
  const out: Figures = { rows: n, dim: d, k, variance };

  log(`generating ${n} × ${d} synthetic features`);
  const gen = new FeatureGenerator(d);
  const x = await gen.next(n);

  // Warm the ORT sessions (one-time graph builds, not part of any per-dataset cost).
  await fitPca(await statsOfRows(x.subarray(0, 3 * 80), 3, 80), { scale: 'none', components: { k: 1 }, featurizer: FEATURIZER });

  // Statistics + fit three times: the first call in this process (its buffers, ORT's allocations
  // at these shapes, V8's compilation) and the median of the three, as the comparators below.
  log('accumulating statistics and fitting PCA (3 times)');
  const runs: { accumulateMs: number; fitMs: number }[] = [];
  let first: { stats: Awaited<ReturnType<typeof statsOfRows>>; model: Awaited<ReturnType<typeof fitPca>> } | undefined;
  for (let r = 0; r < 3; r++) {
    const [stats, accumulateMs] = await timed(() => statsOfRows(x, n, d));
    const [model, fitMs] = await timed(() => fitPca(stats, { scale: 'none', components: { k }, featurizer: FEATURIZER }));
    runs.push({ accumulateMs, fitMs });
    first ??= { stats, model };
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const { stats, model } = first!;
  const accumulateMs = median(runs.map((r) => r.accumulateMs));
  const fitK200Ms = median(runs.map((r) => r.fitMs));
  const togetherMs = median(runs.map((r) => r.accumulateMs + r.fitMs));
  out.accumulateMs = accumulateMs;
  out.accumulateRowsPerSec = (n / accumulateMs) * 1000;
  out.fitKMs = fitK200Ms;
  out.accumulateFirstMs = runs[0].accumulateMs;
  out.fitKFirstMs = runs[0].fitMs;
  const [modelVar, fitVarianceMs] = await timed(() => fitPca(stats, { scale: 'none', components: { variance }, featurizer: FEATURIZER }));
  out.fitVarianceMs = fitVarianceMs;
  out.kForVariance = modelVar.k;
  out.accumulateAndFitKMs = togetherMs;
  const [standardModel, fitStandardMs] = await timed(() => fitPca(stats, { scale: 'standard', components: { k }, featurizer: FEATURIZER }));
  out.fitKStandardMs = fitStandardMs;

  // Where the fit's time goes.
  const cov = covariance(stats);
  const [eig, eigenvaluesMs] = await timed(() => symmetricEigen(cov, d));
  out.eigenReductionAndValuesMs = eigenvaluesMs;
  const [vectors, eigenvectorsMs] = await timed(() => eig.vectors(k));
  out.eigenVectorsMs = eigenvectorsMs;
  let orthogonality = 0;
  for (let a = 0; a < k; a += 7) {
    for (let b = 0; b <= a; b += 5) {
      let dot = 0;
      for (let i = 0; i < d; i++) dot += vectors[a * d + i] * vectors[b * d + i];
      orthogonality = Math.max(orthogonality, Math.abs(dot - (a === b ? 1 : 0)));
    }
  }
  out.componentOrthogonalityMaxErr = orthogonality;

  log('projecting');
  const [, transformMs] = await timed(async () => {
    for (let start = 0; start < n; start += chunkRows) {
      const count = Math.min(chunkRows, n - start);
      await project(standardModel, x.subarray(start * d, (start + count) * d), count, start);
    }
  });
  out.transformMs = transformMs;
  out.transformRowsPerSec = (n / transformMs) * 1000;

  const python = opts.python === false ? undefined : (opts.python ?? findPython());
  if (python) {
    log(`comparing with scikit-learn (${python})`);
    const py = runPython(python, x, n, d, k, variance);
    out.sklearnVersion = py.sklearnVersion;
    out.sklearnFullMs = py.sklearnFullMs;
    out.sklearnRandomizedKMs = py.sklearnRandomized200Ms;
    out.sklearnRandomizedKFloat32Ms = py.sklearnRandomized200Float32Ms;
    out.numpyCovEighMs = py.numpyCovEighMs;
    let ratioDiff = 0;
    let ratioDiffTopK = 0;
    let eigenRelDiffTopK = 0;
    let randomizedRatioDiffTopK = 0;
    for (let i = 0; i < d; i++) {
      const diff = Math.abs(model.spectrumRatio[i] - py.fullRatios[i]);
      ratioDiff = Math.max(ratioDiff, diff);
      if (i < k) {
        ratioDiffTopK = Math.max(ratioDiffTopK, diff);
        eigenRelDiffTopK = Math.max(eigenRelDiffTopK, Math.abs(model.eigenvalues[i] - py.fullEigenvalues[i]) / py.fullEigenvalues[i]);
        randomizedRatioDiffTopK = Math.max(randomizedRatioDiffTopK, Math.abs(py.randomizedRatios[i] - py.fullRatios[i]));
      }
    }
    out.ratioMaxAbsDiffVsSklearnFull = ratioDiff;
    out.ratioMaxAbsDiffTopKVsSklearnFull = ratioDiffTopK;
    out.eigenvalueMaxRelDiffTopKVsSklearnFull = eigenRelDiffTopK;
    out.sklearnRandomizedRatioMaxAbsDiffTopK = randomizedRatioDiffTopK;
    out.sklearnFullKForVariance = py.fullKForVariance;
    out.fitKOverSklearnRandomized = fitK200Ms / py.sklearnRandomized200Ms;
    // The fair comparator: covariance_eigh computes XᵀX from the rows as our accumulate does, then eigh.
    out.covarianceEighMs = py.covarianceEighMs;
    out.covarianceEighFirstMs = py.covarianceEighFirstMs;
    out.covarianceEighImpl = py.covarianceEighImpl;
    out.accumulateAndFitKOverCovarianceEigh = togetherMs / py.covarianceEighMs;
    out.firstCallsOverCovarianceEighFirst = (runs[0].accumulateMs + runs[0].fitMs) / py.covarianceEighFirstMs;
    out.fitKOverCovarianceEigh = fitK200Ms / py.covarianceEighMs;
    let ceEigenRel = 0;
    let ceRatio = 0;
    for (let i = 0; i < k; i++) {
      ceEigenRel = Math.max(ceEigenRel, Math.abs(model.eigenvalues[i] - py.covarianceEighEigenvalues[i]) / py.covarianceEighEigenvalues[i]);
      ceRatio = Math.max(ceRatio, Math.abs(model.spectrumRatio[i] - py.covarianceEighRatios[i]));
    }
    // Components up to sign (an eigenvector's sign is a convention): 1 − |cos| of the first 10.
    let ceComponent = 0;
    for (let c = 0; c < 10; c++) {
      let dot = 0;
      for (let i = 0; i < d; i++) dot += model.components[c * d + i] * py.covarianceEighTop10[c * d + i];
      ceComponent = Math.max(ceComponent, 1 - Math.abs(dot));
    }
    out.eigenvalueMaxRelDiffTopKVsCovarianceEigh = ceEigenRel;
    out.ratioMaxAbsDiffTopKVsCovarianceEigh = ceRatio;
    out.componentMax1MinusCosTop10VsCovarianceEigh = ceComponent;
    out.equalTo1e10VsCovarianceEigh = ceEigenRel <= 1e-10 && ceRatio <= 1e-10 && ceComponent <= 1e-10 ? 'yes' : 'no';
    out.accumulateAndFitKOverSklearnRandomized = togetherMs / py.sklearnRandomized200Ms;
  } else {
    out.sklearn = 'skipped (no python3 with scikit-learn)';
  }

  log(`peak memory, streaming ${memoryRows.join(' vs ')} rows`);
  const [small, large] = memoryRows.map((rows) => memoryRun(rows, d, chunkRows));
  out.accumulateMaxRssMiBSmall = small.maxRssMiB;
  out.accumulateMaxRssMiBLarge = large.maxRssMiB;
  out.accumulateRssGrowthMiBSmall = (small.rssPeakMiB as number) - (small.rssBeforeMiB as number);
  out.accumulateRssGrowthMiBLarge = (large.rssPeakMiB as number) - (large.rssBeforeMiB as number);
  out.memoryRows = memoryRows.join('/');
  return out;
}

function parseArgs(argv: string[]): BenchPcaOptions {
  const opts: BenchPcaOptions = { log: (line) => process.stderr.write(`[bench:pca] ${line}\n`) };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${flag} needs a positive number`);
      return v;
    };
    if (flag === '--rows') opts.rows = value();
    else if (flag === '--dim') opts.dim = value();
    else if (flag === '--k') opts.k = value();
    else if (flag === '--variance') opts.variance = value();
    else if (flag === '--no-python') opts.python = false;
    else throw new Error(`unknown flag ${flag}`);
  }
  return opts;
}

function printTable(figures: Figures): void {
  const width = Math.max(...Object.keys(figures).map((key) => key.length));
  for (const [key, value] of Object.entries(figures)) {
    const shown = typeof value === 'number' ? (Number.isInteger(value) ? String(value) : Math.abs(value) < 1e-3 ? value.toExponential(2) : value.toFixed(2)) : value;
    console.log(`${key.padEnd(width)}  ${shown}`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  if (args[0] === '--memory-child') {
    console.log(JSON.stringify(await memoryChild(Number(args[1]), Number(args[2]), Number(args[3]))));
  } else {
    const figures = await benchPca(parseArgs(args));
    printTable(figures);
    console.log(JSON.stringify(figures));
  }
}
