// The featurizer: one ONNX Runtime session per worker, created once and reused for every batch
// (the reference pipelines' "broadcast the weights" step), behind a preprocessing session that
// resizes and normalises uint8 images in the same runtime.
import { promises as fs } from 'node:fs';
import ort from 'onnxruntime-node';
import { buildPreprocessModel, FEATURE_OUTPUT, IMAGE_INPUT, PREPROCESS_OUTPUT, withFeatureOutput } from './graph-edit.js';
import type { ResolvedModel } from './resolve.js';

export type Device = 'cpu' | 'cuda';

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

function sessionOptions(opts: SessionOptions): ort.InferenceSession.SessionOptions {
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

export class Featurizer {
  private constructor(
    readonly model: ResolvedModel,
    private readonly preprocess: ort.InferenceSession,
    private readonly network: ort.InferenceSession,
  ) {}

  static async load(model: ResolvedModel, opts: SessionOptions): Promise<Featurizer> {
    const bytes = await fs.readFile(model.path);
    let networkBytes: Uint8Array;
    try {
      networkBytes = withFeatureOutput(bytes, model.spec.feature.tensor);
    } catch (err) {
      throw new Error(`model ${model.spec.id}: ${(err as Error).message}`);
    }
    const so = sessionOptions(opts);
    const preprocess = await ort.InferenceSession.create(buildPreprocessModel(model.spec), so);
    const network = await ort.InferenceSession.create(networkBytes, so);
    if (!network.inputNames.includes(model.spec.input.name)) {
      throw new Error(`model ${model.spec.id}: input '${model.spec.input.name}' not found (inputs: ${network.inputNames.join(', ')})`);
    }
    return new Featurizer(model, preprocess, network);
  }

  get dim(): number {
    return this.model.spec.feature.dim;
  }

  /** Model input tensor (float32, the model's layout) for a batch of images. */
  async prepare(batch: ImageBatch): Promise<ort.Tensor> {
    const n = batch.images.length;
    const frame = batch.width * batch.height * 3;
    const data = new Uint8Array(n * frame);
    batch.images.forEach((img, i) => {
      if (img.length !== frame) throw new Error(`image ${i} of the batch is not ${batch.width}×${batch.height}×3`);
      data.set(img, i * frame);
    });
    const image = new ort.Tensor('uint8', data, [n, batch.height, batch.width, 3]);
    const out = await this.preprocess.run({ [IMAGE_INPUT]: image });
    return out[PREPROCESS_OUTPUT];
  }

  /** Raw network inference on an already prepared input: features, n × dim row-major. */
  async infer(input: ort.Tensor): Promise<Float32Array> {
    const out = await this.network.run({ [this.model.spec.input.name]: input });
    const t = out[FEATURE_OUTPUT];
    const n = input.dims[0];
    if (t.dims.length !== 2 || t.dims[0] !== n || t.dims[1] !== this.dim) {
      throw new Error(`model ${this.model.spec.id}: feature tensor has shape [${t.dims.join(', ')}], expected [${n}, ${this.dim}]`);
    }
    return t.data as Float32Array;
  }

  async featurize(batch: ImageBatch): Promise<Float32Array> {
    return this.infer(await this.prepare(batch));
  }

  async release(): Promise<void> {
    await this.preprocess.release();
    await this.network.release();
  }
}
