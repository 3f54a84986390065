// Local filesystem store: keys are paths under a root folder; writes go to a hidden temporary
// file first and are renamed into place, so a reader never sees half a file.
import { promises as fs, readdirSync, readFileSync, statSync, type Dirent, type Stats } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { StorageError, type ObjectInfo, type Store } from './store.js';
import { compareBytewise } from '../util/byte-order.js';

const STAT_CHUNK = 64;
/** A stat that took longer than this may have waited for the disk (warm, a stat costs 6–10 µs). */
const SLOW_STAT_MS = 0.05;
/**
 * The disk is slow once the listing has blocked on it for at least SLOW_SHARE of its stats (and
 * MIN_WAITS times): a cold cache reads an inode block every few files and a network file system
 * waits on every file, while warm stats never block.
 */
const SLOW_SHARE = 1 / 16;
const MIN_WAITS = 8;

/**
 * Stats of the given files (undefined for a gap or a file that cannot be stat-ed). Synchronous
 * while the file system answers from its cache: one promise per file through libuv's pool cost
 * far more (20,000 photos: 4.5 s awaited one by one on a busy machine, and ~1 s more than
 * synchronous stats when chunked, with the workers starting beside). Once the listing has waited
 * on the disk (a cold cache, a network file system), concurrently, so that the waits overlap.
 *
 * Slow stats are only suspects: a stat also takes long when the process is preempted (the workers
 * load their modules beside it on 2 cores), and switching the listing of 20,000 linked photos to
 * the pool for that doubled its time (~0.5 → 1.1 s) in some runs. So a run of slow stats is
 * confirmed by the process's voluntary context switches (getrusage), which count the times it
 * blocked on I/O and not the times it was preempted. Measured on those photos: warm, 54 switches;
 * cold cache, 17,624; warm beside 3 busy processes, 242. getrusage is read only to confirm: it
 * cost ~0.3 ms a call here with the workers running.
 */
async function statAll(files: (string | undefined)[], disk: DiskState): Promise<(Stats | undefined)[]> {
  if (disk.slow) return Promise.all(files.map((f) => (f === undefined ? undefined : fs.stat(f).catch(() => undefined))));
  disk.switchesBefore ??= voluntarySwitches();
  const stats = files.map((f) => {
    if (f === undefined) return undefined;
    disk.stats++;
    const t0 = performance.now();
    const st = statOrNothing(f);
    if (performance.now() - t0 > SLOW_STAT_MS) disk.slowStats++;
    return st;
  });
  if (disk.slowStats >= MIN_WAITS && disk.slowStats >= SLOW_SHARE * disk.stats) {
    const waits = voluntarySwitches() - disk.switchesBefore;
    // Blocked about as often as stats were slow (a cold cache: 17,624 switches for 17,411 slow
    // stats), not merely a few times beside them (other threads, the event loop waiting).
    if (waits >= MIN_WAITS && waits >= SLOW_SHARE * disk.stats && 2 * waits >= disk.slowStats) disk.slow = true;
    else Object.assign(disk, { stats: 0, slowStats: 0, switchesBefore: undefined }); // preempted: watch afresh
  }
  // The event loop gets a turn every few chunks (the workers' messages, the progress display).
  if (++disk.chunks % 4 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
  return stats;
}

function voluntarySwitches(): number {
  return process.resourceUsage().voluntaryContextSwitches;
}

interface DiskState {
  slow: boolean;
  chunks: number;
  /** Since the last confirmation: files stat-ed, how many of them slowly, the switches before. */
  stats: number;
  slowStats: number;
  switchesBefore?: number;
}

/** A folder's entries: synchronously while the disk answers fast (a promise per folder idles ~1 ms). */
async function readFolder(dir: string, disk: DiskState): Promise<Dirent[]> {
  return disk.slow ? fs.readdir(dir, { withFileTypes: true }) : readdirSync(dir, { withFileTypes: true });
}

/** A folder entry's path: `dir` comes normalised from the walk and a name has no separator (path.join normalises again, per file). */
function inFolder(dir: string, name: string): string {
  return dir.endsWith(path.sep) ? dir + name : dir + path.sep + name;
}

function statOrNothing(file: string): Stats | undefined {
  try {
    return statSync(file);
  } catch {
    return undefined;
  }
}

function wrap(err: unknown, what: string): StorageError {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') return new StorageError('not_found', `${what}: no such file or folder`, { cause: err });
  if (code === 'EACCES' || code === 'EPERM') return new StorageError('access_denied', `${what}: permission denied`, { cause: err });
  return new StorageError('io', `${what}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

export class LocalStore implements Store {
  readonly remote = false;
  /** Set once listing shows the disk is slow: stats go concurrent from then on. */
  private readonly disk: DiskState = { slow: false, chunks: 0, stats: 0, slowStats: 0 };
  constructor(readonly root: string) {}

  private abs(key: string): string {
    return key === '' ? this.root : path.join(this.root, ...key.split('/'));
  }

  uriOf(key: string): string {
    return this.abs(key);
  }

  sub(sub: string): Store {
    return new LocalStore(this.abs(sub.replace(/^\/+|\/+$/g, '')));
  }

  async *list(prefix = ''): AsyncIterable<ObjectInfo> {
    const start = this.abs(prefix.replace(/\/+$/, ''));
    let st;
    try {
      st = await fs.stat(start);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw wrap(err, start);
    }
    if (st.isFile()) {
      yield { key: prefix, size: st.size, version: String(st.mtimeMs) };
      return;
    }
    yield* this.walk(start, prefix.replace(/\/+$/, ''));
  }

  // Depth-first walk whose entries sort as full keys would (a folder name sorts as `name/`),
  // so the order equals S3's byte-wise key order without holding the whole listing.
  private async *walk(dir: string, keyPrefix: string): AsyncIterable<ObjectInfo> {
    let entries;
    try {
      entries = await readFolder(dir, this.disk);
    } catch (err) {
      throw wrap(err, dir);
    }
    const listed = entries.filter((e) => e.isDirectory() || e.isFile() || e.isSymbolicLink());
    // A symlink to a folder is walked as a folder below, so it must also sort as one (`name/`):
    // links are followed here already (their stats are kept for the listing).
    const linked = new Map<string, Stats | undefined>();
    const links = listed.filter((e) => e.isSymbolicLink()).map((e) => e.name);
    for (let i = 0; i < links.length; i += STAT_CHUNK) {
      const names = links.slice(i, i + STAT_CHUNK);
      (await statAll(names.map((n) => inFolder(dir, n)), this.disk)).forEach((st, j) => linked.set(names[j], st));
    }
    const items = listed
      .map((e) => ({ e, sortKey: e.isDirectory() || linked.get(e.name)?.isDirectory() ? `${e.name}/` : e.name }))
      .sort((a, b) => compareBytewise(a.sortKey, b.sortKey));
    let stats: (Stats | undefined)[] = [];
    for (let i = 0; i < items.length; i++) {
      const { e } = items[i];
      // Files are stat-ed a chunk at a time (see statAll).
      if (i % STAT_CHUNK === 0) {
        stats = await statAll(items.slice(i, i + STAT_CHUNK).map(({ e: f }) => (f.isFile() ? inFolder(dir, f.name) : undefined)), this.disk);
      }
      const key = keyPrefix ? `${keyPrefix}/${e.name}` : e.name;
      const full = inFolder(dir, e.name);
      if (e.isDirectory()) {
        yield* this.walk(full, key);
        continue;
      }
      const st = e.isSymbolicLink() ? linked.get(e.name) : stats[i % STAT_CHUNK];
      if (st?.isDirectory()) {
        yield* this.walk(full, key);
        continue;
      }
      // A dangling link or an unreadable file is listed (size −1), and reading it reports why.
      yield st ? { key, size: st.size, version: String(st.mtimeMs) } : { key, size: -1, version: undefined };
    }
  }

  async read(key: string): Promise<Buffer> {
    try {
      return await fs.readFile(this.abs(key));
    } catch (err) {
      throw wrap(err, this.abs(key));
    }
  }

  readSync(key: string): Buffer {
    try {
      return readFileSync(this.abs(key));
    } catch (err) {
      throw wrap(err, this.abs(key));
    }
  }

  async write(key: string, data: Uint8Array | string): Promise<void> {
    const target = this.abs(key);
    const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      await fs.mkdir(path.dirname(target), { recursive: true });
      await fs.writeFile(tmp, data);
      await fs.rename(tmp, target);
    } catch (err) {
      await fs.rm(tmp, { force: true }).catch(() => undefined);
      throw wrap(err, target);
    }
  }

  async writeIfAbsent(key: string, data: string): Promise<boolean> {
    const target = this.abs(key);
    try {
      await fs.mkdir(path.dirname(target), { recursive: true });
      // 'wx' is O_CREAT | O_EXCL: of two processes, exactly one creates the file.
      await fs.writeFile(target, data, { flag: 'wx' });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw wrap(err, target);
    }
  }

  async move(from: string, to: string): Promise<void> {
    const target = this.abs(to);
    try {
      await fs.mkdir(path.dirname(target), { recursive: true });
      await fs.rename(this.abs(from), target);
    } catch (err) {
      throw wrap(err, this.abs(from));
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      await fs.access(this.abs(key));
      return true;
    } catch {
      return false;
    }
  }

  async deletePrefix(prefix: string): Promise<void> {
    const target = this.abs(prefix.replace(/\/+$/, ''));
    try {
      if (target === this.root && prefix === '') {
        // Keep the root folder itself; remove what is inside.
        for (const name of await fs.readdir(target)) await fs.rm(path.join(target, name), { recursive: true, force: true });
      } else {
        await fs.rm(target, { recursive: true, force: true });
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw wrap(err, target);
    }
  }
}
