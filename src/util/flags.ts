// Settings from flags and environment variables, checked with zod at the edge: a bad value
// becomes a single clear line naming the flag (a usage error, exit 2). Used by the CLI and by the
// settings modules of the long-running services (serve, telegram), which the CLI describes
// without loading them.
import os from 'node:os';
import { z } from 'zod';
import { DEVICES } from '../model/device.js';
import { UserError } from './errors.js';

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
  port: intFlag(0, 65535),
  /** Images per inference call of a service's micro-batcher (serve, telegram). */
  maxBatch: intFlag(1, 256),
  /** How long the first image of a micro-batch waits for others. */
  maxWaitMs: intFlag(0, 1000),
};

/** Parses one flag value; `name` is the flag as the user typed it, for the message. */
export function parseFlag<T>(schema: z.ZodType<T, any>, value: unknown, name: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new UsageError(`${name}: invalid value '${String(value)}' (expected ${r.error.issues[0]?.message ?? 'a valid value'})`);
  return r.data;
}

/** ONNX Runtime threads of a command that runs one model in its own process: all cores unless --threads. */
export function threadsFlag(value: unknown): number {
  return optionalFlag(flag.positiveInt, value, '--threads') ?? os.availableParallelism();
}

export function optionalFlag<T>(schema: z.ZodType<T, any>, value: unknown, name: string): T | undefined {
  return value === undefined ? undefined : parseFlag(schema, value, name);
}
