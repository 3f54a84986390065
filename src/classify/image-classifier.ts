// Photos → labels in this process: decode (sharp) → featurize (ONNX Runtime) → bundle scores.
// Used by `fruits predict` and the HTTP server. Decoding is the pipeline's own (same EXIF,
// colour and size handling as `fruits featurize`), so a photo gets the features it would get in
// a dataset and the classifier sees what it was trained on.
import { decodeImage, type DecodedImage } from '../decode/decode.js';
import type { Device } from '../model/device.js';
import { Featurizer } from '../model/featurizer.js';
import type { Bundle } from './bundle.js';
import { topClasses } from './classifier.js';
import { scoreFeatures } from './inputs.js';
import { noveltyOf, topScoresOf } from './novelty.js';
import { resolveBundleModel } from './model-file.js';

export interface Prediction {
  label: string;
  score: number;
}

/** One photo's answer: its best labels and, when the bundle has novelty data, how unlike the training photos it is. */
export interface Classified {
  predictions: Prediction[];
  /** Higher = less like the training data (see novelty.ts); absent for bundles without novelty data. */
  novelty?: number;
  /** The bundle does not recognise the photo: novelty above the threshold fixed at training. */
  unknown?: boolean;
  /** The photo's raw features, when asked for (serve --log-features); never sent to clients. */
  features?: Float32Array;
}

export interface LoadOptions {
  /** An .onnx file to use instead of looking up the bundle's model. */
  model?: string;
  threads: number;
  device?: Device;
  log?: (m: string) => void;
}

export class ImageClassifier {
  private constructor(
    readonly bundle: Bundle,
    private readonly featurizer: Featurizer,
  ) {}

  static async load(bundle: Bundle, opts: LoadOptions): Promise<ImageClassifier> {
    const model = await resolveBundleModel(bundle, opts.model, opts.log);
    const featurizer = await Featurizer.load(model, { threads: opts.threads, device: opts.device });
    return new ImageClassifier(bundle, featurizer);
  }

  /** The network's input size: photos over twice its area are shrunk to it while decoding. */
  get inputSize(): { width: number; height: number } {
    const { width, height } = this.bundle.featurizer.spec.input;
    return { width, height };
  }

  /** Throws DecodeError (with a reason) for anything that is not a usable image. */
  decode(bytes: Buffer, maxPixels: number): Promise<DecodedImage> {
    return decodeImage(bytes, this.inputSize, { maxPixels });
  }

  /** Raw features of decoded images, n × dim; images are grouped by size (one inference each). */
  async features(images: readonly DecodedImage[]): Promise<Float32Array> {
    const dim = this.featurizer.dim;
    const out = new Float32Array(images.length * dim);
    const groups = new Map<string, number[]>();
    images.forEach((img, i) => {
      const key = `${img.width}x${img.height}`;
      const g = groups.get(key);
      if (g) g.push(i);
      else groups.set(key, [i]);
    });
    for (const members of groups.values()) {
      const first = images[members[0]];
      const f = await this.featurizer.featurize({ width: first.width, height: first.height, images: members.map((i) => images[i].pixels) });
      members.forEach((row, j) => out.set(f.subarray(j * dim, (j + 1) * dim), row * dim));
    }
    return out;
  }

  /** The `top` best labels of each image, best first, and its novelty (and its features, if asked). */
  async classify(images: readonly DecodedImage[], top: number, opts: { features?: boolean } = {}): Promise<Classified[]> {
    if (images.length === 0) return [];
    const features = await this.features(images);
    const ranked = await this.rank(features, images.length, top);
    if (!opts.features) return ranked;
    const dim = this.featurizer.dim;
    return ranked.map((r, i) => ({ ...r, features: features.slice(i * dim, (i + 1) * dim) }));
  }

  async rank(features: Float32Array, n: number, top: number): Promise<Classified[]> {
    const scores = await scoreFeatures(this.bundle, features, n);
    const classes = this.bundle.labels.length;
    const k = Math.min(top, classes);
    const novelty = this.bundle.novelty ? await noveltyOf(this.bundle.novelty, features, topScoresOf(scores, n, classes), n) : undefined;
    return Array.from({ length: n }, (_, i) => ({
      predictions: topClasses(scores, i, classes, k).map((r) => ({ label: this.bundle.labels[r.index], score: r.score })),
      ...(novelty ? { novelty: Math.round(novelty.novelty[i] * 1e4) / 1e4, unknown: novelty.unknown[i] } : {}),
    }));
  }

  release(): Promise<void> {
    return this.featurizer.release();
  }
}
