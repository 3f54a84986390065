// Where a dataset may be read from or written to: an empty location, a previous output of the
// same format, or one clear refusal (a typo never deletes a user's data).
import type { Store } from '../storage/store.js';
import { UserError } from '../util/errors.js';
import { LOCK, MANIFEST, anyManifestSchema, readJsonOrNothing } from './formats.js';

/** True when nothing is stored under the location (missing counts as empty). */
export async function isEmpty(store: Store): Promise<boolean> {
  // A lock alone is what a run killed right after taking it leaves: no data.
  for await (const o of store.list('')) if (o.key !== LOCK) return false;
  return true;
}

/**
 * The one-line error for a location that holds no fruits dataset: a mistyped path is named as
 * such ("nothing there") rather than as a folder missing some file.
 */
export async function noDatasetError(store: Store, why: string): Promise<UserError> {
  return new UserError(`${store.root}: ${(await isEmpty(store)) ? 'nothing there (no such folder, or it is empty)' : why}`);
}

/**
 * Makes sure `store` may receive the output of `format`: empty, or a previous output of the same
 * format. Anything else is refused, even with --overwrite, so a typo never deletes a user's data.
 */
export async function checkOutputLocation(store: Store, format: string, manifestKey = MANIFEST): Promise<'empty' | 'previous'> {
  if (await isEmpty(store)) return 'empty';
  const manifest = await readJsonOrNothing(store, manifestKey, anyManifestSchema);
  if (manifest?.format === format) return 'previous';
  throw new UserError(
    `output ${store.root} is not empty and holds no previous fruits ${format.replace(/^fruits\./, '')} output; choose another location`,
  );
}
