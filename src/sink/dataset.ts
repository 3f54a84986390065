// The layout of a Spark-style dataset folder and the files beside its parts. Names starting with
// '_' are ignored by Spark's and pyarrow's dataset readers, so a reader pointed at the folder
// sees only the part files.
import type { Store } from '../storage/store.js';
import { UserError } from '../util/errors.js';

export const SUCCESS = '_SUCCESS';
export const MANIFEST = '_manifest.json';
export const REJECTS = '_rejects.csv';
export const PARTS_DIR = '_parts';

export function sidecarKey(partFile: string): string {
  return `${PARTS_DIR}/${partFile.replace(/\.parquet$/, '.json')}`;
}

export async function readJson<T = unknown>(store: Store, key: string): Promise<T | undefined> {
  if (!(await store.exists(key))) return undefined;
  const text = (await store.read(key)).toString('utf8');
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new UserError(`${store.uriOf(key)}: not valid JSON`);
  }
}

export async function writeJson(store: Store, key: string, value: unknown): Promise<void> {
  await store.write(key, `${JSON.stringify(value, null, 2)}\n`);
}

/** True when nothing is stored under the location (missing counts as empty). */
export async function isEmpty(store: Store): Promise<boolean> {
  for await (const _ of store.list('')) return false;
  return true;
}

/**
 * The one-line error for a location that holds no fruits dataset: a mistyped path is named as
 * such ("nothing there") rather than as a folder missing some file.
 */
export async function noDatasetError(store: Store, why: string): Promise<UserError> {
  return new UserError(`${store.root}: ${(await isEmpty(store)) ? 'nothing there (no such folder, or it is empty)' : why}`);
}

function csvField(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export function toCsv(header: string[], rows: (string | number)[][]): string {
  const lines = [header.join(',')];
  for (const r of rows) lines.push(r.map((v) => csvField(String(v))).join(','));
  return `${lines.join('\n')}\n`;
}

/**
 * Makes sure `store` may receive the output of `format`: empty, or a previous output of the same
 * format. Anything else is refused, even with --overwrite, so a typo never deletes a user's data.
 */
export async function checkOutputLocation(store: Store, format: string, manifestKey = MANIFEST): Promise<'empty' | 'previous'> {
  if (await isEmpty(store)) return 'empty';
  const manifest = await readJson<{ format?: string }>(store, manifestKey).catch(() => undefined);
  if (manifest?.format === format) return 'previous';
  throw new UserError(
    `output ${store.root} is not empty and holds no previous fruits ${format.replace(/^fruits\./, '')} output; choose another location`,
  );
}
