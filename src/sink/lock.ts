// The lock of a dataset: one run at a time changes it. Taken with an exclusive create (O_EXCL
// locally, a conditional PUT `If-None-Match: *` on S3), kept alive by a heartbeat, released at the
// end. A lock whose holder is gone — its heartbeat older than the time-to-live, or a process of
// this host that no longer exists — is taken over; of two runs taking over the same stale lock,
// one wins (the takeover itself goes through an exclusive create).
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Store } from '../storage/store.js';
import { UserError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { LOCK, lockSchema, readJsonOrNothing, type LockInfo } from './formats.js';

/** How long a lock lives without a heartbeat (FRUITS_LOCK_TTL_SECONDS, default 5 minutes). */
export function lockTtlMs(env: NodeJS.ProcessEnv = process.env): number {
  const s = Number(env.FRUITS_LOCK_TTL_SECONDS);
  return Number.isFinite(s) && s > 0 ? s * 1000 : 300_000;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Why a lock's holder is gone, or undefined when it may still be working. */
export function staleReason(lock: LockInfo, now = Date.now(), ttlMs = lockTtlMs()): string | undefined {
  if (lock.host === os.hostname() && lock.pid !== process.pid && !processAlive(lock.pid)) return `process ${lock.pid} on this host has exited`;
  const age = now - Date.parse(lock.heartbeatAt);
  if (!(age <= ttlMs)) return `no heartbeat for ${Math.round(age / 1000)} s`;
  return undefined;
}

export class DatasetLock {
  private timer?: NodeJS.Timeout;
  private lost?: string;

  constructor(
    private readonly store: Store,
    readonly info: LockInfo,
  ) {}

  /** Rewrites the heartbeat; notices a lock taken over by another run (after a long pause of ours). */
  private async beat(): Promise<void> {
    const now = await readJsonOrNothing(this.store, LOCK, lockSchema);
    if (now?.owner !== this.info.owner) {
      this.lost ??= `the lock ${this.store.uriOf(LOCK)} was taken over by ${now ? `${now.command} (pid ${now.pid} on ${now.host})` : 'nobody (it was removed)'}`;
      return;
    }
    this.info.heartbeatAt = new Date().toISOString();
    await this.store.write(LOCK, JSON.stringify(this.info));
  }

  startHeartbeat(ttlMs = lockTtlMs()): void {
    this.timer = setInterval(() => void this.beat().catch(() => undefined), Math.max(1000, ttlMs / 4));
    this.timer.unref();
  }

  /** Writes the lock again after the folder was emptied (--overwrite). */
  async rewrite(): Promise<void> {
    await this.store.write(LOCK, JSON.stringify(this.info));
  }

  /** Called right before a commit: a run that lost its lock must not commit over another's work. */
  async assertHeld(): Promise<void> {
    await this.beat();
    if (this.lost) throw new UserError(`${this.lost}; nothing was committed`);
  }

  async release(): Promise<void> {
    clearInterval(this.timer);
    const now = await readJsonOrNothing(this.store, LOCK, lockSchema);
    if (now?.owner === this.info.owner) await this.store.deletePrefix(LOCK);
  }
}

/** Takes the lock of the dataset at `store`, or fails with one line naming its holder. */
export async function acquireLock(store: Store, command: string, log?: Logger, ttlMs = lockTtlMs()): Promise<DatasetLock> {
  const make = (): LockInfo => {
    const now = new Date().toISOString();
    return { owner: randomBytes(8).toString('hex'), host: os.hostname(), pid: process.pid, command, createdAt: now, heartbeatAt: now };
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    const info = make();
    if (await store.writeIfAbsent(LOCK, JSON.stringify(info))) {
      const lock = new DatasetLock(store, info);
      lock.startHeartbeat(ttlMs);
      return lock;
    }
    const held = await readJsonOrNothing(store, LOCK, lockSchema);
    if (!held) {
      // Being written this instant, or damaged: a damaged lock is as good as none once it is old.
      const age = await lockAge(store);
      if (age !== undefined && age > ttlMs) await store.deletePrefix(LOCK);
      else await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    const stale = staleReason(held, Date.now(), ttlMs);
    if (!stale) {
      throw new UserError(
        `${store.root} is being updated by another run (${held.command}, pid ${held.pid} on ${held.host}, since ${held.createdAt}); wait for it to finish, or remove ${store.uriOf(LOCK)} if you are sure no run is alive`,
      );
    }
    // Only one run may take over a given stale lock: the marker names the holder it replaces.
    const marker = `${LOCK}.takeover-${held.owner}`;
    if (!(await store.writeIfAbsent(marker, JSON.stringify(info)))) {
      const markerAge = await lockAge(store, marker);
      if (markerAge !== undefined && markerAge > ttlMs) await store.deletePrefix(marker);
      else throw new UserError(`${store.root}: another run is taking over the stale lock of pid ${held.pid} on ${held.host}; try again in a moment`);
      continue;
    }
    log?.info(`taking over the lock of ${held.command} (pid ${held.pid} on ${held.host}): ${stale}`);
    await store.deletePrefix(LOCK);
    const ok = await store.writeIfAbsent(LOCK, JSON.stringify(info));
    await store.deletePrefix(marker);
    if (ok) {
      const lock = new DatasetLock(store, info);
      lock.startHeartbeat(ttlMs);
      return lock;
    }
  }
  throw new UserError(`${store.uriOf(LOCK)}: could not take the lock`);
}

/** Milliseconds since a lock file's last heartbeat; unknown while it is being written or unreadable. */
async function lockAge(store: Store, key = LOCK): Promise<number | undefined> {
  try {
    const text = (await store.read(key)).toString('utf8');
    const at = Date.parse((JSON.parse(text) as { heartbeatAt?: string }).heartbeatAt ?? '');
    return Number.isFinite(at) ? Date.now() - at : undefined;
  } catch {
    return undefined;
  }
}

/** Runs `fn` holding the dataset's lock. */
export async function withLock<T>(store: Store, command: string, log: Logger | undefined, fn: (lock: DatasetLock) => Promise<T>): Promise<T> {
  const lock = await acquireLock(store, command, log);
  try {
    return await fn(lock);
  } finally {
    await lock.release().catch(() => undefined);
  }
}
