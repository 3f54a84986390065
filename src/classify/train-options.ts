// What `fruits train` can be asked for and its defaults, apart from the training code so that the
// CLI describes them without loading ONNX Runtime.
import type { ClassifierKind } from './classifier.js';

export const CLASSIFIER_KINDS: readonly ClassifierKind[] = ['logreg', 'knn'];

export const TRAIN_DEFAULTS = {
  classifier: 'logreg' as ClassifierKind,
  l2: 1e-4,
  l2Grid: [1e-2, 1e-3, 1e-4, 1e-5],
  knnK: 5,
  holdout: 0.1,
  maxIterations: 500,
  tolerance: 1e-7,
};
