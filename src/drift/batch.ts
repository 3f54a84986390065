// The batch `fruits drift` compares with its reference: what `fruits serve --log-features` logged,
// a features dataset, or photos featurized with the reference's model. Refused when its features
// come from another network than the reference's.
import { datasetsAt, loadDataset, type LabelledRows } from '../classify/dataset.js';
import { isFeatureLog, loadFeatureLog } from '../serve/feature-log.js';
import { UserError } from '../util/errors.js';
import type { DriftReference } from './drift.js';
import type { ReferenceFeaturizer } from './reference.js';

/** Featurizes a photo folder with the reference's model (the CLI's local worker pool). */
export type PhotoFeaturizer = (reference: { dir: string; featurizer: Required<ReferenceFeaturizer> }, input: string) => Promise<LabelledRows>;

export async function loadDriftBatch(location: string, reference: DriftReference, featurizer: ReferenceFeaturizer, featurizePhotos: PhotoFeaturizer): Promise<LabelledRows> {
  let batch: LabelledRows;
  if (await isFeatureLog(location)) {
    batch = await loadFeatureLog(location, featurizer.sha256);
  } else {
    const choice = await datasetsAt(location).catch((err) => {
      if (err instanceof UserError) throw err;
      return undefined;
    });
    if (choice) {
      if (!choice.features) throw new UserError(`${location} holds PCA-reduced rows only; give its features dataset`);
      batch = await loadDataset(choice.features);
      if (batch.space.kind !== 'features') throw new UserError(`${location}: not a features dataset`);
    } else {
      if (!featurizer.spec) throw new UserError(`${reference.location}: the reference's featurizer spec is unknown, so photos cannot be featurized for it; featurize the batch first`);
      batch = await featurizePhotos({ dir: reference.location, featurizer: { ...featurizer, spec: featurizer.spec } }, location);
    }
  }
  const short = (sha: string) => `${sha.slice(0, 12)}…`;
  if (batch.space.featurizer.sha256 !== featurizer.sha256) {
    throw new UserError(
      `${reference.location} holds features of ${featurizer.id} (sha256 ${short(featurizer.sha256)}), but ${batch.location} holds features of ${batch.space.featurizer.id} (sha256 ${short(batch.space.featurizer.sha256)}); featurize the batch with the reference's model`,
    );
  }
  if (batch.n === 0) throw new UserError(`${batch.location}: the batch is empty`);
  return batch;
}
