// Growing-collection benchmark: a full `fruits run` on N photos (the mini dataset repeated under
// new paths), then +10 % new photos and a rerun, +1 % and a rerun (default: refit and re-project;
// then --keep-pca), and a run after removing 1 %. Each rerun's wall time as a share of the full
// run, measured in the same bench run (also in CPU-seconds of the process tree), and peak memory
// (coordinator + workers) of each run.
import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { childrenCpuSeconds, cli, linkPhoto, modelDir, repeatedDataset, runNode } from './util.js';

export interface GrowthBenchOptions {
  images: number;
  workers: number;
  threads: number;
  batchSize: number;
}

async function filesUnder(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? path.join(rel, e.name) : e.name;
    if (e.isDirectory()) out.push(...(await filesUnder(dir, r)));
    else if (!e.name.startsWith('.')) out.push(r);
  }
  return out.sort();
}

export async function benchGrowth(o: GrowthBenchOptions) {
  const n10 = Math.round(o.images * 0.1);
  const n1 = Math.max(1, Math.round(o.images * 0.01));
  // One pool of distinct paths: the first N are the collection, the next ones arrive later.
  const pool = await repeatedDataset(o.images + n10 + n1);
  const files = await filesUnder(pool);
  const input = path.join(os.tmpdir(), `fruits-bench-growth-in-${o.images}`);
  const out = path.join(os.tmpdir(), `fruits-bench-growth-out-${o.images}`);
  await fs.rm(input, { recursive: true, force: true });
  await fs.rm(out, { recursive: true, force: true });
  const link = async (rels: string[]) => {
    for (const rel of rels) {
      await fs.mkdir(path.dirname(path.join(input, rel)), { recursive: true });
      await linkPhoto(await fs.realpath(path.join(pool, rel)), path.join(input, rel));
    }
  };
  const run = async (what: string, extra: string[] = []) => {
    const t0 = performance.now();
    const cpu0 = childrenCpuSeconds();
    const r = await runNode(
      [cli, 'run', input, out, '--json', '--quiet', '--workers', String(o.workers), '--threads', String(o.threads), '--batch-size', String(o.batchSize), ...extra],
      { FRUITS_MODEL_DIR: modelDir },
    );
    const seconds = (performance.now() - t0) / 1000;
    const cpuSeconds = childrenCpuSeconds() - cpu0;
    if (r.code !== 0) throw new Error(`${what}: fruits run failed: ${r.stderr}`);
    const s = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
      featurize: { rows: number; seconds: number; update?: { featurized: number } };
      statistics: { seconds: number };
      fit: { seconds: number };
      transform: { seconds: number };
      seconds: number;
      memory?: { coordinatorPeakRss: number; workerPeakRss: number[] };
    };
    const peak = s.memory ? s.memory.coordinatorPeakRss + s.memory.workerPeakRss.reduce((a, b) => a + b, 0) : 0;
    // Where the time went: each stage, the rest of the job (report, manifests), and the process
    // around the job (start-up, module loading, worker shutdown).
    const r1 = (x: number) => Math.round(x * 10) / 10;
    const stages = {
      featurize: r1(s.featurize.seconds),
      statistics: r1(s.statistics.seconds),
      fit: r1(s.fit.seconds),
      transform: r1(s.transform.seconds),
      rest: r1(s.seconds - s.featurize.seconds - s.statistics.seconds - s.fit.seconds - s.transform.seconds),
      process: r1(seconds - s.seconds),
    };
    return { seconds, cpuSeconds, rows: s.featurize.rows, featurized: s.featurize.update?.featurized ?? s.featurize.rows, peakRssMiB: peak / 2 ** 20, stages };
  };

  await link(files.slice(0, o.images));
  const full = await run('full');
  await link(files.slice(o.images, o.images + n10));
  const plus10 = await run('+10 %');
  await link(files.slice(o.images + n10, o.images + n10 + n1));
  const plus1 = await run('+1 %');
  // The same +1 % again, with the PCA kept: remove it (a −1 % run is measured below), add it back.
  const lastOnes = files.slice(o.images + n10, o.images + n10 + n1);
  for (const rel of lastOnes) await fs.rm(path.join(input, rel));
  await run('(undo +1 %)');
  await link(lastOnes);
  const plus1Keep = await run('+1 % --keep-pca', ['--keep-pca']);
  const present = files.slice(0, o.images + n10 + n1);
  for (let i = 0; i < n1; i++) await fs.rm(path.join(input, present[Math.floor((i * present.length) / n1)]));
  const minus1 = await run('−1 %');
  await fs.rm(out, { recursive: true, force: true });
  await fs.rm(input, { recursive: true, force: true });
  const share = (r: { seconds: number }) => r.seconds / full.seconds;
  // The same shares in CPU-seconds of the whole process tree: the machine is shared, and a rerun
  // measured minutes after the full run may meet another load; CPU time moves much less with it.
  const cpuShare = (r: { cpuSeconds: number }) => Math.round((r.cpuSeconds / full.cpuSeconds) * 1000) / 1000;
  return {
    config: `${o.workers} workers × ${o.threads} ORT threads, batch ${o.batchSize}`,
    images: full.rows,
    fullSeconds: full.seconds,
    plus10Seconds: plus10.seconds,
    plus10Share: share(plus10),
    plus1Seconds: plus1.seconds,
    plus1Share: share(plus1),
    plus1KeepPcaSeconds: plus1Keep.seconds,
    plus1KeepPcaShare: share(plus1Keep),
    minus1Seconds: minus1.seconds,
    minus1Share: share(minus1),
    fullCpuSeconds: full.cpuSeconds,
    cpuShare: { plus10: cpuShare(plus10), plus1: cpuShare(plus1), plus1KeepPca: cpuShare(plus1Keep), minus1: cpuShare(minus1) },
    featurized: { full: full.featurized, plus10: plus10.featurized, plus1: plus1.featurized, plus1KeepPca: plus1Keep.featurized, minus1: minus1.featurized },
    stageSeconds: { full: full.stages, plus10: plus10.stages, plus1: plus1.stages, plus1KeepPca: plus1Keep.stages, minus1: minus1.stages },
    peakRssMiB: { full: full.peakRssMiB, plus10: plus10.peakRssMiB, plus1: plus1.peakRssMiB, plus1KeepPca: plus1Keep.peakRssMiB, minus1: minus1.peakRssMiB },
  };
}
