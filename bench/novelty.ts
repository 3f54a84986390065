// `npm run bench -- novelty`: how well the novelty score tells photos of unseen classes from
// photos of known ones, on the mini dataset with classes left out of training, and what it costs.
//
// Splits: for each seed (BENCH_NOVELTY_SEEDS, default 1–8), 15 of the 119 Training classes drawn
// at random are left out. The classifier (standardise + logistic regression, as `fruits train`)
// and the novelty candidates are fitted on the Training rows of the other classes; the Test
// photos of the known classes are the in-distribution sample, those of the left-out classes (and
// Tomato Yellow, in no Training folder) the unknown sample. Candidates: 1 − max softmax, the
// cosine distance to the nearest training row, and the class-conditional Mahalanobis distance
// with one pooled covariance (version 1 of the novelty data) or one per class shrunk toward it
// (version 2), at several k and weights of the classifier's doubt. AUROC per seed, mean and
// spread; for the default score, the unknown rates at the threshold training fixes.
//
// Cost, through real HTTP: two bundles trained by `fruits train` on all of Training (one with
// novelty data, one with --holdout 0: none), served by two `fruits serve` processes side by side;
// rounds of 100 Test photos POSTed to /v1/classify one at a time, alternating between the servers,
// each server's CPU time (/proc) read around its rounds. Also the bundles' sizes, and the unknown
// share of the novelty server's answers on Test photos of known classes and of Tomato Yellow.
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadDataset, selectRows, type LabelledRows } from '../src/classify/dataset.js';
import { multiplyABt } from '../src/kernels/gemm.js';
import { fitLogReg, logRegProbabilities } from '../src/classify/logreg.js';
import { auroc, fitNovelty, NOVELTY_DEFAULTS, noveltyOf, topScoresOf } from '../src/classify/novelty.js';
import { unitRows } from '../src/classify/knn.js';
import { holdoutSplit } from '../src/classify/train.js';
import { TRAIN_DEFAULTS } from '../src/classify/train-options.js';
import { fitStandardizer, standardize } from '../src/classify/standardize.js';
import { mulberry32 } from '../test/helpers/random.js';
import { cpuSeconds, listJpegs, startServe, type Server } from './serve.js';
import { cli, miniData, modelDir, runNode } from './util.js';

const SEEDS = (process.env.BENCH_NOVELTY_SEEDS ?? '1,2,3,4,5,6,7,8').split(',').filter(Boolean).map(Number);
const LEFT_OUT = 15;
const ROUND = 200;
const ROUNDS = Number(process.env.BENCH_NOVELTY_ROUNDS ?? 12);
/** Clients in flight per round: the server batches as in use (one at a time, ONNX Runtime's idle spinning dominates CPU). */
const CLIENTS = Number(process.env.BENCH_NOVELTY_CLIENTS ?? 8);
const env = { FRUITS_MODEL_DIR: modelDir };
const tmp = path.join(os.tmpdir(), 'fruits-bench-novelty');

/** Features of a mini split, featurized once by the CLI into the temporary folder (resumed later). */
function features(split: 'Training' | 'Test'): string {
  const out = process.env[`BENCH_NOVELTY_${split.toUpperCase()}`] ?? path.join(tmp, split);
  const r = spawnSync(process.execPath, [cli, 'featurize', path.join(miniData, split), out, '--quiet'], {
    env: { ...env, ...process.env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`featurize ${split} failed`);
  return out;
}

/** The name of a candidate: Mahalanobis distance (pooled or per class) at k, plus w × the doubt. */
const mahalanobis = (perClass: boolean, k: number, w: number) => `${perClass ? 'per-class' : 'pooled'} Mahalanobis (k = ${k})${w ? ` + ${w}·(1 − max softmax)` : ' alone'}`;
const CHOSEN = mahalanobis(NOVELTY_DEFAULTS.pooledWeight < 1, NOVELTY_DEFAULTS.k, NOVELTY_DEFAULTS.confidenceWeight);

interface SplitResult {
  seed: number;
  left: string[];
  auroc: Record<string, number>;
  knownRate: number;
  unknownRate: number;
  heldOutRate: number;
}

async function split(train: LabelledRows, test: LabelledRows, seed: number, log: (m: string) => void): Promise<SplitResult> {
  const allLabels = [...new Set(train.labels)].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const rand = mulberry32(seed);
  const shuffled = allLabels.map((l) => ({ l, r: rand() })).sort((a, b) => a.r - b.r);
  const left = new Set(shuffled.slice(0, LEFT_OUT).map((s) => s.l));
  const labels = allLabels.filter((l) => !left.has(l));
  const index = new Map(labels.map((l, i) => [l, i]));
  const tr = selectRows(train, train.labels.flatMap((l, i) => (left.has(l) ? [] : [i])));
  const y = Int32Array.from(tr.labels, (l) => index.get(l)!);
  const dim = tr.space.dim;
  const c = labels.length;
  // As `fruits train` does: standardise, fit without the held-out slice, refit on all rows.
  const st = fitStandardizer(tr.rows, tr.n, dim, 'per-feature');
  const xs = standardize(st, tr.rows, tr.n);
  const held = holdoutSplit(tr, TRAIN_DEFAULTS.holdout);
  const pick = (rows: number[]) => {
    const out = new Float32Array(rows.length * dim);
    rows.forEach((r, i) => out.set(xs.subarray(r * dim, (r + 1) * dim), i * dim));
    return out;
  };
  const opts = { l2: TRAIN_DEFAULTS.l2, maxIterations: 300, tolerance: TRAIN_DEFAULTS.tolerance };
  const part = await fitLogReg(pick(held.fit), Int32Array.from(held.fit, (i) => y[i]), held.fit.length, dim, c, opts);
  const heldTop = topScoresOf(await logRegProbabilities(part.model, pick(held.held), held.held.length), held.held.length, c);
  const fit = await fitLogReg(xs, y, tr.n, dim, c, { ...opts, init: part.model });
  const known = test.labels.map((l) => index.has(l));
  const result: Record<string, number> = {};
  const record = (name: string, s: ArrayLike<number>) => {
    const all = Array.from(s);
    result[name] = auroc(all.filter((_, i) => known[i]), all.filter((_, i) => !known[i]));
  };
  const testTop = topScoresOf(await logRegProbabilities(fit.model, standardize(st, test.rows, test.n), test.n), test.n, c);
  record('1 − max softmax', Array.from(testTop, (v) => 1 - v));
  const sims = await multiplyABt(unitRows(test.rows, test.n, dim), test.n, unitRows(tr.rows, tr.n, dim), tr.n, dim);
  record('cosine distance to the nearest training row', Array.from({ length: test.n }, (_, i) => 1 - Math.max(...sims.subarray(i * tr.n, (i + 1) * tr.n))));
  const input = { features: tr.rows, n: tr.n, dim, y, classes: c, paths: tr.paths, held: held.held, heldTopScores: heldTop };
  let rates = { knownRate: NaN, unknownRate: NaN, heldOutRate: NaN };
  for (const perClass of [false, true]) {
    for (const k of [16, 32, 64]) {
      // One fit per covariance and k; the weight of the doubt only changes the sum.
      const m = await fitNovelty(input, { k, pooledWeight: perClass ? NOVELTY_DEFAULTS.pooledWeight : 1 });
      const s = await noveltyOf(m, test.rows, testTop, test.n);
      for (const w of [0, 0.5, 1, 2]) record(mahalanobis(perClass, k, w), Array.from(s.distance, (d, i) => d / m.distanceScale + w * (1 - testTop[i])));
      if (mahalanobis(perClass, k, m.confidenceWeight) === CHOSEN) {
        const rate = (want: boolean) => s.unknown.filter((v, i) => v && known[i] === want).length / known.filter((v) => v === want).length;
        rates = { knownRate: rate(true), unknownRate: rate(false), heldOutRate: m.calibration.heldOutRate };
      }
    }
  }
  log(
    `seed ${seed}: left out ${[...left].join(', ')}; AUROC ${result[CHOSEN].toFixed(3)} (pooled, version 1: ${result[mahalanobis(false, 32, 2)].toFixed(3)}), ` +
      `unknown in-distribution ${(rates.knownRate * 100).toFixed(1)} %, on left-out ${(rates.unknownRate * 100).toFixed(1)} %`,
  );
  return { seed, left: [...left], auroc: result, ...rates };
}

/** Bytes of a bundle folder's files. */
async function bundleBytes(dir: string): Promise<number> {
  let total = 0;
  for (const f of await fs.readdir(dir)) total += (await fs.stat(path.join(dir, f))).size;
  return total;
}

interface Answer {
  unknown?: boolean;
}

/** POSTs photos to /v1/classify from CLIENTS closed loops; the server's CPU seconds over them and the answers. */
async function round(server: Server, bodies: Buffer[]): Promise<{ cpu: number; answers: Answer[] }> {
  const url = `${server.url}/v1/classify`;
  const cpu0 = await cpuSeconds(server.child.pid!);
  const answers: Answer[] = new Array(bodies.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      for (let i = next++; i < bodies.length; i = next++) {
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: new Uint8Array(bodies[i]) });
        if (res.status !== 200) throw new Error(`/v1/classify answered ${res.status}: ${await res.text()}`);
        answers[i] = (await res.json()) as Answer;
      }
    }),
  );
  return { cpu: (await cpuSeconds(server.child.pid!)) - cpu0, answers };
}

async function httpCost(trainingFeatures: string, log: (m: string) => void): Promise<Record<string, unknown>> {
  const bundles = { novelty: path.join(tmp, 'bundle-novelty'), plain: path.join(tmp, 'bundle-plain') };
  for (const [name, dir] of Object.entries(bundles)) {
    await fs.rm(dir, { recursive: true, force: true });
    const r = await runNode([cli, 'train', trainingFeatures, dir, '--quiet', ...(name === 'plain' ? ['--holdout', '0'] : [])], env);
    if (r.code !== 0) throw new Error(`train failed: ${r.stderr}`);
  }
  const bytes = { novelty: await bundleBytes(bundles.novelty), plain: await bundleBytes(bundles.plain) };
  const files = await listJpegs(path.join(miniData, 'Test'));
  const trained = new Set(await fs.readdir(path.join(miniData, 'Training')));
  // Every Test photo twice per server (12 rounds of 200), in a fixed shuffled order so each round mixes classes.
  const rand = mulberry32(7);
  const order = files.map((f) => ({ f, r: rand() })).sort((a, b) => a.r - b.r).map((x) => x.f);
  const bodies = await Promise.all(order.map((f) => fs.readFile(f)));
  const servers = { novelty: await startServe(bundles.novelty, []), plain: await startServe(bundles.plain, []) };
  const cpu = { novelty: [] as number[], plain: [] as number[] };
  const unknown = { known: 0, knownRows: 0, untrained: 0, untrainedRows: 0 };
  try {
    for (const s of Object.values(servers)) await round(s, bodies.slice(0, 50)); // warm-up
    for (let r = 0; r < ROUNDS; r++) {
      const from = (r * ROUND) % bodies.length;
      const slice = bodies.slice(from, from + ROUND);
      // Alternate which server goes first, so a trend in the machine's load hits both alike.
      const names = r % 2 ? (['plain', 'novelty'] as const) : (['novelty', 'plain'] as const);
      for (const name of names) {
        const { cpu: seconds, answers } = await round(servers[name], slice);
        cpu[name].push((seconds * 1000) / slice.length);
        if (name !== 'novelty') continue;
        answers.forEach((a, i) => {
          const isKnown = trained.has(path.basename(path.dirname(order[from + i])));
          if (a.unknown === undefined) throw new Error('the novelty bundle answered without `unknown`');
          if (isKnown) {
            unknown.knownRows++;
            unknown.known += a.unknown ? 1 : 0;
          } else {
            unknown.untrainedRows++;
            unknown.untrained += a.unknown ? 1 : 0;
          }
        });
      }
      log(`round ${r + 1}/${ROUNDS}: server CPU per request ${cpu.novelty.at(-1)!.toFixed(2)} ms with novelty, ${cpu.plain.at(-1)!.toFixed(2)} ms without`);
    }
  } finally {
    await Promise.all(Object.values(servers).map((s) => s.stop()));
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const ratios = cpu.novelty.map((v, i) => v / cpu.plain[i]);
  const sorted = [...ratios].sort((a, b) => a - b);
  return {
    bundleBytes: { ...bytes, ratio: Number((bytes.novelty / bytes.plain).toFixed(3)) },
    serverCpuMsPerRequest: {
      withNovelty: Number(mean(cpu.novelty).toFixed(3)),
      without: Number(mean(cpu.plain).toFixed(3)),
      ratio: Number((mean(cpu.novelty) / mean(cpu.plain)).toFixed(3)),
      roundRatios: { min: Number(sorted[0].toFixed(3)), median: Number(sorted[Math.floor(sorted.length / 2)].toFixed(3)), max: Number(sorted.at(-1)!.toFixed(3)) },
      rounds: ROUNDS,
      requestsPerRound: ROUND,
      clients: CLIENTS,
      note: '/proc CPU of each server process around its rounds, servers alternated',
    },
    httpUnknownRate: {
      knownClasses: Number((unknown.known / Math.max(1, unknown.knownRows)).toFixed(4)),
      knownRows: unknown.knownRows,
      untrainedClass: Number((unknown.untrained / Math.max(1, unknown.untrainedRows)).toFixed(4)),
      untrainedRows: unknown.untrainedRows,
    },
  };
}

export async function benchNovelty(opts: { log?: (m: string) => void } = {}): Promise<Record<string, unknown>> {
  const log = opts.log ?? ((m: string) => console.error(m));
  const trainingFeatures = features('Training');
  const [train, test] = await Promise.all([loadDataset(trainingFeatures), loadDataset(features('Test'))]);
  const results: SplitResult[] = [];
  for (const seed of SEEDS) results.push(await split(train, test, seed, log));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = (xs: number[]) => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));
  const summary = (xs: number[]) => ({ mean: Number(mean(xs).toFixed(4)), sd: Number(sd(xs).toFixed(4)), min: Number(Math.min(...xs).toFixed(4)) });
  if (!results.length) return { ...(await httpCost(trainingFeatures, log)) };
  const candidates = Object.keys(results[0].auroc).map((name) => ({ name, ...summary(results.map((r) => r.auroc[name])) }));
  candidates.sort((a, b) => b.mean - a.mean);
  return {
    splits: `${SEEDS.length} seeds × ${LEFT_OUT} of 119 classes left out at random`,
    chosen: CHOSEN,
    aurocChosenPerSeed: Object.fromEntries(results.map((r) => [r.seed, Number(r.auroc[CHOSEN].toFixed(4))])),
    aurocChosen: summary(results.map((r) => r.auroc[CHOSEN])),
    auroc: Object.fromEntries(candidates.map(({ name, ...s }) => [name, s])),
    unknownRateInDistribution: { ...summary(results.map((r) => r.knownRate)), max: Number(Math.max(...results.map((r) => r.knownRate)).toFixed(4)) },
    unknownRateLeftOut: summary(results.map((r) => r.unknownRate)),
    unknownRateHeldOutTraining: summary(results.map((r) => r.heldOutRate)),
    ...(await httpCost(trainingFeatures, log)),
    targets: 'AUROC ≥ 0.95; unknown in-distribution ≤ 2 %; bundle ≤ 2×; request CPU within 10 %',
  };
}
