// The fit task: merged statistics in → PCA model file out. No pass over the rows.
import { decodeStats } from '../stats/index.js';
import { fitPca, summarizePcaModel, writePcaModel, type ComponentSelection, type ScaleMode, type FeaturizerId, type PcaSummary } from '../pca/index.js';
import { projectionOf } from '../pca/project.js';
import { pcaMemoKey } from './transform.js';
import type { TaskContext } from './context.js';

export interface FitTask {
  kind: 'fit';
  /** Store holding the merged statistics file; the model is written beside it. */
  store: string;
  statsFile: string;
  modelFile: string;
  scale: ScaleMode;
  components: ComponentSelection;
  featurizer: FeaturizerId;
}

export interface FitResult {
  kind: 'fit';
  modelFile: string;
  k: number;
  dim: number;
  rows: number;
  explainedVariance: number;
  seconds: number;
  /** sha256 of the model.json written, and the model without its arrays: the coordinator need not read it back. */
  modelSha256: string;
  summary: PcaSummary;
}

export async function fitFromStats(task: FitTask, ctx: TaskContext): Promise<FitResult> {
  const t0 = performance.now();
  const store = ctx.store(task.store);
  const stats = decodeStats(await store.read(task.statsFile), store.uriOf(task.statsFile));
  const model = await fitPca(stats, { scale: task.scale, components: task.components, featurizer: task.featurizer });
  const written = await writePcaModel(store, task.modelFile, model);
  // This worker's transform tasks use the model it holds rather than parsing the file again.
  void ctx.memo(pcaMemoKey(written.sha256), () => Promise.resolve(projectionOf(model)));
  ctx.progress(1);
  return {
    kind: 'fit',
    modelFile: task.modelFile,
    k: model.k,
    dim: model.dim,
    rows: model.rowsFitted,
    explainedVariance: model.explainedVarianceRatio.reduce((a, b) => a + b, 0),
    seconds: (performance.now() - t0) / 1000,
    modelSha256: written.sha256,
    summary: summarizePcaModel(model),
  };
}
