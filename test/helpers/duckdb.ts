// DuckDB as an independent reader of what the pipeline writes (Parquet parts, footers, CSV).
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';

let conn: Promise<DuckDBConnection> | undefined;

function connection(): Promise<DuckDBConnection> {
  return (conn ??= DuckDBInstance.create(':memory:').then((db) => db.connect()));
}

/** Rows as plain JS values (lists become arrays; BIGINT counts stay bigint: wrap them in Number()). */
export async function query<T = Record<string, unknown>>(sql: string): Promise<T[]> {
  const reader = await (await connection()).runAndReadAll(sql);
  return reader.getRowObjectsJS() as T[];
}

/** A SQL string literal. */
export function lit(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** The Parquet footer's key-value metadata of one file, as strings. */
export async function footerMetadata(file: string): Promise<Record<string, string>> {
  const rows = await query<{ k: string; v: string }>(`SELECT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata(${lit(file)})`);
  return Object.fromEntries(rows.map((r) => [r.k, r.v]));
}

/** A CSV file with a header, every column as text (RFC 4180 quoting). */
export async function readCsv(file: string): Promise<Record<string, string>[]> {
  return query<Record<string, string>>(`SELECT * FROM read_csv(${lit(file)}, header = true, all_varchar = true, quote = '"', escape = '"', delim = ',')`);
}
