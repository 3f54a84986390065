// The flags several commands share, in groups: each group's names, help and defaults beside the
// function that reads and checks them, so a flag means the same thing in every command. A command
// adds a group with addXOptions(cmd) (or one shared Option with .addOption) and reads it back with
// xOptionsOf(o). Flags of one command only stay in that command's file.
import os from 'node:os';
import { Option, type Command } from 'commander';
import { z } from 'zod';
import type { PhotoFeaturizeOptions } from '../classify/featurize-photos.js';
import { DEFAULT_MAX_PIXELS } from '../decode/limits.js';
// The light modules, not pca/index.js: every command's start-up would load ONNX Runtime through it.
import { SCALE_MODES, type ScaleMode } from '../pca/scaling.js';
import type { ComponentSelection } from '../pca/select-components.js';
import { RedisUrlError, parseRedisUrl } from '../runner/distributed/redis-url.js';
import { DEFAULT_PREFIX, checkPrefix } from '../runner/distributed/jobs.js';
import { UsageError, flag, optionalFlag, parseFlag } from '../util/flags.js';

// --- the model that featurizes images (featurize, run) ----------------------------------------

export function addModelOptions(cmd: Command): Command {
  return cmd
    .option('--model <file|id>', 'ONNX model file, or a known model id (default: mobilenet_v2_1.0_224 from FRUITS_MODEL_DIR or the cache, else mobilenetv2-7 downloaded)')
    .option('--model-spec <file.json>', 'JSON spec of a model the registry does not know (input, normalisation, feature tensor)')
    .option('--input-size <n>', "the network runs on n×n images (default: the model's own size, 224 for MobileNetV2); smaller is faster, see README", undefined)
    .addOption(deviceOption());
}

/** The ONNX Runtime execution provider (featurize, run, worker). */
export function deviceOption(): Option {
  return new Option('--device <cpu|cuda>', 'execution provider (cuda needs the CUDA build of ONNX Runtime)').default('cpu');
}

/**
 * A bundle's (or a drift reference's) featurizer file, for commands that load a bundle; `scope`
 * names the inputs that need it when only some do.
 */
export function featurizerFileOption(scope?: string, owner: 'bundle' | 'reference' = 'bundle'): Option {
  return new Option('--model <file.onnx>', `${scope ? `${scope}: ` : ''}the ${owner}'s featurizer file, if not in FRUITS_MODEL_DIR or the cache`);
}

// --- one model in this process (predict, serve, telegram) -------------------------------------

export function threadsOption(): Option {
  return new Option('--threads <n>', 'ONNX Runtime threads (default: all cores)');
}

// --- the worker pool of the embedded runner ---------------------------------------------------

export function addPoolOptions(cmd: Command): Command {
  return cmd
    .option('--workers <n>', 'worker processes (default: one per core)')
    .option('--threads <n>', 'ONNX Runtime threads per worker (default: cores / workers)');
}

/** Worker processes and ONNX Runtime threads per worker, sized together for the cores. */
export function poolSize(workersFlag: unknown, threadsFlag: unknown): { workers: number; threadsPerWorker: number } {
  const cores = os.availableParallelism();
  const workers = optionalFlag(flag.workers, workersFlag, '--workers') ?? cores;
  const threadsPerWorker = optionalFlag(flag.positiveInt, threadsFlag, '--threads') ?? Math.max(1, Math.floor(cores / workers));
  return { workers, threadsPerWorker };
}

// --- featurizing (featurize, run; evaluate, drift and predict share the batch size) -----------

// Batch 8: with one ORT thread per worker larger batches are no faster, and each doubling adds
// ~90 MiB of activations per worker (measured: 177 MiB at 1, 236 at 8, 323 at 16).
export const FEATURIZE_DEFAULTS = { batchSize: 8, partitionSize: 1024 };

export function addFeaturizeOptions(cmd: Command): Command {
  return cmd
    .option('--batch-size <n>', `images per inference call (default ${FEATURIZE_DEFAULTS.batchSize})`)
    .option('--partition-size <n>', `images per partition / part file (default ${FEATURIZE_DEFAULTS.partitionSize})`)
    .option('--limit <n>', 'only the first n images of the listing')
    .option('--max-pixels <n>', `reject images with more pixels than this (default ${DEFAULT_MAX_PIXELS})`)
    .option('--max-reject-ratio <r>', 'exit non-zero (and write no _SUCCESS) when more than this share of images is rejected')
    .option('--allow-removals', 'let an update remove more than half of the dataset\'s images (a listing that lost them is otherwise refused)');
}

export function featurizeOptionsOf(o: Record<string, unknown>) {
  return {
    batchSize: parseFlag(flag.positiveInt, o.batchSize ?? String(FEATURIZE_DEFAULTS.batchSize), '--batch-size'),
    partitionSize: parseFlag(flag.positiveInt, o.partitionSize ?? String(FEATURIZE_DEFAULTS.partitionSize), '--partition-size'),
    limit: optionalFlag(flag.positiveInt, o.limit, '--limit'),
    maxPixels: parseFlag(flag.positiveInt, o.maxPixels ?? String(DEFAULT_MAX_PIXELS), '--max-pixels'),
    maxRejectRatio: optionalFlag(flag.ratio, o.maxRejectRatio, '--max-reject-ratio'),
    device: parseFlag(flag.device, o.device ?? 'cpu', '--device'),
    allowRemovals: Boolean(o.allowRemovals),
  };
}

/**
 * The flags of a command that featurizes a photo folder with a bundle's model before it can work
 * (evaluate, drift): read only when it does, so they do not bother the other inputs.
 */
export function photoFeaturizeOptionsOf(o: Record<string, unknown>): PhotoFeaturizeOptions {
  return {
    model: o.model as string | undefined,
    ...poolSize(o.workers, o.threads),
    batchSize: parseFlag(flag.positiveInt, o.batchSize ?? String(FEATURIZE_DEFAULTS.batchSize), '--batch-size'),
    partitionSize: FEATURIZE_DEFAULTS.partitionSize,
    maxPixels: parseFlag(flag.positiveInt, o.maxPixels ?? String(DEFAULT_MAX_PIXELS), '--max-pixels'),
    featuresOut: o.featuresOut as string | undefined,
    quiet: Boolean(o.quiet),
  };
}

// --- PCA (fit, run) ---------------------------------------------------------------------------

export const DEFAULT_VARIANCE = 0.95;

export function addPcaOptions(cmd: Command): Command {
  return cmd
    .option('--k <n>', 'number of principal components to keep')
    .option('--variance <r>', `keep the fewest components whose cumulative explained variance reaches r (default ${DEFAULT_VARIANCE})`)
    .option('--scale <mode>', 'standardisation before PCA: standard (StandardScaler), minmax (MinMaxScaler) or none', 'standard');
}

export function pcaOptionsOf(o: Record<string, unknown>): { scale: ScaleMode; components: ComponentSelection } {
  // Own messages: zod's defaults read "expected Too small: expected number to be >=1".
  const scale = parseFlag(z.enum(SCALE_MODES, { error: 'standard, minmax or none' }), o.scale ?? 'standard', '--scale');
  const kSchema = z.string().trim().regex(/^\d+$/, 'a whole number').transform(Number).pipe(z.number().int().min(1, 'a whole number of at least 1'));
  const k = optionalFlag(kSchema, o.k, '--k');
  const varianceSchema = z.string().trim().regex(/^(0?\.\d+|1(\.0+)?|0)$/, 'a number in (0, 1]').transform(Number).pipe(z.number().gt(0, 'a number in (0, 1]').max(1));
  const variance = optionalFlag(varianceSchema, o.variance, '--variance');
  if (k !== undefined && variance !== undefined) throw new UsageError('--k and --variance: give one or the other');
  return { scale, components: k !== undefined ? { k } : { variance: variance ?? DEFAULT_VARIANCE } };
}

// --- Redis, for every distributed command (run --engine distributed, worker, dashboard, queue-metrics)

export function addRedisOptions(cmd: Command): Command {
  return cmd
    .option('--redis <url>', 'Redis: redis://[user:password@]host[:port][/db], rediss://… for TLS (env FRUITS_REDIS_URL)')
    .option('--prefix <prefix>', `key prefix of the deployment's queues (env FRUITS_QUEUE_PREFIX; default ${DEFAULT_PREFIX})`);
}

/** The Redis URL (checked, never echoed with its password) and queue prefix from flags or environment. */
export function redisOptionsOf(o: Record<string, unknown>): { url: string; prefix: string } {
  const url = (o.redis as string | undefined) ?? process.env.FRUITS_REDIS_URL;
  if (!url) throw new UsageError('--redis: no Redis URL (pass --redis redis://host:6379, or set FRUITS_REDIS_URL)');
  try {
    parseRedisUrl(url);
  } catch (err) {
    if (err instanceof RedisUrlError) throw new UsageError(`--redis: ${err.message}`);
    throw err;
  }
  const prefixValue = (o.prefix as string | undefined) ?? process.env.FRUITS_QUEUE_PREFIX ?? DEFAULT_PREFIX;
  let prefix: string;
  try {
    prefix = checkPrefix(prefixValue);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return { url, prefix };
}
