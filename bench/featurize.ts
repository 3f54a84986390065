// Featurize benchmark: end-to-end images/s against the raw inference ceiling of the same model
// with the same thread settings, measured in one run, and peak memory at N and 4N images.
import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { childrenCpuSeconds, cli, modelDir, rawInferScript, repeatedDataset, runNode } from './util.js';

export interface FeaturizeBenchOptions {
  images: number;
  workers: number;
  threads: number;
  batchSize: number;
  rawSeconds: number;
}

async function rawInference(o: FeaturizeBenchOptions): Promise<{ rate: number; perCpuSecond: number }> {
  const script = rawInferScript;
  const runs = await Promise.all(
    Array.from({ length: o.workers }, () =>
      runNode([script, String(o.batchSize), String(o.rawSeconds)], { FRUITS_WORKER_THREADS: String(o.threads), FRUITS_MODEL_DIR: modelDir }),
    ),
  );
  let rate = 0;
  let images = 0;
  let cpuSeconds = 0;
  for (const r of runs) {
    if (r.code !== 0) throw new Error(`raw inference failed: ${r.stderr}`);
    const run = JSON.parse(r.stdout.trim().split('\n').pop()!) as { images: number; seconds: number; cpuSeconds: number };
    rate += run.images / run.seconds;
    images += run.images;
    cpuSeconds += run.cpuSeconds;
  }
  return { rate, perCpuSecond: images / cpuSeconds };
}

async function endToEnd(o: FeaturizeBenchOptions, images: number, inputSize?: number) {
  const data = await repeatedDataset(images);
  const out = path.join(os.tmpdir(), `fruits-bench-out-${images}`);
  await fs.rm(out, { recursive: true, force: true });
  const cpu0 = childrenCpuSeconds();
  const r = await runNode(
    [cli, 'featurize', data, out, '--json', '--quiet', '--workers', String(o.workers), '--threads', String(o.threads), '--batch-size', String(o.batchSize), ...(inputSize ? ['--input-size', String(inputSize)] : [])],
    { FRUITS_MODEL_DIR: modelDir },
  );
  if (r.code !== 0) throw new Error(`featurize failed: ${r.stderr}`);
  const cpuSeconds = childrenCpuSeconds() - cpu0;
  const s = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
    rows: number;
    seconds: number;
    imagesPerSecond: number;
    memory: { coordinatorPeakRss: number; workerPeakRss: number[] };
  };
  await fs.rm(out, { recursive: true, force: true });
  const peak = s.memory.coordinatorPeakRss + s.memory.workerPeakRss.reduce((a, b) => a + b, 0);
  return { rows: s.rows, seconds: s.seconds, imagesPerSecond: s.imagesPerSecond, imagesPerCpuSecond: s.rows / cpuSeconds, peakRssMiB: peak / 2 ** 20, workerPeakRssMiB: Math.max(...s.memory.workerPeakRss) / 2 ** 20 };
}

export async function benchFeaturize(o: FeaturizeBenchOptions) {
  // Raw before and after the end-to-end runs: the machine is shared, so average the two.
  const raw1 = await rawInference(o);
  const small = await endToEnd(o, Math.round(o.images / 4));
  const large = await endToEnd(o, o.images);
  // The same N photos with the network at 128×128 (issue 14's target: ≥ 2.5× the rate at 224).
  const small128 = await endToEnd(o, Math.round(o.images / 4), 128);
  const raw2 = await rawInference(o);
  const raw = (raw1.rate + raw2.rate) / 2;
  const rawPerCpu = (raw1.perCpuSecond + raw2.perCpuSecond) / 2;
  const load = os.loadavg()[0];
  return {
    config: `${o.workers} workers × ${o.threads} ORT threads, batch ${o.batchSize}`,
    images: large.rows,
    endToEndImagesPerSecond: large.imagesPerSecond,
    rawInferenceImagesPerSecond: raw,
    rawInferenceRuns: [raw1.rate, raw2.rate],
    ratio: large.imagesPerSecond / raw,
    // Per CPU-second of the whole process tree (start-up included) against the network's own.
    endToEndImagesPerCpuSecond: large.imagesPerCpuSecond,
    rawInferenceImagesPerCpuSecond: rawPerCpu,
    ratioPerCpuSecond: large.imagesPerCpuSecond / rawPerCpu,
    loadAverage1m: load,
    peakRssMiB_N: small.peakRssMiB,
    peakRssMiB_4N: large.peakRssMiB,
    workerPeakRssMiB_N: small.workerPeakRssMiB,
    workerPeakRssMiB_4N: large.workerPeakRssMiB,
    rssGrowth_4N_over_N: large.peakRssMiB / small.peakRssMiB,
    N: small.rows,
    endToEndImagesPerSecond_N: small.imagesPerSecond,
    endToEndImagesPerSecond_N_inputSize128: small128.imagesPerSecond,
    inputSize128Over224_N: small128.imagesPerSecond / small.imagesPerSecond,
    inputSize128Over224_N_perCpuSecond: small128.imagesPerCpuSecond / small.imagesPerCpuSecond,
  };
}
