// The fitted PCA model: what `transform` needs to project features, what the report needs to draw
// a scree plot, and the featurizer identity that guards against mixing feature spaces.
//
// On disk it is JSON with plain number arrays (components as k rows of d numbers), readable with
// Python's json.load; doubles survive the round trip exactly (shortest round-trip formatting).
import { z } from 'zod';
import { UserError } from '../util/errors.js';
import { describeSelection, type ComponentSelection } from './select-components.js';
import { SCALE_MODES, type ScaleMode } from './scaling.js';

export const PCA_MODEL_FORMAT = 'fruits-pca';
export const PCA_MODEL_VERSION = 1;

/** Which network (and which exact weights file) produced the feature vectors. */
export interface FeaturizerId {
  modelId: string;
  /** Lower-case hex SHA-256 of the model file. */
  sha256: string;
}

export interface PcaModel {
  format: typeof PCA_MODEL_FORMAT;
  version: typeof PCA_MODEL_VERSION;
  featurizer: FeaturizerId;
  /** Input feature dimension d. */
  dim: number;
  /** Number of components kept. */
  k: number;
  scale: ScaleMode;
  /** What was asked for (k is the outcome). */
  selection: ComponentSelection;
  rowsFitted: number;
  /** Per-feature mean (length d) and scale factors (length d; 1 for constant features). */
  mean: Float64Array;
  scaleFactors: Float64Array;
  constantFeatures: number[];
  /** k×d row-major, unit rows, largest-magnitude loading of each row positive. */
  components: Float64Array;
  /** Variance along each component (covariance eigenvalues, n − 1 denominator), length k. */
  eigenvalues: Float64Array;
  /** eigenvalues / totalVariance, length k. */
  explainedVarianceRatio: Float64Array;
  /** Explained-variance ratio of every eigenvalue (length d, descending): the scree plot. */
  spectrumRatio: Float64Array;
  /** Trace of the (scaled) covariance. */
  totalVariance: number;
  /** Numerical rank of the covariance. */
  rank: number;
}

/** `model.json` → `model.onnx` (any other name: `.onnx` appended). */
export function portableKeyOf(jsonKey: string): string {
  return /\.json$/i.test(jsonKey) ? jsonKey.replace(/\.json$/i, '.onnx') : `${jsonKey}.onnx`;
}

export class PcaModelError extends UserError {
  override readonly name = 'PcaModelError';
}

export class IncompatibleFeaturesError extends UserError {
  override readonly name = 'IncompatibleFeaturesError';
}

const finite = z.number().refine(Number.isFinite, 'must be a finite number');
/**
 * An array of finite numbers, checked in one plain loop: zod's per-element schema took ~0.25 s on
 * a model of 600 × 1280 components, paid by every worker that loads the model.
 */
const vector = z.custom<number[]>(
  (v) => Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x)),
  'must be an array of finite numbers',
);

export const featurizerSchema = z.object({
  modelId: z.string().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex digits'),
});

const modelSchema = z.object({
  format: z.literal(PCA_MODEL_FORMAT),
  version: z.literal(PCA_MODEL_VERSION),
  featurizer: featurizerSchema,
  dim: z.number().int().positive(),
  k: z.number().int().positive(),
  scale: z.enum(SCALE_MODES),
  selection: z.union([z.object({ k: z.number().int().positive() }), z.object({ variance: z.number().gt(0).lte(1) })]),
  rowsFitted: z.number().int().min(2),
  mean: vector,
  scaleFactors: z.array(finite.refine((x) => x > 0, 'must be positive')),
  constantFeatures: z.array(z.number().int().nonnegative()),
  components: z.array(vector),
  eigenvalues: z.array(finite.refine((x) => x >= 0, 'must be non-negative')),
  explainedVarianceRatio: vector,
  spectrumRatio: vector,
  totalVariance: finite.refine((x) => x > 0, 'must be positive'),
  rank: z.number().int().nonnegative(),
});

type ModelJson = z.infer<typeof modelSchema>;

/**
 * A fitted model without its arrays over the features (mean, scale factors, k×d components): what
 * a coordinator plans, checks and reports with. It travels in the fit task's result and _fit.json,
 * so a run does not parse the whole model.json (~16 MB at k ≈ 580: ~0.1 s) to learn k.
 */
export const pcaSummarySchema = modelSchema.pick({ featurizer: true, dim: true, k: true, scale: true, selection: true, rowsFitted: true, rank: true, spectrumRatio: true });
export type PcaSummary = z.infer<typeof pcaSummarySchema>;

export function summarizePcaModel(m: PcaModel): PcaSummary {
  const { featurizer, dim, k, scale, selection, rowsFitted, rank } = m;
  return { featurizer: { ...featurizer }, dim, k, scale, selection, rowsFitted, rank, spectrumRatio: Array.from(m.spectrumRatio) };
}

/** JSON text of the model (pretty enough to diff, compact enough: numbers are not indented). */
export function serializePcaModel(m: PcaModel): string {
  const json: ModelJson = {
    format: m.format,
    version: m.version,
    featurizer: { modelId: m.featurizer.modelId, sha256: m.featurizer.sha256 },
    dim: m.dim,
    k: m.k,
    scale: m.scale,
    selection: m.selection,
    rowsFitted: m.rowsFitted,
    mean: Array.from(m.mean),
    scaleFactors: Array.from(m.scaleFactors),
    constantFeatures: m.constantFeatures,
    components: Array.from({ length: m.k }, (_, c) => Array.from(m.components.subarray(c * m.dim, (c + 1) * m.dim))),
    eigenvalues: Array.from(m.eigenvalues),
    explainedVarianceRatio: Array.from(m.explainedVarianceRatio),
    spectrumRatio: Array.from(m.spectrumRatio),
    totalVariance: m.totalVariance,
    rank: m.rank,
  };
  // One top-level key per line; each array stays on one line.
  const lines = Object.entries(json).map(([key, value]) => `  ${JSON.stringify(key)}: ${JSON.stringify(value)}`);
  return `{\n${lines.join(',\n')}\n}\n`;
}

/** Parses and validates model JSON. `source` (e.g. the file path) prefixes error messages. */
export function parsePcaModel(text: string, source = 'PCA model'): PcaModel {
  const fail = (why: string): never => {
    throw new PcaModelError(`${source}: ${why}`);
  };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    fail(`not valid JSON (${(e as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('not a JSON object');
  const head = raw as Record<string, unknown>;
  if (head.format !== PCA_MODEL_FORMAT) fail(`not a fruits PCA model (format is ${JSON.stringify(head.format)}, expected "${PCA_MODEL_FORMAT}")`);
  if (head.version !== PCA_MODEL_VERSION) {
    fail(`unsupported PCA model version ${JSON.stringify(head.version)} (this build reads version ${PCA_MODEL_VERSION})`);
  }
  const parsed = modelSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    const more = parsed.error.issues.length > 3 ? ` (and ${parsed.error.issues.length - 3} more)` : '';
    fail(`invalid model file: ${issues.join('; ')}${more}`);
  }
  const j = parsed.data as ModelJson;
  const { dim, k } = j;
  const expectLength = (name: string, got: number, want: number) => {
    if (got !== want) fail(`${name} has ${got} values, expected ${want}`);
  };
  expectLength('mean', j.mean.length, dim);
  expectLength('scaleFactors', j.scaleFactors.length, dim);
  expectLength('components', j.components.length, k);
  j.components.forEach((row, c) => expectLength(`components[${c}]`, row.length, dim));
  expectLength('eigenvalues', j.eigenvalues.length, k);
  expectLength('explainedVarianceRatio', j.explainedVarianceRatio.length, k);
  expectLength('spectrumRatio', j.spectrumRatio.length, dim);
  if (k > dim) fail(`k = ${k} exceeds the feature dimension ${dim}`);
  if (j.constantFeatures.some((i) => i >= dim)) fail('constantFeatures has an index outside the feature dimension');
  const components = new Float64Array(k * dim);
  j.components.forEach((row, c) => components.set(row, c * dim));
  return {
    format: PCA_MODEL_FORMAT,
    version: PCA_MODEL_VERSION,
    featurizer: j.featurizer,
    dim,
    k,
    scale: j.scale,
    selection: j.selection,
    rowsFitted: j.rowsFitted,
    mean: Float64Array.from(j.mean),
    scaleFactors: Float64Array.from(j.scaleFactors),
    constantFeatures: j.constantFeatures,
    components,
    eigenvalues: Float64Array.from(j.eigenvalues),
    explainedVarianceRatio: Float64Array.from(j.explainedVarianceRatio),
    spectrumRatio: Float64Array.from(j.spectrumRatio),
    totalVariance: j.totalVariance,
    rank: j.rank,
  };
}

/**
 * Throws IncompatibleFeaturesError unless features from `featurizer` with dimension `dim` can be
 * projected by `model` — i.e. they come from the very network and weights the model was fitted on.
 */
export function checkCompatible(
  model: Pick<PcaSummary, 'featurizer' | 'dim'> & Partial<Pick<PcaSummary, 'selection' | 'rowsFitted'>>,
  features: FeaturizerId & { dim: number },
): void {
  const problems: string[] = [];
  if (features.modelId !== model.featurizer.modelId) {
    problems.push(`featurizer "${features.modelId}" differs from the model's "${model.featurizer.modelId}"`);
  }
  if (features.sha256 !== model.featurizer.sha256) {
    problems.push(`weights sha256 ${features.sha256.slice(0, 12)}… differ from the model's ${model.featurizer.sha256.slice(0, 12)}…`);
  }
  if (features.dim !== model.dim) problems.push(`feature dimension ${features.dim} differs from the model's ${model.dim}`);
  if (problems.length > 0) {
    throw new IncompatibleFeaturesError(
      `features are incompatible with the PCA model${model.selection && model.rowsFitted ? ` (fitted with ${describeSelection(model.selection)} on ${model.rowsFitted} rows)` : ''}: ${problems.join('; ')}`,
    );
  }
}
