// The CLI's flag helpers: the checked flag parsing of util/flags.ts, and the pool size and
// percentages every command shows.
import os from 'node:os';
import { flag, optionalFlag } from '../util/flags.js';

export { UsageError, flag, optionalFlag, parseFlag } from '../util/flags.js';

/** Worker processes and ONNX Runtime threads per worker, sized together for the cores. */
export function poolSize(workersFlag: unknown, threadsFlag: unknown): { workers: number; threadsPerWorker: number } {
  const cores = os.availableParallelism();
  const workers = optionalFlag(flag.workers, workersFlag, '--workers') ?? cores;
  const threadsPerWorker = optionalFlag(flag.positiveInt, threadsFlag, '--threads') ?? Math.max(1, Math.floor(cores / workers));
  return { workers, threadsPerWorker };
}

/** A ratio as a percentage with two decimals, for terminal summaries ("97.14 %"). */
export function pct(v: number): string {
  return `${(v * 100).toFixed(2)} %`;
}
