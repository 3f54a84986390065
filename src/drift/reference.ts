// The two kinds of drift reference: a bundle (its classifier and the novelty data it keeps), or a
// features dataset, on which the same novelty model is fitted on the spot (its classes by the
// nearest class mean, since a dataset has no classifier).
import { BUNDLE_FILES, readBundle, type Bundle } from '../classify/bundle.js';
import { datasetsAt, loadDataset, type LabelledRows } from '../classify/dataset.js';
import { scoreFeatures } from '../classify/inputs.js';
import { classDistances, fitNovelty, noveltyProject, topScoresOf } from '../classify/novelty.js';
import { holdoutSplit } from '../classify/train.js';
import { TRAIN_DEFAULTS } from '../classify/train-options.js';
import type { ModelSpec } from '../model/spec.js';
import { openStore } from '../storage/open.js';
import { UserError } from '../util/errors.js';
import type { DriftReference } from './drift.js';
import { compareBytewise } from '../util/byte-order.js';

export function bundleReference(bundle: Bundle): DriftReference {
  const novelty = bundle.novelty;
  if (!novelty) throw new UserError(`bundle ${bundle.dir} has no novelty data (it was trained before fruits kept any); retrain it with fruits train to compare batches with it`);
  const classes = bundle.labels.length;
  return {
    location: bundle.dir,
    kind: 'bundle',
    labels: bundle.labels,
    novelty,
    rows: novelty.rows,
    rowLabels: novelty.rowLabels,
    expectedUnknownRate: novelty.calibration.heldOutRate,
    async classify(features, n) {
      const scores = await scoreFeatures(bundle, features, n);
      const predicted = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        let best = 0;
        for (let c = 1; c < classes; c++) if (scores[i * classes + c] > scores[i * classes + best]) best = c;
        predicted[i] = best;
      }
      return { predicted, top: topScoresOf(scores, n, classes) };
    },
  };
}

export async function datasetReference(data: LabelledRows): Promise<DriftReference> {
  if (data.space.kind !== 'features') throw new UserError(`${data.location} holds PCA-reduced rows; give the features dataset as the reference`);
  const labels = [...new Set(data.labels)].sort(compareBytewise);
  if (labels.length < 2) throw new UserError(`${data.location}: a reference needs at least two labels, it has ${labels.length}`);
  const index = new Map(labels.map((l, i) => [l, i]));
  const y = Int32Array.from(data.labels, (l) => index.get(l)!);
  const split = holdoutSplit(data, TRAIN_DEFAULTS.holdout);
  // No classifier: the distance alone (weight 0 for the classifier's doubt).
  const novelty = await fitNovelty(
    { features: data.rows, n: data.n, dim: data.space.dim, y, classes: labels.length, paths: data.paths, held: split.held, heldTopScores: new Float32Array(split.held.length).fill(1) },
    { confidenceWeight: 0 },
  );
  return {
    location: data.location,
    kind: 'features',
    labels,
    novelty,
    rows: await noveltyProject(novelty, data.rows, data.n),
    rowLabels: y,
    expectedUnknownRate: novelty.calibration.heldOutRate,
    async classify(features, n) {
      const { nearest } = classDistances(novelty, await noveltyProject(novelty, features, n), n);
      return { predicted: nearest, top: new Float32Array(n).fill(1) };
    },
  };
}

/** The featurizer a reference's rows come from: a batch must have been featurized by the same one. */
export interface ReferenceFeaturizer {
  id: string;
  sha256: string;
  spec?: ModelSpec;
}

/** The reference named on the command line: a bundle, else a features dataset (its novelty model fitted here). */
export async function loadDriftReference(location: string, log: (m: string) => void): Promise<{ reference: DriftReference; featurizer: ReferenceFeaturizer }> {
  if (await openStore(location).exists(BUNDLE_FILES.manifest)) {
    const bundle = await readBundle(location);
    return { reference: bundleReference(bundle), featurizer: bundle.featurizer };
  }
  const choice = await datasetsAt(location);
  if (!choice?.features) throw new UserError(`${location}: neither a bundle nor a features dataset`);
  const data = await loadDataset(choice.features);
  log(`fitting the reference's novelty model on ${data.n} rows of ${choice.features}`);
  return { reference: await datasetReference(data), featurizer: data.space.featurizer };
}
