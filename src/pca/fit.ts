// PCA fit from merged feature statistics: scale, covariance (n − 1, as scikit-learn's PCA), all
// eigenvalues, top-k eigenvectors. No pass over the rows: the statistics already hold everything.
import { covariance, type FeatureStats } from '../stats/feature-stats.js';
import { featurizerSchema, PCA_MODEL_FORMAT, PCA_MODEL_VERSION, type FeaturizerId, type PcaModel } from './model.js';
import { SCALE_MODES, scalingFor, type ScaleMode } from './scaling.js';
import { numericalRank, selectComponents, type ComponentSelection } from './select-components.js';
import { symmetricEigen } from './symmetric-eigen.js';

export interface FitOptions {
  scale: ScaleMode;
  components: ComponentSelection;
  featurizer: FeaturizerId;
}

export async function fitPca(stats: FeatureStats, opts: FitOptions): Promise<PcaModel> {
  const d = stats.dim;
  if (!SCALE_MODES.includes(opts.scale)) throw new RangeError(`scale must be one of ${SCALE_MODES.join(', ')}, got ${String(opts.scale)}`);
  // Refuse an identity the model file could not be read back with.
  const id = featurizerSchema.safeParse(opts.featurizer);
  if (!id.success) throw new TypeError(`invalid featurizer identity: ${id.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
  if (stats.count < 2) throw new Error(`PCA needs at least 2 rows, the statistics hold ${stats.count}`);
  const { factors, constantFeatures } = scalingFor(stats, opts.scale);
  // Covariance of the scaled features: C'ij = Cij / (si·sj).
  const cov = covariance(stats);
  let total = 0;
  for (let i = 0; i < d; i++) {
    const fi = 1 / factors[i];
    for (let j = 0; j < d; j++) cov[i * d + j] *= fi / factors[j];
    total += cov[i * d + i];
  }
  if (!(total > 0)) throw new Error(`zero total variance: all ${d} features are constant over the ${stats.count} rows`);

  const eig = await symmetricEigen(cov, d);
  // Round-off can leave null-space eigenvalues at −1e-17: variances are never negative.
  const values = eig.values.map((v) => Math.max(v, 0));
  const k = selectComponents(values, total, opts.components);
  const components = await eig.vectors(k);
  const spectrumRatio = values.map((v) => v / total);
  return {
    format: PCA_MODEL_FORMAT,
    version: PCA_MODEL_VERSION,
    featurizer: { modelId: opts.featurizer.modelId, sha256: opts.featurizer.sha256 },
    dim: d,
    k,
    scale: opts.scale,
    selection: opts.components,
    rowsFitted: stats.count,
    mean: stats.mean.slice(),
    scaleFactors: factors,
    constantFeatures,
    components,
    eigenvalues: values.slice(0, k),
    explainedVarianceRatio: spectrumRatio.slice(0, k),
    spectrumRatio,
    totalVariance: total,
    rank: numericalRank(values),
  };
}
