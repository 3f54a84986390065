// PCA: fit from merged statistics, the model file, and projection.
export { fitPca, type FitOptions } from './fit.js';
export {
  parsePcaModel,
  summarizePcaModel,
  pcaSummarySchema,
  serializePcaModel,
  checkCompatible,
  PcaModelError,
  IncompatibleFeaturesError,
  PCA_MODEL_FORMAT,
  PCA_MODEL_VERSION,
  type PcaModel,
  type PcaSummary,
  type FeaturizerId,
} from './model.js';
export { project } from './project.js';
export { portablePcaModel, portableKeyOf, PORTABLE_INPUT, PORTABLE_OUTPUT } from './portable.js';
export { writePcaModel } from './write-model.js';
export { SCALE_MODES, scalingFor, type ScaleMode } from './scaling.js';
export { selectComponents, numericalRank, type ComponentSelection } from './select-components.js';
export { symmetricEigen, type SymmetricEigen } from './symmetric-eigen.js';
