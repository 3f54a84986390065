// The featurizer: one ONNX Runtime session per worker, created once and reused for every batch
// (the reference pipelines' "broadcast the weights" step). Images go in as uint8 and are resized
// and normalised by nodes in front of the network, in the same runtime.
import { promises as fs } from 'node:fs';
import ort from 'onnxruntime-node';
import { buildPreprocessModel, FEATURE_OUTPUT, featurizerModel, IMAGE_INPUT, PREPROCESS_OUTPUT, withFeatureOutput } from './graph-edit.js';
import type { ResolvedModel } from './resolve.js';
import type { Device } from './device.js';

export interface SessionOptions {
  /** ONNX Runtime intra-op threads. */
  threads: number;
  device?: Device;
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

export class Featurizer {
  private constructor(
    readonly model: ResolvedModel,
    /** Images in, features out: the network with the preprocessing spliced in front… */
    private readonly session: ort.InferenceSession,
    /** …or, for networks whose opset is too old for that, a separate preprocessing model run first. */
    private readonly preprocess?: ort.InferenceSession,
  ) {}

  static async load(model: ResolvedModel, opts: SessionOptions): Promise<Featurizer> {
    const { bytes, spliced } = await editedModel(model, (b) => featurizerModel(b, model.spec));
    const so = sessionOptions(opts);
    const session = await ort.InferenceSession.create(bytes, so);
    const expected = spliced ? IMAGE_INPUT : model.spec.input.name;
    if (!session.inputNames.includes(expected)) {
      await session.release();
      throw new Error(`model ${model.spec.id}: input '${model.spec.input.name}' not found (inputs: ${session.inputNames.join(', ')})`);
    }
    const preprocess = spliced ? undefined : await ort.InferenceSession.create(buildPreprocessModel(model.spec), so);
    return new Featurizer(model, session, preprocess);
  }

  get dim(): number {
    return this.model.spec.feature.dim;
  }

  /** Features of a batch of images, n × dim row-major. */
  async featurize(batch: ImageBatch): Promise<Float32Array> {
    const n = batch.images.length;
    const frame = batch.width * batch.height * 3;
    const data = new Uint8Array(n * frame);
    batch.images.forEach((img, i) => {
      if (img.length !== frame) throw new Error(`image ${i} of the batch is not ${batch.width}×${batch.height}×3`);
      data.set(img, i * frame);
    });
    const image = new ort.Tensor('uint8', data, [n, batch.height, batch.width, 3]);
    const feeds = this.preprocess
      ? { [this.model.spec.input.name]: (await this.preprocess.run({ [IMAGE_INPUT]: image }))[PREPROCESS_OUTPUT] }
      : { [IMAGE_INPUT]: image };
    const t = (await this.session.run(feeds))[FEATURE_OUTPUT];
    if (t.dims.length !== 2 || t.dims[0] !== n || t.dims[1] !== this.dim) {
      throw new Error(`model ${this.model.spec.id}: feature tensor has shape [${t.dims.join(', ')}], expected [${n}, ${this.dim}]`);
    }
    return t.data as Float32Array;
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
    await this.preprocess?.release();
    await this.session.release();
  }
}
