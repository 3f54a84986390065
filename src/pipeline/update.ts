// Updating a features dataset in place: the listing is merged with the dataset's index in one
// streaming pass; only new photos and photos whose bytes changed are featurized, into new parts;
// parts that lose rows are rewritten from their stored features, and undersized parts packed
// together, without inference. The result is committed as a new version:
//
//   1. new parts, their summaries and the pass's entries are written under _staging/vNNNNN/;
//   2. the new index chunks are written (content-named: the old version's stay valid);
//   3. _SUCCESS is removed and the manifest of the new version, with the list of parts to move
//      into place and to remove, is written: the atomic point — before it the previous version is
//      whole, after it any rerun finishes the update;
//   4. the roll-forward moves the staged parts into place, removes the replaced ones, writes
//      _SUCCESS and removes what no version uses. It is idempotent.
//
// After a commit the folder holds exactly the current parts, so Spark, pandas and DuckDB reading
// it see exactly the current rows.
import { listImages, type ImageRef } from '../source/listing.js';
import { fingerprintOf, TailBalancedRuns, versionedPartFileName, writePlan, type Partition } from '../source/partition.js';
import {
  MANIFEST,
  PLAN_DIR,
  REJECTS,
  STAGING_DIR,
  compactSummarySchema,
  partSummarySchema,
  readJsonOrNothing,
  sidecarKey,
  writeJson,
  type DatasetVersion,
  type IndexChunk,
  type IndexEntry,
} from '../sink/formats.js';
import { toCsv } from '../sink/csv.js';
import { IndexWriter, readIndex, removeUnusedChunks } from '../sink/dataset-index.js';
import { compareBytewise } from '../util/byte-order.js';
import type { FeaturesManifest } from '../sink/manifest.js';
import type { DatasetLock } from '../sink/lock.js';
import type { CompactResult, CompactTask } from '../tasks/compact-parts.js';
import { compactPlanFingerprint } from '../tasks/compact-plan.js';
import type { PartStatsTarget } from '../stats/part-stats.js';
import type { FeaturizeResult, FeaturizeTask, Reject } from '../tasks/featurize-partition.js';
import type { ModelRef } from '../tasks/context.js';
import type { Task } from '../tasks/index.js';
import type { Runner } from '../runner/runner.js';
import type { Store } from '../storage/store.js';
import type { Progress } from '../util/progress.js';
import type { Logger } from '../util/logger.js';
import { sha256Hex } from '../util/hash.js';
import { UserError } from '../util/errors.js';
import { mapOrderedAsync } from '../util/ordered.js';
import { beginWrite, commitWrite } from '../sink/commit.js';

/** Undersized: fewer rows than this share of --partition-size. */
const UNDERSIZED = 0.5;
/** Compaction starts by itself once this many parts are undersized. */
export const COMPACT_AT = 4;
/**
 * An update with fewer new photos than one partition spreads them over up to this many parts of at
 * least SMALL_PART photos: one part is one task, and a single task would leave the other worker of
 * the default two idle (200 new photos: 2 s on one worker, 1 s on both). Two, not more: each part
 * also costs its statistics file (6.5 MB whatever its rows), a transform task and a share of the
 * next compaction (a +1 % update of 20,000 photos: four parts of 50, 4.3–4.9 s; two of 100,
 * 4.0–4.5 s, four alternated runs each). The rule depends on the photos alone, so every runner
 * plans the same parts.
 */
const SMALL_UPDATE_PARTS = 2;
const SMALL_PART = 32;
const smallUpdatePieces = (n: number) => Math.max(1, Math.min(SMALL_UPDATE_PARTS, Math.floor(n / SMALL_PART)));
/** Entries per file of the pass's staged entries. */
const STAGED_LINES = 8192;

export interface VersionChange {
  version: number;
  kind: DatasetVersion['kind'];
  added: number;
  changed: number;
  removed: number;
  /** Listed again with another mtime/ETag but the same bytes: only the index notes it. */
  touched: number;
  featurized: number;
  partsAdded: string[];
  partsRemoved: string[];
  /** True when nothing changed and nothing was written. */
  unchanged: boolean;
}

export interface UpdateOptions {
  input: Store;
  output: Store;
  previous: FeaturesManifest;
  partitionSize: number;
  limit?: number;
  batchSize: number;
  maxPixels: number;
  allowRemovals: boolean;
  metadata: Record<string, string>;
  model: ModelRef;
  runner: Runner;
  progress: Progress;
  log: Logger;
  lock: DatasetLock;
  /** Where a run keeps the statistics of parts: new and compacted parts' tasks write them there. */
  partStats?: PartStatsTarget;
}

export interface UpdateOutcome {
  manifest: FeaturesManifest;
  change: VersionChange;
  listed: number;
  rejectList: Reject[];
  taskSeconds: { read: number; decode: number; infer: number; write: number };
}

const pad = (n: number) => String(n).padStart(5, '0');

/**
 * FRUITS_CRASH_AT=<point> kills the process at that point of a commit, as a power cut would: the
 * tests of the commit protocol use it ('staged', 'committed', 'moving').
 */
function crashPoint(point: string): void {
  if (process.env.FRUITS_CRASH_AT === point) process.kill(process.pid, 'SIGKILL');
}
export const stagingDirOf = (version: number) => `${STAGING_DIR}/v${pad(version)}`;

/** Staged entries of the pass: written in order in numbered files, read back in order. */
class StagedLog {
  private lines: string[] = [];
  private files = 0;
  constructor(
    private readonly store: Store,
    private readonly dir: string,
  ) {}
  async add(e: IndexEntry): Promise<void> {
    this.lines.push(JSON.stringify(e));
    if (this.lines.length >= STAGED_LINES) await this.flush();
  }
  private async flush(): Promise<void> {
    if (this.lines.length === 0) return;
    await this.store.write(`${this.dir}/${pad(this.files++)}.jsonl`, `${this.lines.join('\n')}\n`);
    this.lines = [];
  }
  async close(): Promise<void> {
    await this.flush();
  }
  /** Read back by the run that wrote them (a rerun plans again), so they are not re-validated. */
  async *read(): AsyncIterable<IndexEntry> {
    for (let i = 0; i < this.files; i++) {
      for (const line of (await this.store.read(`${this.dir}/${pad(i)}.jsonl`)).toString('utf8').split('\n')) if (line) yield JSON.parse(line) as IndexEntry;
    }
  }
}

type Side = { ref?: ImageRef; entry?: IndexEntry };

/** The listing and the index side by side, in key order. */
async function* mergeSorted(listing: AsyncIterable<ImageRef>, index: AsyncIterable<IndexEntry>): AsyncIterable<Side> {
  const a = listing[Symbol.asyncIterator]();
  const b = index[Symbol.asyncIterator]();
  let x = await a.next();
  let y = await b.next();
  while (!x.done || !y.done) {
    const c = x.done ? 1 : y.done ? -1 : compareBytewise(x.value.key, y.value.k);
    if (c < 0) {
      yield { ref: (x as IteratorYieldResult<ImageRef>).value };
      x = await a.next();
    } else if (c > 0) {
      yield { entry: (y as IteratorYieldResult<IndexEntry>).value };
      y = await b.next();
    } else {
      yield { ref: (x as IteratorYieldResult<ImageRef>).value, entry: (y as IteratorYieldResult<IndexEntry>).value };
      x = await a.next();
      y = await b.next();
    }
  }
}

type Decision = Side & { verdict: 'new' | 'changed' | 'removed' | 'same' | 'touched'; sha256?: string };

/** Whether a listed photo is the one the index holds: size and mtime/ETag, else its sha256 decides. */
async function decide(input: Store, side: Side): Promise<Decision> {
  const { ref, entry } = side;
  if (!entry) return { ...side, verdict: 'new' };
  if (!ref) return { ...side, verdict: 'removed' };
  if (entry.s === ref.size && entry.v !== undefined && entry.v === ref.version) return { ...side, verdict: 'same' };
  let sha256: string | undefined;
  try {
    sha256 = sha256Hex(await input.read(ref.key));
  } catch {
    sha256 = undefined; // unreadable now: featurized again, it becomes a reject with the reason
  }
  return { ...side, sha256, verdict: sha256 !== undefined && sha256 === entry.h ? 'touched' : 'changed' };
}

interface PartInfo {
  file: string;
  rows: number;
  rejects: number;
  fingerprint: string;
  bytes: number;
}

/** Groups parts into compaction tasks: parts in dataset order, each group at most `size` rows. */
export function planCompaction(parts: readonly PartInfo[], drops: ReadonlyMap<string, string[]>, size: number, force: boolean): PartInfo[][] {
  const remaining = (p: PartInfo) => p.rows - (drops.get(p.file)?.length ?? 0);
  const undersized = parts.filter((p) => remaining(p) < size * UNDERSIZED);
  const compact = force || undersized.length >= COMPACT_AT;
  const candidates = parts.filter((p) => drops.has(p.file) || (compact && remaining(p) < (force ? size : size * UNDERSIZED)));
  const groups: PartInfo[][] = [];
  let group: PartInfo[] = [];
  let rows = 0;
  for (const p of candidates) {
    if (group.length > 0 && rows + remaining(p) > size) {
      groups.push(group);
      group = [];
      rows = 0;
    }
    group.push(p);
    rows += remaining(p);
  }
  if (group.length > 0) groups.push(group);
  // A part packed alone with nothing dropped would be rewritten as it is.
  return groups.filter((g) => g.length > 1 || drops.has(g[0].file));
}

function partsOf(m: FeaturesManifest): PartInfo[] {
  return (m.partitions ?? []).map((p) => ({ file: p.file, rows: p.rows, rejects: p.rejects, fingerprint: p.fingerprint, bytes: p.bytes }));
}

export function indexCount(m: FeaturesManifest): number {
  return (m.index ?? []).reduce((s, c) => s + c.count, 0);
}

/** Finishes a committed update (moves staged parts in, removes replaced ones); idempotent. */
export async function rollForward(output: Store, m: FeaturesManifest, log?: Logger): Promise<FeaturesManifest> {
  const p = m.pending;
  if (!p) return m;
  log?.info(`finishing the commit of version ${m.version} (${p.moves.length} parts to move in, ${p.removals.length} to remove)`);
  for (const f of p.moves) {
    for (const key of [f, sidecarKey(f)]) if (await output.exists(`${p.staging}/${key}`)) await output.move(`${p.staging}/${key}`, key);
    crashPoint('moving');
  }
  if (await output.exists(`${p.staging}/${REJECTS}`)) await output.move(`${p.staging}/${REJECTS}`, REJECTS);
  for (const f of p.removals) {
    await output.deletePrefix(f);
    await output.deletePrefix(sidecarKey(f));
  }
  await output.deletePrefix(STAGING_DIR);
  const { pending: _p, ...rest } = m;
  const done: FeaturesManifest = { ...rest, status: 'complete' };
  await commitWrite(output, done);
  await removeUnusedChunks(output, done.index ?? []);
  return done;
}

/** The part of a pass-1 entry after compaction; entries of new photos are filled from the tasks' summaries. */
interface Finish {
  moved: Map<string, string>;
  /** New partitions in order, with their sizes. */
  newParts: { file: string; count: number }[];
}

async function* fillEntries(staged: AsyncIterable<IndexEntry>, staging: Store, finish: Finish): AsyncIterable<IndexEntry> {
  let part = -1;
  let entries: IndexEntry[] = [];
  let at = 0;
  for await (const e of staged) {
    if (e.p === undefined && e.r === undefined) {
      if (at >= entries.length) {
        part++;
        const file = finish.newParts[part]?.file;
        const summary = file ? await readJsonOrNothing(staging, sidecarKey(file), partSummarySchema) : undefined;
        if (!summary?.entries) throw new Error(`${staging.uriOf(sidecarKey(file ?? '?'))}: no summary of a new part`);
        entries = summary.entries;
        at = 0;
      }
      const got = entries[at++];
      if (got.k !== e.k) throw new Error(`new part ${finish.newParts[part].file}: entry ${got.k} where ${e.k} was planned`);
      yield got.r === undefined ? { ...got, p: finish.newParts[part].file } : got;
    } else if (e.p !== undefined && finish.moved.has(e.p)) {
      yield { ...e, p: finish.moved.get(e.p) };
    } else {
      yield e;
    }
  }
}

interface Plan {
  staging: Store;
  stagingDir: string;
  version: number;
  staged: StagedLog;
  featurize: { task: FeaturizeTask; partition: Partition }[];
  drops: Map<string, string[]>;
  counts: { added: number; changed: number; removed: number; touched: number; listed: number };
}

/** Pass 1: the listing against the index. Writes the plans of new partitions and the staged entries. */
async function planUpdate(o: UpdateOptions): Promise<Plan> {
  const version = (o.previous.version ?? 1) + 1;
  const stagingDir = stagingDirOf(version);
  const staging = o.output.sub(stagingDir);
  const staged = new StagedLog(staging, 'entries');
  const drops = new Map<string, string[]>();
  const featurize: Plan['featurize'] = [];
  const counts = { added: 0, changed: 0, removed: 0, touched: 0, listed: 0 };
  const runs = new TailBalancedRuns<ImageRef>(o.partitionSize);
  const close = async (images: ImageRef[], pieces = 1) => {
    const size = Math.ceil(images.length / pieces);
    for (let i = 0; i < images.length; i += size) {
      const file = versionedPartFileName(version, featurize.length);
      const part = images.slice(i, i + size);
      const partition: Partition = { index: featurize.length, images: part, fingerprint: fingerprintOf(part), file };
      const plan = await writePlan(staging, partition, `${PLAN_DIR}/${file.replace(/\.parquet$/, '.json')}`);
      featurize.push({
        partition,
        task: {
          kind: 'featurize',
          input: o.input.root,
          output: staging.root,
          partition: partition.index,
          plan,
          file,
          model: o.model,
          batchSize: o.batchSize,
          maxPixels: o.maxPixels,
          metadata: o.metadata,
          stats: o.partStats,
        },
      });
    }
  };
  const drop = (e: IndexEntry) => {
    if (e.p === undefined) return;
    let list = drops.get(e.p);
    if (!list) drops.set(e.p, (list = []));
    list.push(e.k);
  };
  const sides = mergeSorted(listImages(o.input, { limit: o.limit }), readIndex(o.output, o.previous.index ?? []));
  // Hash checks (only where size or version disagree) run a few at a time, in order.
  for await (const d of mapOrderedAsync(sides, 8, (side) => decide(o.input, side))) {
    if (d.ref) counts.listed++;
    switch (d.verdict) {
      case 'same':
        await staged.add(d.entry!);
        break;
      case 'touched':
        counts.touched++;
        await staged.add({ ...d.entry!, s: d.ref!.size, v: d.ref!.version });
        break;
      case 'removed':
        counts.removed++;
        drop(d.entry!);
        break;
      case 'new':
      case 'changed': {
        if (d.verdict === 'new') counts.added++;
        else {
          counts.changed++;
          drop(d.entry!);
        }
        const ref = d.ref!;
        await staged.add({ k: ref.key, l: ref.label, s: ref.size, v: ref.version });
        const run = runs.push(ref);
        if (run) await close(run);
        break;
      }
    }
  }
  const last = runs.finish();
  // Fewer new photos than one part (a single short run): spread over SMALL_UPDATE_PARTS parts.
  if (last.length === 1 && last[0].length < o.partitionSize) await close(last[0], smallUpdatePieces(last[0].length));
  else for (const run of last) await close(run);
  await staged.close();
  return { staging, stagingDir, version, staged, featurize, drops, counts };
}

/** Runs the featurize and compaction tasks of an update, keeping what an interrupted run staged. */
async function runTasks(
  o: { output: Store; runner: Runner; progress: Progress; log: Logger },
  staging: Store,
  featurize: Plan['featurize'],
  compact: CompactTask[],
): Promise<{ featurized: Map<string, FeaturizeResult>; compacted: Map<string, CompactResult>; resumed: number }> {
  const featurized = new Map<string, FeaturizeResult>();
  const compacted = new Map<string, CompactResult>();
  const tasks: Task[] = [];
  let resumed = 0;
  for (const f of featurize) {
    const done = await readJsonOrNothing(staging, sidecarKey(f.task.file!), partSummarySchema);
    if (done && done.fingerprint === f.partition.fingerprint && (await staging.exists(f.task.file!))) {
      const { entries: _e, ...result } = done;
      featurized.set(f.task.file!, result);
      resumed++;
    } else tasks.push(f.task);
  }
  for (const c of compact) {
    const done = await readJsonOrNothing(staging, sidecarKey(c.file), compactSummarySchema);
    if (done?.planFingerprint === c.planFingerprint && (await staging.exists(c.file))) {
      compacted.set(c.file, done);
      resumed++;
    } else tasks.push(c);
  }
  if (resumed > 0) o.log.info(`resumed: ${resumed} new parts were already staged by an interrupted run`);
  const images = featurize.reduce((s, f) => s + f.partition.images.length, 0);
  o.progress.stage('featurize', images, 'images');
  await o.runner.run(tasks, {
    onProgress: (n) => o.progress.tick(n),
    onResult: (r) => {
      if (r.kind === 'featurize') featurized.set(r.file, r);
      else if (r.kind === 'compact') compacted.set(r.file, r);
    },
  });
  o.progress.stop();
  return { featurized, compacted, resumed };
}

export interface CommitInput {
  output: Store;
  previous: FeaturesManifest;
  version: number;
  kind: DatasetVersion['kind'];
  stagingDir: string;
  entries: AsyncIterable<IndexEntry>;
  /** Parts kept as they are, then new ones, in order. */
  parts: PartInfo[];
  partsAdded: string[];
  partsRemoved: string[];
  images: { added: number; changed: number; removed: number };
  lock: DatasetLock;
  log?: Logger;
}

/** Pass 2, the new index and the commit (steps 2–4 above). */
export async function commitVersion(c: CommitInput): Promise<{ manifest: FeaturesManifest; rejects: Reject[] }> {
  const writer = new IndexWriter(c.output);
  const rowsPerLabel: Record<string, number> = {};
  const rejects: Reject[] = [];
  let rows = 0;
  for await (const e of c.entries) {
    await writer.add(e);
    if (e.r !== undefined) rejects.push({ path: e.k, label: e.l, reason: e.r });
    else {
      rows++;
      rowsPerLabel[e.l] = (rowsPerLabel[e.l] ?? 0) + 1;
    }
  }
  const index: IndexChunk[] = await writer.close();
  await c.output.write(`${c.stagingDir}/${REJECTS}`, toCsv(['path', 'label', 'reason'], rejects.map((r) => [r.path, r.label, r.reason])));
  const partRows = c.parts.reduce((s, p) => s + p.rows, 0);
  if (partRows !== rows) throw new Error(`update of ${c.output.root}: the parts hold ${partRows} rows, the index ${rows}; nothing was committed`);
  const now = new Date().toISOString();
  const record: DatasetVersion = {
    version: c.version,
    time: now,
    images: c.images,
    parts: { added: c.partsAdded, removed: c.partsRemoved },
    rows,
    featurizer: { id: c.previous.config.model.id, sha256: c.previous.config.model.sha256 },
    kind: c.kind,
  };
  const sortedLabels = Object.fromEntries(Object.entries(rowsPerLabel).sort(([a], [b]) => compareBytewise(a, b)));
  const manifest: FeaturesManifest = {
    ...c.previous,
    status: 'committing',
    updatedAt: now,
    counts: { listed: rows + rejects.length, rows, rejects: rejects.length, labels: Object.keys(sortedLabels).length, partitions: c.parts.length },
    rowsPerLabel: sortedLabels,
    partitions: c.parts.map((p, i) => ({ index: i, ...p })),
    version: c.version,
    versions: [...(c.previous.versions ?? []), record],
    index,
    pending: { staging: c.stagingDir, moves: c.partsAdded, removals: c.partsRemoved },
  };
  await c.lock.assertHeld();
  crashPoint('staged');
  await beginWrite(c.output, manifest); // ← the commit of the new version (its parts are staged)
  crashPoint('committed');
  return { manifest: await rollForward(c.output, manifest, c.log), rejects };
}

/** Compaction tasks for groups of parts, numbered after the new partitions. */
function compactionTasks(o: { output: Store; metadata: Record<string, string>; partStats?: PartStatsTarget }, staging: Store, version: number, groups: PartInfo[][], drops: Map<string, string[]>, first: number): CompactTask[] {
  return groups.map((g, i) => {
    const inputs = g.map((p) => ({ part: p.file, drop: drops.get(p.file) ?? [] }));
    return {
      kind: 'compact',
      features: o.output.root,
      output: staging.root,
      file: versionedPartFileName(version, first + i),
      inputs,
      metadata: o.metadata,
      planFingerprint: compactPlanFingerprint(inputs),
      stats: o.partStats,
    };
  });
}

/** The part list after an update: kept parts in order, then new parts, then compacted ones. */
function nextParts(previous: PartInfo[], replaced: Set<string>, featurized: Map<string, FeaturizeResult>, compacted: Map<string, CompactResult>): PartInfo[] {
  const out = previous.filter((p) => !replaced.has(p.file));
  for (const r of featurized.values()) out.push({ file: r.file, rows: r.rows, rejects: r.rejects.length, fingerprint: r.fingerprint, bytes: r.bytes });
  for (const r of compacted.values()) if (r.rows > 0) out.push({ file: r.file, rows: r.rows, rejects: 0, fingerprint: r.fingerprint, bytes: r.bytes });
  return out.sort((a, b) => compareBytewise(a.file, b.file));
}

export async function updateDataset(o: UpdateOptions): Promise<UpdateOutcome> {
  const plan = await planUpdate(o);
  const { counts, version } = plan;
  const before = indexCount(o.previous);
  if (counts.listed === 0 && before > 0 && !o.allowRemovals) {
    throw new UserError(`input ${o.input.root} lists no images; the dataset holds ${before}: nothing changed (pass --allow-removals to empty it)`);
  }
  if (counts.removed > before / 2 && !o.allowRemovals) {
    throw new UserError(
      `input ${o.input.root} would remove ${counts.removed} of the dataset's ${before} images (more than half): nothing changed; check the input location, or pass --allow-removals`,
    );
  }
  const parts = partsOf(o.previous);
  const groups = planCompaction(parts, plan.drops, o.partitionSize, false);
  const change: VersionChange = {
    version: o.previous.version ?? 1,
    kind: 'update',
    ...counts,
    featurized: plan.featurize.reduce((s, f) => s + f.partition.images.length, 0),
    partsAdded: [],
    partsRemoved: [],
    unchanged: true,
  };
  const noTasks = { read: 0, decode: 0, infer: 0, write: 0 };
  if (counts.added + counts.changed + counts.removed === 0 && groups.length === 0) {
    let manifest = o.previous;
    if (counts.touched > 0) {
      // Only mtimes/ETags moved: the index notes them (no new version, no part touched).
      const writer = new IndexWriter(o.output);
      for await (const e of plan.staged.read()) await writer.add(e);
      manifest = { ...o.previous, index: await writer.close(), updatedAt: new Date().toISOString() };
      await o.lock.assertHeld();
      await writeJson(o.output, MANIFEST, manifest);
      await removeUnusedChunks(o.output, manifest.index ?? []);
    }
    await o.output.deletePrefix(plan.stagingDir);
    return { manifest, change, listed: counts.listed, rejectList: [], taskSeconds: noTasks };
  }

  o.log.info(
    `updating ${o.output.root} to version ${version}: ${counts.added} new, ${counts.changed} changed, ${counts.removed} removed images; ${plan.featurize.length} new parts, ${groups.length} rewritten`,
  );
  const compact = compactionTasks(o, plan.staging, version, groups, plan.drops, plan.featurize.length);
  const { featurized, compacted } = await runTasks(o, plan.staging, plan.featurize, compact);
  const replaced = new Set(groups.flat().map((p) => p.file));
  const moved = new Map<string, string>();
  groups.forEach((g, i) => g.forEach((p) => moved.set(p.file, compact[i].file)));
  const newParts = nextParts(parts, replaced, featurized, compacted);
  const partsAdded = newParts.filter((p) => !parts.some((q) => q.file === p.file)).map((p) => p.file);
  const partsRemoved = [...replaced];
  // Compacted parts that ended up empty are not moved in; their entries are all gone.
  const { manifest, rejects } = await commitVersion({
    output: o.output,
    previous: o.previous,
    version,
    kind: 'update',
    stagingDir: plan.stagingDir,
    entries: fillEntries(plan.staged.read(), plan.staging, { moved, newParts: plan.featurize.map((f) => ({ file: f.task.file!, count: f.partition.images.length })) }),
    parts: newParts,
    partsAdded,
    partsRemoved,
    images: { added: counts.added, changed: counts.changed, removed: counts.removed },
    lock: o.lock,
    log: o.log,
  });
  const sum = (k: 'read' | 'decode' | 'infer' | 'write') => [...featurized.values()].reduce((s, r) => s + r.seconds[k], 0);
  return {
    manifest,
    change: { ...change, version, partsAdded, partsRemoved, unchanged: false },
    listed: counts.listed,
    rejectList: rejects.slice(0, 1000),
    taskSeconds: { read: sum('read'), decode: sum('decode'), infer: sum('infer'), write: sum('write') },
  };
}

/** `fruits compact`: packs the undersized parts of a dataset together, as a new version. */
export async function compactDataset(o: {
  output: Store;
  previous: FeaturesManifest;
  metadata: Record<string, string>;
  runner: Runner;
  progress: Progress;
  log: Logger;
  lock: DatasetLock;
}): Promise<VersionChange> {
  const version = (o.previous.version ?? 1) + 1;
  const stagingDir = stagingDirOf(version);
  const staging = o.output.sub(stagingDir);
  const parts = partsOf(o.previous);
  const groups = planCompaction(parts, new Map(), o.previous.config.partitionSize, true);
  const base: VersionChange = { version: o.previous.version ?? 1, kind: 'compact', added: 0, changed: 0, removed: 0, touched: 0, featurized: 0, partsAdded: [], partsRemoved: [], unchanged: true };
  if (groups.length === 0) return base;
  const compact = compactionTasks(o, staging, version, groups, new Map(), 0);
  const { compacted } = await runTasks(o, staging, [], compact);
  const replaced = new Set(groups.flat().map((p) => p.file));
  const moved = new Map<string, string>();
  groups.forEach((g, i) => g.forEach((p) => moved.set(p.file, compact[i].file)));
  const newParts = nextParts(parts, replaced, new Map(), compacted);
  const partsAdded = [...compacted.values()].filter((r) => r.rows > 0).map((r) => r.file);
  await commitVersion({
    output: o.output,
    previous: o.previous,
    version,
    kind: 'compact',
    stagingDir,
    entries: fillEntries(readIndex(o.output, o.previous.index ?? []), staging, { moved, newParts: [] }),
    parts: newParts,
    partsAdded,
    partsRemoved: [...replaced],
    images: { added: 0, changed: 0, removed: 0 },
    lock: o.lock,
    log: o.log,
  });
  return { ...base, version, partsAdded, partsRemoved: [...replaced], unchanged: false };
}
