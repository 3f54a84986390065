// Parquet encoding of feature datasets with apache-arrow (columns) and parquet-wasm (file
// format). `features` is list<float32>, which Spark reads as array<float>, pandas as arrays and
// DuckDB as FLOAT[].
import {
  Field,
  Float32,
  List,
  RecordBatch,
  Schema,
  Struct,
  Table,
  Utf8,
  makeData,
  makeVector,
  tableFromIPC,
  tableToIPC,
  vectorFromArray,
  type Vector,
} from 'apache-arrow';
import * as pq from 'parquet-wasm/node';

/** Rows of a feature dataset in columnar form; features are n × dim row-major. */
export interface FeatureColumns {
  path: string[];
  label: string[];
  dim: number;
  features: Float32Array;
  /** Optional extra columns (same length as path). */
  width?: Int32Array;
  height?: Int32Array;
  sha256?: string[];
}

export interface ParquetContents extends FeatureColumns {
  metadata: Record<string, string>;
}

function featuresVector(features: Float32Array, n: number, dim: number): Vector {
  const child = makeData({ type: new Float32(), length: n * dim, data: features });
  const offsets = new Int32Array(n + 1);
  for (let i = 0; i <= n; i++) offsets[i] = i * dim;
  const type = new List(new Field('element', new Float32(), false));
  return makeVector(makeData({ type, length: n, nullCount: 0, valueOffsets: offsets, child }));
}

/** Columns beyond a dataset's, one value per row (the serve feature log's time, answer, novelty…). */
export type ExtraColumns = Record<string, string[] | Float32Array | Int32Array>;

export function encodeFeatures(cols: FeatureColumns, metadata: Record<string, string>, extra: ExtraColumns = {}): Uint8Array {
  const n = cols.path.length;
  if (cols.features.length !== n * cols.dim) throw new Error(`features: ${cols.features.length} values for ${n} rows of ${cols.dim}`);
  const vectors: Record<string, Vector> = {
    path: vectorFromArray(cols.path, new Utf8()),
    label: vectorFromArray(cols.label, new Utf8()),
    features: featuresVector(cols.features, n, cols.dim),
  };
  if (cols.width) vectors.width = makeVector(cols.width);
  if (cols.height) vectors.height = makeVector(cols.height);
  if (cols.sha256) vectors.sha256 = vectorFromArray(cols.sha256, new Utf8());
  for (const [name, values] of Object.entries(extra)) {
    if (values.length !== n) throw new Error(`column ${name}: ${values.length} values for ${n} rows`);
    vectors[name] = Array.isArray(values) ? vectorFromArray(values, new Utf8()) : makeVector(values);
  }
  const fields = Object.entries(vectors).map(([name, v]) => new Field(name, v.type, false));
  const schema = new Schema(fields);
  // With no rows (a partition of rejects only) Table(schema, vectors) finds no batch, makes one
  // with nullable fields and then refuses it against this schema: give it the empty batch.
  const table =
    n === 0
      ? new Table(schema, new RecordBatch(schema, makeData({ type: new Struct(fields), length: 0, nullCount: 0, children: Object.values(vectors).map((v) => v.data[0]) })))
      : new Table(schema, vectors);
  const wasmTable = pq.Table.fromIPCStream(tableToIPC(table, 'stream'));
  // Dictionary pages and min/max statistics only for the string columns: on float features a
  // dictionary is tried, overflows and is dropped (a third of the write time, and larger files),
  // and nobody filters on a feature's min/max. Nested columns cannot be named here (parquet-wasm
  // takes one path segment), hence off by default, on by name. Snappy (Spark's default codec):
  // float features barely compress, and against zstd it writes a 1,024 × 1,280 part in 24 ms
  // instead of 63 and reads it in 21 instead of 39, for files 13 % larger — every update re-reads
  // every part to project it again.
  let builder = new pq.WriterPropertiesBuilder()
    .setCompression(pq.Compression.SNAPPY)
    .setDictionaryEnabled(false)
    .setStatisticsEnabled(pq.EnabledStatistics.None);
  for (const name of Object.keys(vectors)) {
    if (vectors[name].type instanceof Utf8) builder = builder.setColumnStatisticsEnabled(name, pq.EnabledStatistics.Page);
  }
  const props = builder
    .setColumnDictionaryEnabled('label', true)
    .setKeyValueMetadata(new Map(Object.entries(metadata)))
    .setCreatedBy('fruits')
    .build();
  return pq.writeParquet(wasmTable, props);
}

function concatFloat32(chunks: Float32Array[]): Float32Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Float32Array(chunks.reduce((s, c) => s + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** Reads a feature (or reduced) part file; checks every row has the same dimension. */
export function decodeFeatures(bytes: Uint8Array, where: string): ParquetContents {
  let table: Table;
  let metadata: Record<string, string> = {};
  try {
    const wasm = pq.readParquet(bytes);
    table = tableFromIPC(wasm.intoIPCStream());
    // parquet-wasm surfaces the footer's key-value metadata as the Arrow schema metadata.
    metadata = Object.fromEntries(table.schema.metadata);
  } catch (err) {
    throw new Error(`${where}: not a readable Parquet file (${(err as Error).message ?? err})`);
  }
  const need = ['path', 'label', 'features'];
  for (const c of need) if (!table.getChild(c)) throw new Error(`${where}: no '${c}' column`);
  const n = table.numRows;
  const featureCol = table.getChild('features')!;
  const chunks: Float32Array[] = [];
  let dim = -1;
  for (const data of featureCol.data) {
    if (data.length === 0) continue; // an empty part reads back with no child values at all
    const offsets = data.valueOffsets as Int32Array;
    const values = data.children[0].values as Float32Array;
    for (let i = 0; i < data.length; i++) {
      const len = offsets[i + 1] - offsets[i];
      if (dim === -1) dim = len;
      else if (len !== dim) throw new Error(`${where}: row ${i} has ${len} features, others ${dim}`);
    }
    chunks.push(values.subarray(offsets[0], offsets[data.length]));
  }
  const str = (name: string) => Array.from(table.getChild(name)!, (v) => String(v));
  const int = (name: string) => (table.getChild(name) ? Int32Array.from(table.getChild(name)!, (v) => Number(v)) : undefined);
  return {
    path: str('path'),
    label: str('label'),
    dim: Math.max(dim, 0),
    features: n === 0 ? new Float32Array(0) : concatFloat32(chunks),
    width: int('width'),
    height: int('height'),
    sha256: table.getChild('sha256') ? str('sha256') : undefined,
    metadata,
  };
}
