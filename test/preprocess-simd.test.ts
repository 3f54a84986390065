// The SIMD preprocessing against the graph nodes it stands in for: bit-identical model inputs on
// real photos and on random pixels of many sizes, and bit-identical features through the featurizer.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { decodeImage } from '../src/decode/decode.js';
import { Featurizer } from '../src/model/featurizer.js';
import { buildPreprocessModel, IMAGE_INPUT, PREPROCESS_OUTPUT } from '../src/model/graph-edit.js';
import { SimdPreprocessor } from '../src/model/preprocess-simd.js';
import { MOBILENET_V2_SHARED, MOBILENET_V2_ZOO } from '../src/model/registry.js';
import { withInputSize, type ModelSpec } from '../src/model/spec.js';
import { miniTestDir, SHARED_MODEL_SHA256, sharedModelPath } from './helpers/paths.js';

const cpu: ort.InferenceSession.SessionOptions = { executionProviders: ['cpu'], intraOpNumThreads: 1 };

function randomImages(count: number, width: number, height: number, seed: number): Uint8Array[] {
  let s = seed;
  return Array.from({ length: count }, () => Uint8Array.from({ length: width * height * 3 }, () => ((s = (s * 1103515245 + 12345) & 0x7fffffff) >> 16) & 255));
}

/** The graph's model input for these images (ORT's Cast, Mul, Add, Resize). */
async function graphInput(spec: ModelSpec, images: Uint8Array[], width: number, height: number): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(buildPreprocessModel(spec), cpu);
  try {
    const frame = width * height * 3;
    const data = new Uint8Array(images.length * frame);
    images.forEach((img, i) => data.set(img, i * frame));
    const out = await session.run({ [IMAGE_INPUT]: new ort.Tensor('uint8', data, [images.length, height, width, 3]) });
    return out[PREPROCESS_OUTPUT].data as Float32Array;
  } finally {
    await session.release();
  }
}

function assertSameBits(got: Float32Array, want: Float32Array, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let unequal = 0;
  for (let i = 0; i < got.length; i++) if (!Object.is(got[i], want[i])) unequal++;
  assert.equal(unequal, 0, `${what}: ${unequal} of ${got.length} values differ`);
}

/** Decoded photos of the mini dataset, one per class folder (100×100). */
async function realPhotos(count: number): Promise<Uint8Array[]> {
  const dirs = (await fs.readdir(miniTestDir)).sort().slice(0, count);
  return Promise.all(
    dirs.map(async (d) => {
      const f = (await fs.readdir(path.join(miniTestDir, d))).sort()[0];
      const img = await decodeImage(await fs.readFile(path.join(miniTestDir, d, f)), { width: 224, height: 224 }, { maxPixels: 1e8 });
      assert.equal(img.width, 100);
      return img.pixels;
    }),
  );
}

describe('SimdPreprocessor', () => {
  it('gives the graph preprocessing bit for bit: photo sizes up, down, odd, tiny; both normalisations', async () => {
    const cases: [number, number, ModelSpec][] = [
      [100, 100, MOBILENET_V2_SHARED],
      [100, 100, withInputSize(MOBILENET_V2_SHARED, 128)],
      [100, 100, withInputSize(MOBILENET_V2_SHARED, 96)], // a slight downscale
      [131, 97, MOBILENET_V2_SHARED],
      [300, 448, MOBILENET_V2_SHARED], // the decoder's largest: twice the input size
      [3, 2, withInputSize(MOBILENET_V2_SHARED, 160)],
      [1, 1, MOBILENET_V2_SHARED],
      [100, 100, MOBILENET_V2_ZOO], // ImageNet mean/std per channel
    ];
    let seed = 1;
    for (const [width, height, spec] of cases) {
      const pre = new SimdPreprocessor(spec);
      assert.ok(pre.accepts(width, height), `${width}×${height} → ${spec.input.width}`);
      const images = randomImages(3, width, height, seed++);
      assertSameBits(pre.batch(images, width, height), await graphInput(spec, images, width, height), `${width}×${height} → ${spec.input.width} (${spec.normalize.kind})`);
    }
  });

  it('gives the graph preprocessing bit for bit on real photos, batch after batch in one memory', async () => {
    const photos = await realPhotos(24);
    const pre = new SimdPreprocessor(MOBILENET_V2_SHARED);
    for (let at = 0; at < photos.length; at += 8) {
      const batch = photos.slice(at, at + 8);
      assertSameBits(pre.batch(batch, 100, 100), await graphInput(MOBILENET_V2_SHARED, batch, 100, 100), `photos ${at}…`);
    }
    // A size change between batches rebuilds the tables (and grows the memory).
    const big = randomImages(2, 300, 448, 9);
    assertSameBits(pre.batch(big, 300, 448), await graphInput(MOBILENET_V2_SHARED, big, 300, 448), 'a larger size next');
    assertSameBits(pre.batch(photos.slice(0, 3), 100, 100), await graphInput(MOBILENET_V2_SHARED, photos.slice(0, 3), 100, 100), 'back to 100×100');
  });

  it('refuses what its window cannot gather, and models it cannot feed', () => {
    const pre = new SimdPreprocessor(MOBILENET_V2_SHARED);
    assert.equal(pre.accepts(1000, 100), false, 'a 4.5× downscale needs more than eight inputs per four outputs');
    assert.equal(pre.accepts(0, 100), false);
    assert.equal(SimdPreprocessor.supports({ ...MOBILENET_V2_SHARED, input: { ...MOBILENET_V2_SHARED.input, layout: 'NHWC' } }), false);
    assert.equal(SimdPreprocessor.supports(withInputSize(MOBILENET_V2_SHARED, 226)), false, 'a width not divisible by 4');
  });
});

describe('Featurizer preprocessing paths', () => {
  const model = { spec: MOBILENET_V2_SHARED, path: sharedModelPath, sha256: SHARED_MODEL_SHA256 };
  let simd: Featurizer;
  let graph: Featurizer;

  before(async () => {
    simd = await Featurizer.load(model, { threads: 1 });
    graph = await Featurizer.load(model, { threads: 1, preprocessing: 'graph' });
  });
  after(async () => {
    await simd.release();
    await graph.release();
  });

  it('gives bit-identical features on real photos, also for calls made at once', async () => {
    const photos = await realPhotos(16);
    const batches = [photos.slice(0, 8), photos.slice(8, 16), photos.slice(3, 6)];
    // Concurrent calls share the preprocessor's memory: each batch must still get its own features.
    const got = await Promise.all(batches.map((images) => simd.featurize({ width: 100, height: 100, images })));
    for (const [i, images] of batches.entries()) {
      assertSameBits(got[i], await graph.featurize({ width: 100, height: 100, images }), `batch ${i}`);
    }
  });

  it('sends a size the kernel refuses through the graph, with the same features', async () => {
    const images = randomImages(2, 1000, 100, 5);
    assertSameBits(await simd.featurize({ width: 1000, height: 100, images }), await graph.featurize({ width: 1000, height: 100, images }), '1000×100');
  });
});
