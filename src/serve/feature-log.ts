// `fruits serve --log-features <location>`: what users actually sent, for `fruits drift`. Each
// classified photo's features (never the photo), the time, the answer (label, score), its novelty
// and unknown verdict and the bundle that answered are buffered and written as Parquet parts
// (the datasets' own encoding) under <location>/parts/<day>/, flushed every `flushRows` rows,
// every `flushMs` and on shutdown. Each part holds rows of one featurizer (--watch may swap in a
// bundle of another) and names it in its metadata. A store that fails is retried at the next flush
// and logged as a warning; it never fails a request, and past `maxBufferedRows` the oldest rows go.
//
// `fruits drift <bundle> <location>` reads it back as a batch (loadFeatureLog): rows of the
// reference's featurizer, unlabelled (the answers are the model's, not the truth).
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { FeaturizerRef } from '../classify/bundle.js';
import type { LabelledRows } from '../classify/dataset.js';
import { modelSpecSchema } from '../model/spec.js';
import { decodeFeatures, encodeFeatures } from '../sink/parquet.js';
import { openStore } from '../storage/open.js';
import type { Store } from '../storage/store.js';
import { errorMessage, UserError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';

export const FEATURE_LOG_FORMAT = 'fruits.feature-log';
/** The marker that says a location is a feature log (written with the first part). */
export const FEATURE_LOG_MARKER = '_feature-log.json';
const PARTS = 'parts/';

export interface LoggedAnswer {
  features: Float32Array;
  time: Date;
  label: string;
  score: number;
  novelty?: number;
  unknown?: boolean;
  bundle: string;
  featurizer: FeaturizerRef;
}

export interface FeatureLogOptions {
  flushRows: number;
  flushMs: number;
  /** Rows kept while the store fails; past it the oldest are dropped (and counted). */
  maxBufferedRows?: number;
  log: Pick<Logger, 'warn'>;
  /** Rows written and dropped, for the metrics. */
  onWritten?(rows: number): void;
  onDropped?(rows: number): void;
}

const metadataSchema = z.object({
  format: z.literal(FEATURE_LOG_FORMAT),
  featurizerId: z.string().min(1),
  featurizerSha256: z.string().regex(/^[0-9a-f]{64}$/),
  featurizerSpec: z.string().transform((s, ctx) => {
    const r = modelSpecSchema.safeParse(JSON.parse(s));
    if (!r.success) ctx.addIssue({ code: 'custom', message: 'invalid featurizer spec' });
    return r.data!;
  }),
});

export class FeatureLog {
  private rows: LoggedAnswer[] = [];
  private timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();
  private seq = 0;
  private marked = false;
  private readonly store: Store;

  constructor(
    location: string,
    private readonly opts: FeatureLogOptions,
  ) {
    this.store = openStore(location);
    this.timer = setInterval(() => void this.flush(), opts.flushMs);
    this.timer.unref();
  }

  get location(): string {
    return this.store.root;
  }

  add(row: LoggedAnswer): void {
    this.rows.push(row);
    if (this.rows.length >= this.opts.flushRows) void this.flush();
  }

  /** Writes what is buffered (one flush at a time; never rejects). */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.writeBuffered());
    return this.flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  private async writeBuffered(): Promise<void> {
    if (this.rows.length === 0) return;
    const rows = this.rows;
    this.rows = [];
    const groups = new Map<string, LoggedAnswer[]>();
    for (const r of rows) groups.set(r.featurizer.sha256, [...(groups.get(r.featurizer.sha256) ?? []), r]);
    const failed: LoggedAnswer[] = [];
    for (const group of groups.values()) {
      try {
        if (!this.marked) {
          await this.store.write(FEATURE_LOG_MARKER, `${JSON.stringify({ format: FEATURE_LOG_FORMAT, version: 1 })}\n`);
          this.marked = true;
        }
        await this.store.write(this.partKey(group[0].time), encodePart(group));
        this.opts.onWritten?.(group.length);
      } catch (err) {
        failed.push(...group);
        this.opts.log.warn(`feature log ${this.store.root}: ${group.length} rows not written (${errorMessage(err)}); retried at the next flush`);
      }
    }
    if (failed.length === 0) return;
    // Kept for the next flush, oldest first, up to the bound.
    const kept = [...failed, ...this.rows];
    const max = this.opts.maxBufferedRows ?? 10 * this.opts.flushRows;
    const drop = Math.max(0, kept.length - max);
    if (drop > 0) {
      this.opts.onDropped?.(drop);
      this.opts.log.warn(`feature log ${this.store.root}: ${drop} rows dropped (the store keeps failing)`);
    }
    this.rows = kept.slice(drop);
  }

  /** parts/<day>/<time>-<pid>-<seq>.parquet: sorted by time, unique per process. */
  private partKey(time: Date): string {
    const iso = time.toISOString();
    const stamp = iso.replace(/[-:.]/g, '');
    return `${PARTS}${iso.slice(0, 10)}/${stamp}-${process.pid}-${String(this.seq++).padStart(6, '0')}.parquet`;
  }
}

function encodePart(rows: LoggedAnswer[]): Uint8Array {
  const f = rows[0].featurizer;
  const dim = rows[0].features.length;
  const features = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => features.set(r.features, i * dim));
  return encodeFeatures(
    // No photo path and no true label: a request id, and the answer in its own columns.
    { path: rows.map(() => randomUUID()), label: rows.map(() => ''), dim, features },
    { format: FEATURE_LOG_FORMAT, featurizerId: f.id, featurizerSha256: f.sha256, featurizerSpec: JSON.stringify(f.spec) },
    {
      time: rows.map((r) => r.time.toISOString()),
      answer: rows.map((r) => r.label),
      score: Float32Array.from(rows, (r) => r.score),
      // NaN / -1: the bundle had no novelty data.
      novelty: Float32Array.from(rows, (r) => r.novelty ?? Number.NaN),
      unknown: Int32Array.from(rows, (r) => (r.unknown === undefined ? -1 : r.unknown ? 1 : 0)),
      bundle: rows.map((r) => r.bundle),
    },
  );
}

/** Whether `location` holds a feature log (serve --log-features). */
export async function isFeatureLog(location: string): Promise<boolean> {
  return openStore(location).exists(FEATURE_LOG_MARKER);
}

/** The log's rows of the given featurizer, as an unlabelled batch for `fruits drift`. */
export async function loadFeatureLog(location: string, featurizerSha256: string): Promise<LabelledRows> {
  const store = openStore(location);
  const keys: string[] = [];
  for await (const o of store.list(PARTS)) if (o.key.endsWith('.parquet')) keys.push(o.key);
  let space: LabelledRows['space'] | undefined;
  const others = new Set<string>();
  const chunks: Float32Array[] = [];
  const paths: string[] = [];
  for (const key of keys) {
    const part = decodeFeatures(await store.read(key), store.uriOf(key));
    const m = metadataSchema.safeParse(part.metadata);
    if (!m.success) throw new UserError(`${store.uriOf(key)}: not a part of a fruits feature log (${m.error.issues[0].path.join('.')}: ${m.error.issues[0].message})`);
    if (m.data.featurizerSha256 !== featurizerSha256) {
      others.add(m.data.featurizerId);
      continue;
    }
    space ??= { kind: 'features', featurizer: { id: m.data.featurizerId, sha256: m.data.featurizerSha256, spec: m.data.featurizerSpec }, dim: part.dim };
    if (part.path.length > 0 && part.dim !== space.dim) throw new UserError(`${store.uriOf(key)}: rows have ${part.dim} features, earlier parts ${space.dim}`);
    chunks.push(part.features);
    paths.push(...part.path);
  }
  if (!space) {
    const what = others.size ? `only rows of other featurizers (${[...others].join(', ')})` : 'no rows yet';
    throw new UserError(`feature log ${store.root}: ${what}; nothing to compare with a reference of featurizer sha256 ${featurizerSha256.slice(0, 12)}…`);
  }
  const rows = new Float32Array(paths.length * space.dim);
  let at = 0;
  for (const c of chunks) {
    rows.set(c, at);
    at += c.length;
  }
  return { location: store.root, space, n: paths.length, rows, paths, labels: paths.map(() => '') };
}
