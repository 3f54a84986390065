// Flag parsing at the CLI edge: every value is checked with zod and a bad one becomes a single
// clear line naming the flag.
import os from 'node:os';
import { z } from 'zod';
import { DEVICES } from '../model/device.js';
import { UserError } from '../util/errors.js';

export class UsageError extends UserError {
  override readonly exitCode = 2;
}

const intFlag = (min: number, max = Number.MAX_SAFE_INTEGER) => {
  const expected = max === Number.MAX_SAFE_INTEGER ? `a whole number of at least ${min}` : `a whole number from ${min} to ${max}`;
  return z.string().trim().regex(/^\d+$/, expected).transform(Number).pipe(z.number().int().min(min, expected).max(max, expected));
};

export const flag = {
  positiveInt: intFlag(1),
  nonNegativeInt: intFlag(0),
  workers: intFlag(1, 256),
  /** MobileNetV2 downsamples 32×: smaller inputs leave it nothing to pool. */
  inputSize: intFlag(32, 1024),
  ratio: z.string().trim().regex(/^(0(\.\d+)?|1(\.0+)?|\.\d+)$/, 'a number from 0 to 1').transform(Number),
  device: z.enum(DEVICES),
};

/** Parses one flag value; `name` is the flag as the user typed it, for the message. */
export function parseFlag<T>(schema: z.ZodType<T, any>, value: unknown, name: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new UsageError(`${name}: invalid value '${String(value)}' (expected ${r.error.issues[0]?.message ?? 'a valid value'})`);
  return r.data;
}

export function optionalFlag<T>(schema: z.ZodType<T, any>, value: unknown, name: string): T | undefined {
  return value === undefined ? undefined : parseFlag(schema, value, name);
}

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
