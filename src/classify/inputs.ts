// From features to scores with a bundle: raw features → (PCA projection) → standardisation →
// classifier. Before anything runs, the data's feature space is checked against the bundle's:
// features of another network, other weights or another PCA are refused with a message that
// names both sides.
import { project } from '../pca/index.js';
import { UserError } from '../util/errors.js';
import type { Bundle } from './bundle.js';
import { classifierScores } from './classifier.js';
import type { FeatureSpace } from './dataset.js';
import { standardize } from './standardize.js';

export class BundleMismatchError extends UserError {}

const short = (sha: string) => `${sha.slice(0, 12)}…`;

/** Throws BundleMismatchError unless rows of `space` can be fed to the bundle. */
export function checkFeatureSpace(bundle: Bundle, space: FeatureSpace, where: string): void {
  const f = bundle.featurizer;
  const name = `bundle ${bundle.dir}`;
  if (space.featurizer.sha256 !== f.sha256 || space.featurizer.id !== f.id) {
    throw new BundleMismatchError(
      `${name} was trained on features of ${f.id} (sha256 ${short(f.sha256)}), but ${where} holds features of ${space.featurizer.id} (sha256 ${short(space.featurizer.sha256)}); featurize the images with the bundle's model`,
    );
  }
  if (space.kind === 'features') {
    if (space.dim !== f.spec.feature.dim) {
      throw new BundleMismatchError(`${name} expects ${f.spec.feature.dim} features per row, ${where} has ${space.dim}`);
    }
    return;
  }
  if (!bundle.pca) {
    throw new BundleMismatchError(`${name} takes raw features, but ${where} holds PCA-reduced rows (k = ${space.dim}); give it the features dataset instead`);
  }
  if (space.pcaSha256 !== bundle.pcaSha256) {
    throw new BundleMismatchError(
      `${name} includes its own PCA (k = ${bundle.pca.model.k}, sha256 ${short(bundle.pcaSha256 ?? '')}), but ${where} was reduced with another PCA model (k = ${space.dim}, sha256 ${short(space.pcaSha256 ?? '')}); give it the features dataset instead`,
    );
  }
}

/** The classifier's (standardised) inputs for n rows of `space` (already checked). */
export async function classifierInputs(bundle: Bundle, space: FeatureSpace, rows: Float32Array, n: number): Promise<Float32Array> {
  const projected = bundle.pca && space.kind === 'features' ? await project(bundle.pca.model, rows, n) : rows;
  return standardize(bundle.standardizer, projected, n);
}

/** Scores (n × classes) for n rows of raw features from the bundle's own featurizer. */
export async function scoreFeatures(bundle: Bundle, features: Float32Array, n: number): Promise<Float32Array> {
  const space: FeatureSpace = { kind: 'features', featurizer: bundle.featurizer, dim: bundle.featurizer.spec.feature.dim };
  return classifierScores(bundle.classifier, await classifierInputs(bundle, space, features, n), n);
}

/** Scores for rows of a dataset, after the feature-space check. */
export async function scoreRows(bundle: Bundle, space: FeatureSpace, rows: Float32Array, n: number, where: string): Promise<Float32Array> {
  checkFeatureSpace(bundle, space, where);
  return classifierScores(bundle.classifier, await classifierInputs(bundle, space, rows, n), n);
}
