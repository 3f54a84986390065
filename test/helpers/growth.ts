// A growing collection for the incremental-update tests: photos of the mini Test set copied (real
// files, so a rewrite gets a new mtime as a re-shot photo would) into an input folder, changed by
// seeded random steps of additions, re-shots under the same name, removals and touches; and the
// comparisons of an updated output with a from-scratch run on the final input.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { decodeStats } from '../../src/stats/index.js';
import { listPartFiles, readPart } from '../../src/sink/read-dataset.js';
import type { Store } from '../../src/storage/store.js';
import { miniTestDir, miniTestImages } from './paths.js';
import { readPcaModel, readRows } from './datasets.js';
import { mulberry32 } from './random.js';

export interface Step {
  added: string[];
  changed: string[];
  removed: string[];
  touched: string[];
}

/** The photos of `classes` (first `perClass` of each) as keys `Class/file.jpg`, with their source files. */
export async function photoPool(classes: string[], perClass: number): Promise<{ key: string; file: string }[]> {
  const pool: { key: string; file: string }[] = [];
  for (const c of classes) for (const f of (await miniTestImages(c)).slice(0, perClass)) pool.push({ key: `${c}/${f}`, file: path.join(miniTestDir, c, f) });
  return pool;
}

export class Collection {
  readonly present = new Set<string>();
  private readonly random: () => number;

  constructor(
    readonly dir: string,
    private readonly pool: { key: string; file: string }[],
    seed: number,
  ) {
    this.random = mulberry32(seed);
  }

  private pick<T>(items: T[], n: number): T[] {
    const copy = [...items];
    const out: T[] = [];
    while (out.length < n && copy.length > 0) out.push(copy.splice(Math.floor(this.random() * copy.length), 1)[0]);
    return out;
  }

  private async put(key: string, source: string): Promise<void> {
    const target = path.join(this.dir, ...key.split('/'));
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.rm(target, { force: true });
    await fs.writeFile(target, await fs.readFile(source));
  }

  /** Copies `n` photos of the pool not yet present. */
  async add(n: number): Promise<string[]> {
    const keys = this.pick(this.pool.filter((p) => !this.present.has(p.key)), n);
    for (const p of keys) {
      await this.put(p.key, p.file);
      this.present.add(p.key);
    }
    return keys.map((p) => p.key);
  }

  /** One random step; at least one of each kind when there is room. */
  async step(sizes: { add: number; change: number; remove: number; touch: number }): Promise<Step> {
    const added = await this.add(sizes.add);
    const others = [...this.present].filter((k) => !added.includes(k)).sort();
    const [changed, removed, touched] = [sizes.change, sizes.remove, sizes.touch].reduce<string[][]>((acc, n) => {
      const left = others.filter((k) => !acc.flat().includes(k));
      acc.push(this.pick(left, n));
      return acc;
    }, []);
    for (const key of changed) {
      // Re-shot: other bytes (another photo of the pool) under the same name.
      const current = await fs.readFile(path.join(this.dir, ...key.split('/')));
      let other = this.pool[Math.floor(this.random() * this.pool.length)];
      while ((await fs.readFile(other.file)).equals(current)) other = this.pool[Math.floor(this.random() * this.pool.length)];
      await this.put(key, other.file);
    }
    for (const key of removed) {
      await fs.rm(path.join(this.dir, ...key.split('/')));
      this.present.delete(key);
    }
    for (const key of touched) {
      // The same bytes written again: a new mtime only.
      const file = path.join(this.dir, ...key.split('/'));
      await fs.writeFile(file, await fs.readFile(file));
      const later = new Date(Date.now() + 5000);
      await fs.utimes(file, later, later);
    }
    return { added, changed, removed, touched };
  }
}

/** path → features bytes of a dataset folder; fails on a path held twice. */
export async function rowsByPath(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const r of await readRows(dir)) {
    assert.ok(!out.has(r.path), `${dir}: ${r.path} is held twice`);
    out.set(r.path, r.features);
  }
  return out;
}

/** The features dataset holds exactly the rows of the reference, each with byte-equal features. */
export async function assertSameFeatures(actual: string, expected: string): Promise<void> {
  const [a, e] = await Promise.all([rowsByPath(actual), rowsByPath(expected)]);
  assertSameRowMaps(a, e);
}

function worstRelative(a: Float64Array, b: Float64Array): number {
  let scale = 0;
  let diff = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]));
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

/** Merged statistics to 1e-9 relative; the PCA (k, eigenvalues, components up to sign) to 1e-6. */
export async function assertSameStatsAndPca(actualRun: string, expectedRun: string): Promise<void> {
  const [sa, se] = await Promise.all([actualRun, expectedRun].map(async (d) => decodeStats(await fs.readFile(path.join(d, 'pca', 'stats.bin')))));
  assert.equal(sa.count, se.count, 'statistics: rows');
  for (const k of ['mean', 'm2', 'min', 'max'] as const) {
    const w = worstRelative(sa[k], se[k]);
    assert.ok(w <= 1e-9, `statistics ${k} differ by ${w} relative (> 1e-9)`);
  }
  const [pa, pe] = await Promise.all([readPcaModel(actualRun), readPcaModel(expectedRun)]);
  assert.equal(pa.k, pe.k, 'PCA k');
  const ev = worstRelative(pa.eigenvalues, pe.eigenvalues);
  assert.ok(ev <= 1e-6, `eigenvalues differ by ${ev} relative`);
  for (let i = 0; i < pe.k; i++) {
    const ra = pa.components.subarray(i * pa.dim, (i + 1) * pa.dim);
    const re = pe.components.subarray(i * pe.dim, (i + 1) * pe.dim);
    let dot = 0;
    for (let j = 0; j < re.length; j++) dot += ra[j] * re[j];
    const sign = Math.sign(dot) || 1;
    let worst = 0;
    for (let j = 0; j < re.length; j++) worst = Math.max(worst, Math.abs(ra[j] - sign * re[j]));
    assert.ok(worst <= 1e-6, `component ${i + 1} differs by ${worst} (up to sign)`);
  }
}

/** Makes the objects under `store` mirror the local folder: uploads every file, deletes the rest. */
export async function mirrorTo(store: Store, dir: string): Promise<void> {
  const local = new Set<string>();
  const walk = async (sub: string): Promise<void> => {
    for (const e of await fs.readdir(path.join(dir, sub), { withFileTypes: true })) {
      const key = sub ? `${sub}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(key);
      else local.add(key);
    }
  };
  await walk('');
  const gone: string[] = [];
  for await (const o of store.list('')) if (!local.has(o.key)) gone.push(o.key);
  for (const key of gone) await store.deletePrefix(key);
  // Same bytes give the same ETag (MD5): only new and re-shot photos look changed.
  for (const key of local) await store.write(key, await fs.readFile(path.join(dir, ...key.split('/'))));
}

/** Copies the statistics and PCA model of a run under `store` into `<dir>/pca/`, for assertSameStatsAndPca. */
export async function fetchPca(store: Store, dir: string): Promise<void> {
  await fs.mkdir(path.join(dir, 'pca'), { recursive: true });
  for (const f of ['stats.bin', 'model.json']) await fs.writeFile(path.join(dir, 'pca', f), await store.read(`pca/${f}`));
}

/** path → features bytes of a dataset in any store (read with the project's Parquet reader). */
export async function storeRowsByPath(store: Store): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const part of await listPartFiles(store)) {
    const p = await readPart(store, part);
    p.path.forEach((key, i) => {
      assert.ok(!out.has(key), `${store.root}: ${key} is held twice`);
      out.set(key, Buffer.from(p.features.slice(i * p.dim, (i + 1) * p.dim).buffer));
    });
  }
  return out;
}

export function assertSameRowMaps(actual: Map<string, Buffer>, expected: Map<string, Buffer>): void {
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort(), 'the same images');
  const differing = [...expected].filter(([p, f]) => !actual.get(p)!.equals(f)).map(([p]) => p);
  assert.deepEqual(differing, [], 'features byte-equal per image');
}
