// The featurizer: one ONNX Runtime session per worker, created once and reused for every batch
// (the reference pipelines' "broadcast the weights" step). Images go in as uint8 and are resized
// and normalised by a WebAssembly SIMD kernel (preprocess-simd.ts) or, where it does not apply, by
// nodes in front of the network in the same runtime: the features are bit-identical either way.
import { promises as fs } from 'node:fs';
import ort from 'onnxruntime-node';
import { buildPreprocessModel, FEATURE_OUTPUT, featurizerModel, IMAGE_INPUT, PREPROCESS_OUTPUT, withFeatureOutput } from './graph-edit.js';
import type { ResolvedModel } from './resolve.js';
import type { Device } from './device.js';
import { SimdPreprocessor } from './preprocess-simd.js';

export interface SessionOptions {
  /** ONNX Runtime intra-op threads. */
  threads: number;
  device?: Device;
  /**
   * Where photos are resized and normalised: 'simd' (default on the CPU, when the model's input
   * allows: preprocess-simd.ts, then the network alone) or 'graph' (nodes spliced in front of the
   * network). The two give bit-identical features (test/preprocess-simd.test.ts).
   */
  preprocessing?: 'simd' | 'graph';
}

/** Images of one batch: all of the same width and height, RGB uint8 HWC each. */
export interface ImageBatch {
  width: number;
  height: number;
  images: Uint8Array[];
}

export function sessionOptions(opts: SessionOptions): ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: opts.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    executionProviders: opts.device === 'cuda' ? ['cuda', 'cpu'] : ['cpu'],
    // Decoding shares the cores: idle ORT threads should sleep, not spin.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
}

/** A graph edit of the model's file, its errors naming the model. */
async function editedModel<T>(model: ResolvedModel, edit: (bytes: Uint8Array) => T): Promise<T> {
  try {
    return edit(await fs.readFile(model.path));
  } catch (err) {
    throw new Error(`model ${model.spec.id}: ${(err as Error).message}`);
  }
}

/** The network alone, its feature tensor exposed as FEATURE_OUTPUT (what the raw-inference benchmark runs). */
export async function networkBytes(model: ResolvedModel): Promise<Uint8Array> {
  return editedModel(model, (bytes) => withFeatureOutput(bytes, model.spec.feature.tensor, model.spec));
}

/** The preprocessing as graph nodes: spliced into the network, or a model of its own run first. */
interface GraphPath {
  session: ort.InferenceSession;
  preprocess?: ort.InferenceSession;
}

/** The network alone, fed by the SIMD preprocessor. */
interface DirectPath {
  session: ort.InferenceSession;
  pre: SimdPreprocessor;
}

async function createChecked(model: ResolvedModel, bytes: Uint8Array, opts: SessionOptions, input: string): Promise<ort.InferenceSession> {
  const session = await ort.InferenceSession.create(bytes, sessionOptions(opts));
  if (!session.inputNames.includes(input)) {
    await session.release();
    throw new Error(`model ${model.spec.id}: input '${model.spec.input.name}' not found (inputs: ${session.inputNames.join(', ')})`);
  }
  return session;
}

async function loadGraphPath(model: ResolvedModel, opts: SessionOptions): Promise<GraphPath> {
  const { bytes, spliced } = await editedModel(model, (b) => featurizerModel(b, model.spec));
  const session = await createChecked(model, bytes, opts, spliced ? IMAGE_INPUT : model.spec.input.name);
  const preprocess = spliced ? undefined : await ort.InferenceSession.create(buildPreprocessModel(model.spec), sessionOptions(opts));
  return { session, preprocess };
}

export class Featurizer {
  /** Photos the SIMD kernel does not take go through the graph path, loaded on first need. */
  private graph?: Promise<GraphPath>;
  /** The direct path's batch lives in the preprocessor's memory until its run is over. */
  private turn: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly model: ResolvedModel,
    private readonly opts: SessionOptions,
    private readonly direct: DirectPath | undefined,
    graph?: GraphPath,
  ) {
    if (graph) this.graph = Promise.resolve(graph);
  }

  static async load(model: ResolvedModel, opts: SessionOptions): Promise<Featurizer> {
    if ((opts.preprocessing ?? 'simd') === 'simd' && opts.device !== 'cuda' && SimdPreprocessor.supports(model.spec)) {
      const session = await createChecked(model, await networkBytes(model), opts, model.spec.input.name);
      return new Featurizer(model, opts, { session, pre: new SimdPreprocessor(model.spec) });
    }
    return new Featurizer(model, opts, undefined, await loadGraphPath(model, opts));
  }

  get dim(): number {
    return this.model.spec.feature.dim;
  }

  /** Features of a batch of images, n × dim row-major. */
  async featurize(batch: ImageBatch): Promise<Float32Array> {
    const n = batch.images.length;
    const frame = batch.width * batch.height * 3;
    batch.images.forEach((img, i) => {
      if (img.length !== frame) throw new Error(`image ${i} of the batch is not ${batch.width}×${batch.height}×3`);
    });
    const t = this.direct?.pre.accepts(batch.width, batch.height) ? await this.runDirect(this.direct, batch) : await this.runGraph(batch);
    if (t.dims.length !== 2 || t.dims[0] !== n || t.dims[1] !== this.dim) {
      throw new Error(`model ${this.model.spec.id}: feature tensor has shape [${t.dims.join(', ')}], expected [${n}, ${this.dim}]`);
    }
    return t.data as Float32Array;
  }

  private runDirect({ session, pre }: DirectPath, batch: ImageBatch): Promise<ort.Tensor> {
    const { name, width, height } = this.model.spec.input;
    const run = this.turn.then(async () => {
      const x = pre.batch(batch.images, batch.width, batch.height);
      return (await session.run({ [name]: new ort.Tensor('float32', x, [batch.images.length, 3, height, width]) }))[FEATURE_OUTPUT];
    });
    this.turn = run.catch(() => undefined);
    return run;
  }

  private async runGraph(batch: ImageBatch): Promise<ort.Tensor> {
    this.graph ??= loadGraphPath(this.model, this.opts);
    const { session, preprocess } = await this.graph;
    const frame = batch.width * batch.height * 3;
    const data = new Uint8Array(batch.images.length * frame);
    batch.images.forEach((img, i) => data.set(img, i * frame));
    const image = new ort.Tensor('uint8', data, [batch.images.length, batch.height, batch.width, 3]);
    const feeds = preprocess
      ? { [this.model.spec.input.name]: (await preprocess.run({ [IMAGE_INPUT]: image }))[PREPROCESS_OUTPUT] }
      : { [IMAGE_INPUT]: image };
    return (await session.run(feeds))[FEATURE_OUTPUT];
  }

  /**
   * One blank image through the session: ONNX Runtime prepares its kernels (packs the weights) on
   * the first run, ~45 ms that would otherwise land on the first batch of photos.
   */
  async warmUp(): Promise<void> {
    const { width, height } = this.model.spec.input;
    await this.featurize({ width, height, images: [new Uint8Array(width * height * 3)] });
  }

  async release(): Promise<void> {
    await this.direct?.session.release();
    const graph = await this.graph?.catch(() => undefined);
    await graph?.preprocess?.release();
    await graph?.session.release();
  }
}
