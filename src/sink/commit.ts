// The dataset-commit protocol of every dataset the project writes (features, reduced), as Ray
// Data's datasinks have one: `beginWrite` (no _SUCCESS, a manifest saying the dataset is being
// written) → part files, each written atomically → `commitWrite` (the final manifest, then
// _SUCCESS last). A reader that finds _SUCCESS finds the manifest of the parts that are there; a
// crash anywhere before it leaves a dataset that says it is incomplete. Also the footer metadata
// every part of a dataset carries, so Spark/pandas/DuckDB readers can tell where it came from.
import type { Store } from '../storage/store.js';
import { SOFTWARE } from '../version.js';
import { MANIFEST, SUCCESS, writeJson } from './formats.js';

export async function beginWrite(output: Store, manifest: unknown): Promise<void> {
  await output.deletePrefix(SUCCESS);
  await writeJson(output, MANIFEST, manifest);
}

/** The final manifest, then _SUCCESS (also in the `companions`, e.g. a CSV export of the same rows). */
export async function commitWrite(output: Store, manifest: unknown, companions: Store[] = []): Promise<void> {
  await writeJson(output, MANIFEST, manifest);
  await output.write(SUCCESS, '');
  for (const c of companions) await c.write(SUCCESS, '');
}

/** The footer key-value metadata of a dataset's parts: its format, the featurizer, the software. */
export function footerMetadata(format: string, model: { id: string; sha256: string }, dim: number, extra: Record<string, string> = {}): Record<string, string> {
  return {
    'fruits.format': format,
    'fruits.model_id': model.id,
    'fruits.model_sha256': model.sha256,
    ...extra,
    'fruits.feature_dim': String(dim),
    'fruits.software': `${SOFTWARE.name} ${SOFTWARE.version}`,
  };
}
