// Reading what two runs wrote, to compare them: the rows of every part file (features as raw
// float32 bytes) and the PCA model, through DuckDB and the project's own model parser.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { lit, query } from './duckdb.js';
import { parsePcaModel, type PcaModel } from '../../src/pca/index.js';
import { PART_FILE } from '../../src/sink/formats.js';

export interface PartRow {
  part: string;
  path: string;
  features: Buffer;
}

/** Every row of every part file of a dataset folder, in part order then row order. */
export async function readRows(dir: string): Promise<PartRow[]> {
  const parts = (await fs.readdir(dir)).filter((n) => PART_FILE.test(n)).sort();
  const rows: PartRow[] = [];
  for (const part of parts) {
    for (const r of await query<{ path: string; features: number[] }>(`SELECT path, features FROM read_parquet(${lit(path.join(dir, part))})`)) {
      rows.push({ part, path: r.path, features: Buffer.from(Float32Array.from(r.features).buffer) });
    }
  }
  return rows;
}

/** The same rows, in the same parts and order, with byte-equal features. */
export function assertSameRows(actual: PartRow[], expected: PartRow[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: row count`);
  assert.deepEqual(
    actual.map((r) => `${r.part} ${r.path}`),
    expected.map((r) => `${r.part} ${r.path}`),
    `${what}: the same rows in the same parts and order`,
  );
  const differing = actual.filter((r, i) => !r.features.equals(expected[i].features)).map((r) => r.path);
  assert.deepEqual(differing, [], `${what}: features not byte-equal`);
}

/** Rows and distinct paths over all part files (an image twice, or missing, shows here). */
export async function countRows(dir: string): Promise<{ rows: number; paths: number }> {
  const [r] = await query<{ rows: bigint; paths: bigint }>(`SELECT count(*) AS rows, count(DISTINCT path) AS paths FROM read_parquet(${lit(path.join(dir, 'part-*.parquet'))})`);
  return { rows: Number(r.rows), paths: Number(r.paths) };
}

export async function readPcaModel(runDir: string): Promise<PcaModel> {
  const file = path.join(runDir, 'pca', 'model.json');
  return parsePcaModel(await fs.readFile(file, 'utf8'), file);
}

/** The same k and explained-variance ratios (within `tol`). */
export function assertSamePca(actual: PcaModel, expected: PcaModel, tol = 1e-9): void {
  assert.equal(actual.k, expected.k, 'PCA k');
  assert.equal(actual.spectrumRatio.length, expected.spectrumRatio.length, 'PCA spectrum length');
  let worst = 0;
  for (let i = 0; i < expected.spectrumRatio.length; i++) worst = Math.max(worst, Math.abs(actual.spectrumRatio[i] - expected.spectrumRatio[i]));
  assert.ok(worst <= tol, `explained variance ratios differ by up to ${worst} (> ${tol})`);
}

/** The features part files' names and bytes, to prove a dataset was left or rebuilt unchanged. */
export async function partFiles(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const n of (await fs.readdir(dir)).filter((n) => PART_FILE.test(n)).sort()) out.set(n, await fs.readFile(path.join(dir, n)));
  return out;
}
