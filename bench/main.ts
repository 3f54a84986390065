// `npm run bench [-- section…]`: runs the benchmark sections (default: all) and prints each as a
// readable table and as JSON (also saved under bench-results/).
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { benchFeaturize } from './featurize.js';
import { benchPca } from './pca.js';
import { benchS3 } from './s3.js';
import { benchDistributed } from './distributed.js';
import { benchServe } from './serve.js';
import { benchNovelty } from './novelty.js';
import { benchGrowth } from './growth.js';
import { repoRoot, table } from './util.js';

type Section = () => Promise<Record<string, unknown>>;

const cores = os.availableParallelism();
/** Worker processes × ORT threads and batch size of the sections that featurize (BENCH_* overrides). */
const pool = () => {
  const workers = Number(process.env.BENCH_WORKERS ?? cores);
  return { workers, threads: Number(process.env.BENCH_THREADS ?? Math.max(1, Math.floor(cores / workers))), batchSize: Number(process.env.BENCH_BATCH ?? 8) };
};
const sections: Record<string, Section> = {
  featurize: () =>
    benchFeaturize({
      images: Number(process.env.BENCH_IMAGES ?? 12_000),
      ...pool(),
      rawSeconds: 12,
    }),
  pca: () => benchPca({ log: (m: string) => console.error(m) }) as Promise<Record<string, unknown>>,
  s3: () => benchS3(),
  distributed: () => benchDistributed(),
  serve: () => benchServe(),
  novelty: () => benchNovelty(),
  growth: () => benchGrowth({ images: Number(process.env.BENCH_GROWTH_IMAGES ?? 20_000), ...pool() }),
};

const wanted = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(sections);
// npm names itself in the user agent it hands to scripts (`npm/11.19.1 node/v24.21.0 linux x64 …`).
const npmVersion = /\bnpm\/(\S+)/.exec(process.env.npm_config_user_agent ?? '')?.[1] ?? 'not run through npm';
const machine = { cores, memoryGiB: os.totalmem() / 2 ** 30, node: process.version, npm: npmVersion, cpu: os.cpus()[0]?.model ?? 'unknown' };
console.log(`bench on node ${machine.node}, npm ${machine.npm}, ${cores} cores (${machine.cpu}), ${machine.memoryGiB.toFixed(0)} GiB`);
const results: Record<string, unknown> = { machine, startedAt: new Date().toISOString() };
for (const name of wanted) {
  const run = sections[name];
  if (!run) {
    console.error(`unknown bench section '${name}' (known: ${Object.keys(sections).join(', ')})`);
    process.exit(2);
  }
  console.log(`\n== ${name}`);
  const r = await run();
  results[name] = r;
  console.log(table(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' || typeof v === 'string' ? v : JSON.stringify(v)])));
}
const dir = path.join(repoRoot, 'bench-results');
await fs.mkdir(dir, { recursive: true });
await fs.writeFile(path.join(dir, 'bench.json'), `${JSON.stringify(results, null, 2)}\n`);
console.log(`\n${JSON.stringify(results)}`);
