// The first calls of the PCA's kernels, made ahead of the work (a worker warms up while the
// coordinator lists the input): the fit's ORT graphs and WebAssembly GEMV module, the projection's
// graph, and V8's compilation of their loops. Measured on a +1 % update of 20,000 photos: the fit of
// a fresh worker took ~0.1 s longer than a second fit in the same process, the first re-projected
// part ~35 ms longer than the next (the session). A small matrix takes the same code paths.
import { project, type Projection } from './project.js';
import { symmetricEigen } from './symmetric-eigen.js';

/** Order of the warm-up matrix: more than two panels of the reduction (NB = 64). */
const WARM_DIM = 160;

export async function warmUpPca(dim: number): Promise<void> {
  const d = WARM_DIM;
  const a = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) a[i * d + j] = (i === j ? d : 0) + Math.cos(i + j);
  await (await symmetricEigen(a, d)).vectors(8);
  const tiny: Projection = { featurizer: { modelId: 'warm-up', sha256: '0'.repeat(64) }, dim, k: 2, params: { mean: new Float32Array(dim), weights: new Float32Array(2 * dim) } };
  await project(tiny, new Float32Array(2 * dim), 2);
}
