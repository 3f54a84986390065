// `fruits export`: the one-file model (photo → probabilities) against `fruits predict`'s own path
// (ImageClassifier: the featurizer session, then PCA, standardisation, classifier) on the same
// decoded pixels of every photo of the mini Test set, for a logistic regression with PCA and a
// k-NN without; its metadata; and the bad inputs (old-opset network, existing file, bad name).
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { readBundle, writeBundle, type Bundle } from '../src/classify/bundle.js';
import { topClasses } from '../src/classify/classifier.js';
import { ImageClassifier } from '../src/classify/image-classifier.js';
import { decodeImage, type DecodedImage } from '../src/decode/decode.js';
import { decodeModel, encodeModel, setDefaultOpset } from '../src/onnx/proto.js';
import { serializePcaModel } from '../src/pca/model.js';
import { sha256Hex } from '../src/util/hash.js';
import { errorLines, runCli, show } from './helpers/cli.js';
import { onnxMetadata } from './helpers/onnx.js';
import { miniTestClasses, miniTestDir, miniTestImages, sharedModelPath } from './helpers/paths.js';
import { miniFeatures, trainBundle } from './classify-fixtures.js';

const BATCH = 32;

interface Photo {
  path: string;
  image: DecodedImage;
}

async function decodedTestSet(size: { width: number; height: number }): Promise<Photo[]> {
  const photos: Photo[] = [];
  for (const c of await miniTestClasses()) {
    for (const f of await miniTestImages(c)) {
      const file = path.join(miniTestDir, c, f);
      photos.push({ path: `${c}/${f}`, image: await decodeImage(await fs.readFile(file), size, { maxPixels: 1e8 }) });
    }
  }
  return photos;
}

/** Same-size runs of photos, as one uint8 [n, H, W, 3] tensor each. */
function batches(photos: Photo[]): { start: number; tensor: ort.Tensor }[] {
  const out: { start: number; tensor: ort.Tensor }[] = [];
  for (let start = 0; start < photos.length; ) {
    const { width, height } = photos[start].image;
    let end = start;
    while (end < photos.length && end - start < BATCH && photos[end].image.width === width && photos[end].image.height === height) end++;
    const pixels = new Uint8Array((end - start) * width * height * 3);
    for (let i = start; i < end; i++) pixels.set(photos[i].image.pixels, (i - start) * width * height * 3);
    out.push({ start, tensor: new ort.Tensor('uint8', pixels, [end - start, height, width, 3]) });
    start = end;
  }
  return out;
}

interface Comparison {
  agree: number;
  total: number;
  /** Disagreements with predict's margin between its two best classes. */
  disagreements: { path: string; predict: string; exported: string; margin: number }[];
  /** Largest |p_export − p_predict| over all photos and classes. */
  worstProbability: number;
  /** Largest |novelty_export − novelty_predict| (predict rounds it to 1e-4). */
  worstNovelty: number;
}

async function compare(bundle: Bundle, file: string, photos: Photo[]): Promise<Comparison> {
  const classifier = await ImageClassifier.load(bundle, { model: sharedModelPath, threads: os.availableParallelism() });
  const session = await ort.InferenceSession.create(file);
  const C = bundle.labels.length;
  const result: Comparison = { agree: 0, total: photos.length, disagreements: [], worstProbability: 0, worstNovelty: 0 };
  try {
    assert.deepEqual(session.inputNames, ['image']);
    assert.deepEqual(session.outputNames, bundle.novelty ? ['probabilities', 'novelty'] : ['probabilities']);
    for (const { start, tensor } of batches(photos)) {
      const n = tensor.dims[0];
      const group = photos.slice(start, start + n);
      const outputs = await session.run({ image: tensor });
      const out = outputs.probabilities as ort.Tensor;
      assert.deepEqual(out.dims, [n, C]);
      const exported = out.data as Float32Array;
      const predicted = await classifier.classify(
        group.map((p) => p.image),
        C,
      );
      const novelty = outputs.novelty as ort.Tensor | undefined;
      group.forEach((p, i) => {
        const mine = topClasses(exported, i, C, 1)[0];
        const theirs = predicted[i].predictions;
        if (novelty) result.worstNovelty = Math.max(result.worstNovelty, Math.abs((novelty.data as Float32Array)[i] - predicted[i].novelty!));
        for (const q of theirs) {
          const j = bundle.labels.indexOf(q.label);
          result.worstProbability = Math.max(result.worstProbability, Math.abs(exported[i * C + j] - q.score));
        }
        if (bundle.labels[mine.index] === theirs[0].label) result.agree++;
        else result.disagreements.push({ path: p.path, predict: theirs[0].label, exported: bundle.labels[mine.index], margin: theirs[0].score - theirs[1].score });
      });
    }
  } finally {
    await session.release();
    await classifier.release();
  }
  return result;
}

function assertAgreement(c: Comparison, what: string): void {
  const rate = c.agree / c.total;
  // Disagreements only where predict itself hesitates between its two best classes.
  const unexplained = c.disagreements.filter((d) => d.margin > 1e-3);
  assert.deepEqual(unexplained, [], `${what}: disagreements that are not near-ties`);
  assert.ok(rate >= 0.995, `${what}: top-1 agreement ${(rate * 100).toFixed(2)} % (${JSON.stringify(c.disagreements)})`);
}

function oneLineError(r: Awaited<ReturnType<typeof runCli>>, code: number, message: RegExp): void {
  assert.equal(r.code, code, show(r));
  const lines = errorLines(r.stderr);
  assert.equal(lines.length, 1, show(r));
  assert.match(lines[0], /^fruits: error: /);
  assert.match(lines[0], message);
}

describe('fruits export', { timeout: 30 * 60_000 }, () => {
  let dir: string;
  let photos: Photo[];

  before(async () => {
    const data = await miniFeatures();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fruits-export-'));
    await trainBundle(data.train, path.join(dir, 'logreg-pca'), ['--holdout', '0', '--pca-k', '64']);
    await trainBundle(data.train, path.join(dir, 'knn'), ['--holdout', '0', '--classifier', 'knn', '--k', '5']);
    photos = await decodedTestSet({ width: 224, height: 224 });
  });
  after(async () => {
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  test('logreg + PCA: same top-1 as predict on the mini Test set; metadata names the labels and the bundle', async () => {
    const bundleDir = path.join(dir, 'logreg-pca');
    const file = path.join(dir, 'logreg-pca.onnx');
    const r = await runCli(['export', bundleDir, file, '--json']);
    assert.equal(r.code, 0, show(r));
    const summary = JSON.parse(r.stdout) as { bytes: number; classes: number; novelty: boolean };
    const bytes = await fs.readFile(file);
    assert.equal(summary.bytes, bytes.length);
    assert.equal(summary.novelty, false);
    const bundle = await readBundle(bundleDir);
    const meta = onnxMetadata(bytes);
    assert.deepEqual(JSON.parse(meta['fruits.labels']), bundle.labels);
    assert.equal(meta['fruits.model_sha256'], bundle.featurizer.sha256);
    assert.equal(meta['fruits.bundle.training_dataset'], bundle.training.dataset);
    assert.equal(meta['fruits.bundle.created_at'], bundle.manifest.createdAt);
    assert.equal(meta['fruits.bundle.pca_k'], '64');
    assert.match(meta['fruits.novelty'], /^none/);

    const c = await compare(bundle, file, photos);
    console.log(`logreg+PCA: ${c.agree}/${c.total} agree; largest probability difference ${c.worstProbability.toExponential(2)}; disagreements ${JSON.stringify(c.disagreements)}`);
    assertAgreement(c, 'logreg+PCA');
    assert.ok(c.worstProbability < 1e-3, `probabilities differ by up to ${c.worstProbability}`);
  });

  test('--quantize int8: a file under 30 % of the size, top-1 accuracy within 0.5 point of float32', async () => {
    const bundleDir = path.join(dir, 'logreg-pca');
    const float32 = path.join(dir, 'logreg-pca.onnx');
    const int8 = path.join(dir, 'logreg-pca-int8.onnx');
    if (!existsSync(float32)) assert.equal((await runCli(['export', bundleDir, float32])).code, 0);
    const r = await runCli(['export', bundleDir, int8, '--quantize', 'int8', '--json']);
    assert.equal(r.code, 0, show(r));
    const [a, b] = [(await fs.stat(float32)).size, (await fs.stat(int8)).size];
    assert.ok(b < 0.3 * a, `int8 ${b} bytes, float32 ${a}`);
    assert.match(onnxMetadata(await fs.readFile(int8))['fruits.quantization'], /^int8 weights/);
    const truth = photos.map((p) => p.path.split('/')[0]);
    const accuracy = async (file: string) => {
      const session = await ort.InferenceSession.create(file);
      const labels = JSON.parse(onnxMetadata(await fs.readFile(file))['fruits.labels']) as string[];
      let right = 0;
      try {
        for (const { start, tensor } of batches(photos)) {
          const out = ((await session.run({ image: tensor })).probabilities as ort.Tensor).data as Float32Array;
          for (let i = 0; i < tensor.dims[0]; i++) if (labels[topClasses(out, i, labels.length, 1)[0].index] === truth[start + i]) right++;
        }
      } finally {
        await session.release();
      }
      return right / photos.length;
    };
    const [fa, qa] = [await accuracy(float32), await accuracy(int8)];
    console.log(`int8: ${(b / 2 ** 20).toFixed(2)} MiB vs ${(a / 2 ** 20).toFixed(2)} MiB; top-1 ${(qa * 100).toFixed(2)} % vs ${(fa * 100).toFixed(2)} %`);
    assert.ok(Math.abs(qa - fa) <= 0.005, `int8 top-1 ${qa}, float32 ${fa}`);
    assert.equal((await runCli(['export', bundleDir, path.join(dir, 'x.onnx'), '--quantize', 'int4'])).code, 2);
  });

  test('a bundle with novelty data: a novelty output equal to predict\'s, its threshold in the metadata', async () => {
    const data = await miniFeatures();
    const bundleDir = path.join(dir, 'novelty');
    await trainBundle(data.train, bundleDir, ['--pca-k', '64']);
    const bundle = await readBundle(bundleDir);
    assert.ok(bundle.novelty, 'trained with a held-out slice: the bundle has novelty data');
    const file = path.join(dir, 'novelty.onnx');
    const r = await runCli(['export', bundleDir, file, '--json']);
    assert.equal(r.code, 0, show(r));
    assert.equal((JSON.parse(r.stdout) as { novelty: boolean }).novelty, true);
    const meta = onnxMetadata(await fs.readFile(file));
    assert.equal(Number(meta['fruits.novelty.threshold']), bundle.novelty.threshold);
    const session = await ort.InferenceSession.create(file);
    assert.deepEqual(session.outputNames, ['probabilities', 'novelty']);
    await session.release();
    const c = await compare(bundle, file, photos);
    console.log(`novelty bundle: ${c.agree}/${c.total} agree; largest novelty difference ${c.worstNovelty.toExponential(2)}`);
    assertAgreement(c, 'logreg+PCA with novelty');
    assert.ok(c.worstNovelty < 2e-3, `novelty differs by up to ${c.worstNovelty}`);
  });

  test('k-NN: same top-1 as predict (vote shares out)', async () => {
    const bundleDir = path.join(dir, 'knn');
    const file = path.join(dir, 'knn.onnx');
    const r = await runCli(['export', bundleDir, file]);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /knn\.onnx: [\d.]+ MiB, 119 classes \(knn\).*no novelty output/);
    const bundle = await readBundle(bundleDir);
    const c = await compare(bundle, file, photos);
    console.log(`k-NN: ${c.agree}/${c.total} agree; largest score difference ${c.worstProbability.toExponential(2)}; disagreements ${JSON.stringify(c.disagreements)}`);
    assertAgreement(c, 'k-NN');
  });

  test('an old-opset network is one clear line; an existing file is kept; a name without .onnx is a usage error', async () => {
    // The shared network, declared opset 12: a bundle whose model cannot take the spliced preprocessing.
    const model = decodeModel(await fs.readFile(sharedModelPath));
    setDefaultOpset(model, 12);
    const oldFile = path.join(dir, 'old-opset.onnx');
    const oldBytes = encodeModel(model);
    await fs.writeFile(oldFile, oldBytes);
    const sha = sha256Hex(oldBytes);
    const b = await readBundle(path.join(dir, 'logreg-pca'));
    const pcaModel = { ...b.pca!.model, featurizer: { ...b.pca!.model.featurizer, sha256: sha } };
    await writeBundle(path.join(dir, 'old-bundle'), {
      ...b,
      featurizer: { ...b.featurizer, sha256: sha },
      pca: { model: pcaModel, text: serializePcaModel(pcaModel) },
    });
    const out = path.join(dir, 'old.onnx');
    oneLineError(await runCli(['export', path.join(dir, 'old-bundle'), out, '--model', oldFile]), 1, /cannot take the preprocessing in front \(its opset is 12, the spliced preprocessing needs 13 or later\); convert it first/);
    assert.equal(existsSync(out), false);
    assert.deepEqual((await fs.readdir(dir)).filter((n) => n.includes('tmp')), [], 'no temporary file left');

    const existing = path.join(dir, 'existing.onnx');
    await fs.writeFile(existing, 'keep me');
    oneLineError(await runCli(['export', path.join(dir, 'knn'), existing]), 1, /already exists; pass --overwrite/);
    assert.equal(await fs.readFile(existing, 'utf8'), 'keep me');
    oneLineError(await runCli(['export', path.join(dir, 'knn'), path.join(dir, 'model.bin')]), 2, /must end in \.onnx/);
    oneLineError(await runCli(['export', path.join(dir, 'nothing-here'), path.join(dir, 'x.onnx')]), 1, /no such bundle/);
  });
});
