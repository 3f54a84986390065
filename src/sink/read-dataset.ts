// Reading a Parquet dataset folder back: the part files in order, whole or column by column.
import { tableFromIPC } from 'apache-arrow';
import * as pq from 'parquet-wasm/node';
import type { Store } from '../storage/store.js';
import { UserError } from '../util/errors.js';
import { decodeFeatures, type ParquetContents } from './parquet.js';
import { PART_FILE } from './formats.js';

export async function listPartFiles(store: Store): Promise<string[]> {
  const parts: string[] = [];
  for await (const obj of store.list('')) {
    if (PART_FILE.test(obj.key)) parts.push(obj.key);
  }
  return parts;
}

export async function readPart(store: Store, key: string): Promise<ParquetContents> {
  // A failed read stays a StorageError (worth retrying); a file that does not decode is the data's fault.
  const bytes = await store.read(key);
  try {
    return decodeFeatures(bytes, store.uriOf(key));
  } catch (err) {
    throw new UserError((err as Error).message);
  }
}

/** One string column of a part, without decoding the features. */
export async function readStringColumn(store: Store, key: string, column: string): Promise<string[]> {
  const bytes = await store.read(key);
  try {
    const table = tableFromIPC(pq.readParquet(bytes, { columns: [column] }).intoIPCStream());
    return Array.from(table.getChild(column) ?? [], (v) => String(v));
  } catch (err) {
    throw new UserError(`${store.uriOf(key)}: cannot read column '${column}' (${(err as Error).message ?? err})`);
  }
}
