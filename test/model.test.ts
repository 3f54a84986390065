// Models: spec validation, normalisation maths, the registry, where the model file is found
// (--model file → FRUITS_MODEL_DIR → cache → download, verified by sha256), the graph edit that
// exposes an internal feature tensor, and the preprocessing graph against a plain JS reference.
import assert from 'node:assert/strict';
import { createReadStream, existsSync, promises as fs } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { decodeImage } from '../src/decode/decode.js';
import { Featurizer } from '../src/model/featurizer.js';
import { buildPreprocessModel, FEATURE_OUTPUT, featurizerModel, IMAGE_INPUT, PREPROCESS_OUTPUT, withFeatureOutput } from '../src/model/graph-edit.js';
import { decodeModel, encodeModel, setDefaultOpset } from '../src/onnx/proto.js';
import { MOBILENET_V2_SHARED, MOBILENET_V2_ZOO, REGISTRY, registryEntry } from '../src/model/registry.js';
import { defaultCacheDir, resolveModel } from '../src/model/resolve.js';
import { channelAffine, parseModelSpec, type ModelSpec } from '../src/model/spec.js';
import { UserError } from '../src/util/errors.js';
import { featurize } from './helpers/cli.js';
import { makeImage } from './helpers/corpus.js';
import { footerMetadata } from './helpers/duckdb.js';
import { linkSubset, miniTestDir, SHARED_MODEL_SHA256, sharedModelPath, tempDir } from './helpers/paths.js';

const validSpec = (): Record<string, unknown> => ({
  id: 'my-model_1.0',
  file: 'my-model.onnx',
  sha256: 'a'.repeat(64),
  input: { name: 'input', layout: 'NCHW', width: 224, height: 224 },
  normalize: { kind: 'mean_std', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  feature: { tensor: 'pool', dim: 1280 },
});

describe('parseModelSpec', () => {
  it('accepts a complete spec', () => {
    const s = parseModelSpec(validSpec(), 'spec.json');
    assert.equal(s.id, 'my-model_1.0');
    assert.equal(s.feature.dim, 1280);
  });

  const bad: [string, (s: Record<string, any>) => void, RegExp][] = [
    ['a missing input', (s) => delete s.input, /spec\.json: invalid model spec: input: /],
    ['an id with a slash', (s) => (s.id = 'a/b'), /id: model id: letters, digits/],
    ['a short sha256', (s) => (s.sha256 = 'abc'), /sha256: /],
    ['an unknown layout', (s) => (s.input.layout = 'CHWN'), /input\.layout: /],
    ['a zero width', (s) => (s.input.width = 0), /input\.width: /],
    ['a negative std', (s) => (s.normalize.std = [0.2, -0.2, 0.2]), /normalize\.std\.1: /],
    ['an unknown normalisation', (s) => (s.normalize = { kind: 'imagenet' }), /normalize(\.kind)?: /],
    ['a feature dim that is not an integer', (s) => (s.feature.dim = 12.5), /feature\.dim: /],
    ['a url that is not one', (s) => (s.url = 'not a url'), /url: /],
  ];
  for (const [what, edit, message] of bad) {
    it(`rejects ${what} with the field's path in one line`, () => {
      const s = validSpec() as Record<string, any>;
      edit(s);
      assert.throws(
        () => parseModelSpec(s, 'spec.json'),
        (err: Error) => message.test(err.message) && !err.message.includes('\n'),
      );
    });
  }

  it('rejects something that is not an object', () => {
    assert.throws(() => parseModelSpec(42, 'x.json'), /x\.json: invalid model spec: \(root\)/);
  });
});

describe('channelAffine', () => {
  it('maps pixels as scale_offset says: 0 → -1, 255 → 1 for MobileNetV2', () => {
    const { scale, offset } = channelAffine(MOBILENET_V2_SHARED.normalize);
    for (let c = 0; c < 3; c++) {
      assert.ok(Math.abs(0 * scale[c] + offset[c] - -1) < 1e-12);
      assert.ok(Math.abs(255 * scale[c] + offset[c] - 1) < 1e-12);
      assert.ok(Math.abs(127.5 * scale[c] + offset[c]) < 1e-12);
    }
  });

  it('maps pixels as mean_std says: (p / 255 - mean[c]) / std[c], per channel', () => {
    const n = { kind: 'mean_std' as const, mean: [0.485, 0.456, 0.406] as [number, number, number], std: [0.229, 0.224, 0.225] as [number, number, number] };
    const { scale, offset } = channelAffine(n);
    for (const p of [0, 1, 100, 200, 255]) {
      for (let c = 0; c < 3; c++) {
        const expected = (p / 255 - n.mean[c]) / n.std[c];
        assert.ok(Math.abs(p * scale[c] + offset[c] - expected) < 1e-12, `p=${p} c=${c}`);
      }
    }
    assert.notEqual(scale[0], scale[1], 'channels differ');
  });
});

describe('registry', () => {
  it('finds entries by id and by sha256', () => {
    assert.equal(registryEntry('mobilenet_v2_1.0_224'), MOBILENET_V2_SHARED);
    assert.equal(registryEntry(SHARED_MODEL_SHA256), MOBILENET_V2_SHARED);
    assert.equal(registryEntry('mobilenetv2-7'), MOBILENET_V2_ZOO);
    assert.equal(registryEntry(MOBILENET_V2_ZOO.sha256!), MOBILENET_V2_ZOO);
    assert.equal(registryEntry('resnet50'), undefined);
    assert.equal(registryEntry('b'.repeat(64)), undefined);
  });

  it('holds only valid specs, the shared model first, with its real checksum', () => {
    for (const s of REGISTRY) parseModelSpec(s, s.id);
    assert.equal(REGISTRY[0].sha256, SHARED_MODEL_SHA256);
    assert.equal(MOBILENET_V2_SHARED.feature.dim, 1280);
  });
});

describe('resolveModel', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  const dir = (...p: string[]) => path.join(tmp.dir, ...p);
  const NAME = MOBILENET_V2_SHARED.file;

  before(async () => {
    tmp = await tempDir('resolve');
    // Symlinks to the shared model, so each location's path is distinct without 14 MB copies.
    for (const d of ['modeldir', 'cache/models', 'explicit', 'empty', 'emptycache']) await fs.mkdir(dir(d), { recursive: true });
    await fs.symlink(sharedModelPath, dir('modeldir', NAME));
    await fs.symlink(sharedModelPath, dir('cache', 'models', NAME));
    await fs.symlink(sharedModelPath, dir('explicit', 'renamed.onnx'));
  });
  after(() => tmp.cleanup());

  it('uses --model <file> first, and recognises it by its sha256', async () => {
    const m = await resolveModel({ model: dir('explicit', 'renamed.onnx'), modelDir: dir('modeldir'), cacheDir: dir('cache') });
    assert.equal(m.path, dir('explicit', 'renamed.onnx'));
    assert.equal(m.sha256, SHARED_MODEL_SHA256);
    assert.equal(m.spec.id, MOBILENET_V2_SHARED.id);
  });

  it('then the model folder (FRUITS_MODEL_DIR) before the cache', async () => {
    const m = await resolveModel({ modelDir: dir('modeldir'), cacheDir: dir('cache') });
    assert.equal(m.path, dir('modeldir', NAME));
    const saved = process.env.FRUITS_MODEL_DIR;
    process.env.FRUITS_MODEL_DIR = dir('modeldir');
    try {
      assert.equal((await resolveModel({ cacheDir: dir('cache') })).path, dir('modeldir', NAME), 'from the environment variable');
    } finally {
      if (saved === undefined) delete process.env.FRUITS_MODEL_DIR;
      else process.env.FRUITS_MODEL_DIR = saved;
    }
  });

  it('then the cache', async () => {
    const m = await resolveModel({ modelDir: dir('empty'), cacheDir: dir('cache') });
    assert.equal(m.path, dir('cache', 'models', NAME));
    assert.equal((await resolveModel({ model: 'mobilenet_v2_1.0_224', modelDir: dir('empty'), cacheDir: dir('cache') })).path, m.path, 'by id too');
  });

  it('says where it looked when the model is nowhere (and downloading is off)', async () => {
    await assert.rejects(resolveModel({ modelDir: dir('empty'), cacheDir: dir('emptycache'), download: false }), (err: Error) => {
      assert.ok(err instanceof UserError);
      assert.match(err.message, /no model file found/);
      assert.ok(err.message.includes(dir('empty')) && err.message.includes(dir('emptycache', 'models')), err.message);
      return true;
    });
  });

  it('refuses a file whose sha256 differs from the registry entry it stands for', async () => {
    await fs.mkdir(dir('tampered', 'models'), { recursive: true });
    await fs.writeFile(dir('tampered', 'models', NAME), 'not the model');
    await assert.rejects(resolveModel({ modelDir: dir('empty'), cacheDir: dir('tampered'), download: false }), /does not match the expected a8961673/);
  });

  it('refuses an unknown model file without a spec, and takes a spec from --model-spec or a sidecar .json', async () => {
    const custom = dir('custom', 'tiny.onnx');
    await fs.mkdir(path.dirname(custom), { recursive: true });
    await fs.writeFile(custom, buildPreprocessModel(MOBILENET_V2_SHARED)); // any ONNX file the registry does not know
    await assert.rejects(resolveModel({ model: custom }), /is not a known model: describe it with --model-spec/);

    const spec = { ...validSpec(), id: 'tiny', file: 'tiny.onnx', sha256: undefined };
    await fs.writeFile(dir('custom', 'spec.json'), JSON.stringify(spec));
    assert.equal((await resolveModel({ model: custom, specFile: dir('custom', 'spec.json') })).spec.id, 'tiny');

    await fs.writeFile(dir('custom', 'tiny.json'), JSON.stringify({ ...spec, id: 'tiny-sidecar' }));
    assert.equal((await resolveModel({ model: custom })).spec.id, 'tiny-sidecar');
  });

  it('reports a missing model file, an unknown id and a broken spec file in one line each', async () => {
    await assert.rejects(resolveModel({ model: dir('nope.onnx') }), /model .*nope\.onnx: no such file/);
    await assert.rejects(resolveModel({ model: 'resnet-9000' }), /neither a file nor a known model id \(known: mobilenet_v2_1\.0_224, mobilenetv2-7\)/);
    await fs.writeFile(dir('broken.json'), '{ not json');
    await assert.rejects(resolveModel({ specFile: dir('broken.json') }), /not valid JSON/);
    await fs.writeFile(dir('invalid.json'), JSON.stringify({ ...validSpec(), feature: { tensor: 'x' } }));
    await assert.rejects(resolveModel({ specFile: dir('invalid.json') }), /invalid model spec: feature\.dim/);
  });

  it('puts the cache under FRUITS_CACHE_DIR, else XDG_CACHE_HOME/fruits, else ~/.cache/fruits', () => {
    assert.equal(defaultCacheDir({ FRUITS_CACHE_DIR: '/x/y' }), '/x/y');
    assert.equal(defaultCacheDir({ XDG_CACHE_HOME: '/xdg' }), '/xdg/fruits');
    assert.match(defaultCacheDir({}), /\.cache[/\\]fruits$/);
  });
});

describe('download of a model with a URL (local HTTP server on 127.0.0.1)', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let server: http.Server;
  let base: string;
  const requests: string[] = [];

  before(async () => {
    tmp = await tempDir('download');
    await fs.mkdir(path.join(tmp.dir, 'empty'));
    server = http.createServer((req, res) => {
      requests.push(req.url ?? '');
      if (req.url?.startsWith('/models/') && req.url.endsWith('.onnx')) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        createReadStream(sharedModelPath).pipe(res);
      } else {
        res.writeHead(404).end('not found');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    await tmp.cleanup();
  });

  // A model the registry does not know by name, whose feature tensor is internal (t172 is the
  // GlobalAveragePool output) and which is only available from the URL.
  const servedSpec = (over: Partial<ModelSpec>): ModelSpec => ({
    ...MOBILENET_V2_SHARED,
    id: 'served-mobilenet',
    file: 'served.onnx',
    url: `${base}/models/served.onnx`,
    feature: { tensor: 't172', dim: 1280 },
    ...over,
  });
  const writeSpec = async (name: string, spec: ModelSpec) => {
    const file = path.join(tmp.dir, name);
    await fs.writeFile(file, JSON.stringify(spec));
    return file;
  };

  it('downloads into the cache, verifies the sha256, and uses the cached copy next time', async () => {
    const cacheDir = path.join(tmp.dir, 'cache1');
    const specFile = await writeSpec('served.json', servedSpec({}));
    const before = requests.length;
    const m = await resolveModel({ specFile, modelDir: path.join(tmp.dir, 'empty'), cacheDir });
    assert.equal(m.path, path.join(cacheDir, 'models', 'served.onnx'));
    assert.equal(m.sha256, SHARED_MODEL_SHA256);
    assert.equal(m.spec.id, 'served-mobilenet');
    assert.deepEqual(requests.slice(before), ['/models/served.onnx']);
    assert.deepEqual(await fs.readdir(path.join(cacheDir, 'models')), ['served.onnx'], 'no temporary file left');
    await resolveModel({ specFile, modelDir: path.join(tmp.dir, 'empty'), cacheDir });
    assert.equal(requests.length, before + 1, 'the second resolve uses the cache');
  });

  it('discards a download whose sha256 is wrong, and leaves nothing in the cache', async () => {
    const cacheDir = path.join(tmp.dir, 'cache2');
    const specFile = await writeSpec('wrong.json', servedSpec({ sha256: '0'.repeat(64) }));
    await assert.rejects(resolveModel({ specFile, modelDir: path.join(tmp.dir, 'empty'), cacheDir }), (err: Error) => {
      assert.ok(err instanceof UserError);
      assert.match(err.message, /downloaded file has sha256 a8961673\w+, expected 0{64}; discarded/);
      return true;
    });
    assert.deepEqual(await fs.readdir(path.join(cacheDir, 'models')), []);
  });

  it('reports an HTTP error, and leaves nothing in the cache', async () => {
    const cacheDir = path.join(tmp.dir, 'cache3');
    const specFile = await writeSpec('missing.json', servedSpec({ url: `${base}/nothing-here` }));
    await assert.rejects(resolveModel({ specFile, modelDir: path.join(tmp.dir, 'empty'), cacheDir }), /download from .* failed: HTTP 404/);
    assert.deepEqual(existsSync(path.join(cacheDir, 'models')) ? await fs.readdir(path.join(cacheDir, 'models')) : [], []);
  });

  it('refuses to download without a sha256 to verify', async () => {
    const specFile = await writeSpec('nosha.json', servedSpec({ sha256: undefined }));
    const before = requests.length;
    await assert.rejects(resolveModel({ specFile, modelDir: path.join(tmp.dir, 'empty'), cacheDir: path.join(tmp.dir, 'cache4') }), /refusing to download without a sha256/);
    assert.equal(requests.length, before);
  });

  it('is what `fruits featurize --model-spec` downloads and runs with, end to end', async () => {
    const cacheDir = path.join(tmp.dir, 'cache5');
    const input = path.join(tmp.dir, 'images');
    await linkSubset(input, ['Banana'], 3);
    const specFile = await writeSpec('cli.json', servedSpec({}));
    const before = requests.length;
    const out = path.join(tmp.dir, 'out');
    const s = await featurize([input, out, '--model-spec', specFile, '--workers', '1'], {
      env: { FRUITS_MODEL_DIR: path.join(tmp.dir, 'empty'), FRUITS_CACHE_DIR: cacheDir },
    });
    assert.equal(s.rows, 3);
    assert.equal(requests.length, before + 1, 'downloaded once');
    assert.ok(existsSync(path.join(cacheDir, 'models', 'served.onnx')));
    const meta = await footerMetadata(path.join(out, 'part-00000.parquet'));
    assert.equal(meta['fruits.model_id'], 'served-mobilenet');
    assert.equal(meta['fruits.model_sha256'], SHARED_MODEL_SHA256);
    assert.equal(meta['fruits.feature_dim'], '1280');
  });
});

// --- graph edits -----------------------------------------------------------------------------

const cpu: ort.InferenceSession.SessionOptions = { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1 };

async function fruitPhotos(n: number): Promise<Buffer[]> {
  const dirs = ['Banana', 'Apple Braeburn', 'Kiwi', 'Lemon'];
  const out: Buffer[] = [];
  for (const d of dirs.slice(0, n)) {
    const f = (await fs.readdir(path.join(miniTestDir, d))).sort()[0];
    out.push(await fs.readFile(path.join(miniTestDir, d, f)));
  }
  return out;
}

/** Decoded 100×100 photos stacked as a uint8 [N, H, W, 3] tensor. */
async function imageTensor(photos: Buffer[]): Promise<{ tensor: ort.Tensor; width: number; height: number; pixels: Uint8Array[] }> {
  const decoded = await Promise.all(photos.map((p) => decodeImage(p, { width: 224, height: 224 }, { maxPixels: 1e8 })));
  const { width, height } = decoded[0];
  const data = new Uint8Array(decoded.length * width * height * 3);
  decoded.forEach((d, i) => data.set(d.pixels, i * width * height * 3));
  return { tensor: new ort.Tensor('uint8', data, [decoded.length, height, width, 3]), width, height, pixels: decoded.map((d) => d.pixels) };
}

describe('withFeatureOutput', () => {
  let modelBytes: Buffer;
  let input: ort.Tensor;

  before(async () => {
    modelBytes = await fs.readFile(sharedModelPath);
    const pre = await ort.InferenceSession.create(buildPreprocessModel(MOBILENET_V2_SHARED), cpu);
    input = (await pre.run({ [IMAGE_INPUT]: (await imageTensor(await fruitPhotos(3))).tensor }))[PREPROCESS_OUTPUT];
    await pre.release();
  });

  async function features(tensor: string): Promise<ort.Tensor> {
    const session = await ort.InferenceSession.create(withFeatureOutput(modelBytes, tensor), cpu);
    try {
      assert.deepEqual(session.outputNames, [FEATURE_OUTPUT], 'the edited graph has the feature output only');
      return (await session.run({ input }))[FEATURE_OUTPUT];
    } finally {
      await session.release();
    }
  }

  it('exposes the internal pool tensor t172 ([N,1280,1,1]) as [N,1280], equal to the model\'s own `features` output', async () => {
    const internal = await features('t172');
    const own = await features('features');
    assert.deepEqual(internal.dims, [3, 1280]);
    assert.deepEqual(own.dims, [3, 1280]);
    const a = internal.data as Float32Array;
    const b = own.data as Float32Array;
    assert.ok(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength)), 'bit-identical');
    // Real features of real photos: non-negative (ReLU6 then average), not constant, images differ.
    assert.ok(a.every((v) => v >= 0 && v <= 6));
    assert.ok(a.subarray(0, 1280).some((v, i) => v !== a[1280 + i]), 'two photos give different vectors');
    assert.ok(a.filter((v) => v > 0).length > 1000);
  });

  it('gives a clear error for a tensor that is not in the graph', () => {
    assert.throws(() => withFeatureOutput(modelBytes, 'no_such_tensor'), /feature tensor 'no_such_tensor' is not in the graph \(graph outputs: features, logits\)/);
  });

  it('splices the preprocessing in front of the network: the features of the two models run one after the other', async () => {
    const photos = await imageTensor(await fruitPhotos(3));
    const network = withFeatureOutput(modelBytes, 'features');
    const merged = featurizerModel(modelBytes, MOBILENET_V2_SHARED);
    assert.ok(merged.spliced, 'an opset-13 network takes the preprocessing nodes');
    const session = await ort.InferenceSession.create(merged.bytes, cpu);
    const separate = await ort.InferenceSession.create(network, cpu);
    try {
      assert.deepEqual(session.inputNames, [IMAGE_INPUT]);
      const a = (await session.run({ [IMAGE_INPUT]: photos.tensor }))[FEATURE_OUTPUT].data as Float32Array;
      const b = (await separate.run({ input }))[FEATURE_OUTPUT].data as Float32Array;
      assert.equal(a.length, 3 * 1280);
      const worst = a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
      assert.ok(worst <= 1e-5, `max |Δ| ${worst}`);
    } finally {
      await session.release();
      await separate.release();
    }
    // The featurizer's graph path runs the spliced model and gives the same vectors (its default,
    // the SIMD preprocessing, is held to this path in preprocess-simd.test.ts).
    const f = await Featurizer.load({ spec: MOBILENET_V2_SHARED, path: sharedModelPath, sha256: SHARED_MODEL_SHA256 }, { threads: 1, preprocessing: 'graph' });
    try {
      const got = await f.featurize({ width: photos.width, height: photos.height, images: photos.pixels });
      const want = (await features('features')).data as Float32Array;
      assert.ok(got.every((v, i) => Math.abs(v - want[i]) <= 1e-5));
    } finally {
      await f.release();
    }
  });

  it('leaves a network older than opset 13 alone; the featurizer then runs two models, with the same features', async () => {
    const old = decodeModel(modelBytes);
    setDefaultOpset(old, 12); // its operators read the same at 12
    const oldBytes = encodeModel(old);
    const unspliced = featurizerModel(oldBytes, MOBILENET_V2_SHARED);
    assert.equal(unspliced.spliced, false);
    assert.deepEqual(unspliced.bytes, withFeatureOutput(oldBytes, 'features'), 'the network with its feature output, nothing else');
    const tmp = await tempDir('opset12');
    try {
      const file = path.join(tmp.dir, 'opset12.onnx');
      await fs.writeFile(file, oldBytes);
      const photos = await imageTensor(await fruitPhotos(3));
      const f = await Featurizer.load({ spec: MOBILENET_V2_SHARED, path: file, sha256: 'x'.repeat(64) }, { threads: 1, preprocessing: 'graph' });
      const got = await f.featurize({ width: photos.width, height: photos.height, images: photos.pixels }).finally(() => f.release());
      const want = (await features('features')).data as Float32Array;
      assert.ok(got.every((v, i) => Math.abs(v - want[i]) <= 1e-5));
    } finally {
      await tmp.cleanup();
    }
  });

  it('refuses a spec whose input name is not the network\'s, naming the inputs there are', async () => {
    const resolved = { spec: { ...MOBILENET_V2_SHARED, input: { ...MOBILENET_V2_SHARED.input, name: 'data' } }, path: sharedModelPath, sha256: SHARED_MODEL_SHA256 };
    await assert.rejects(Featurizer.load(resolved, { threads: 1 }), /^Error: model mobilenet_v2_1\.0_224: input 'data' not found \(inputs: input\)$/);
  });

  it('makes Featurizer.load fail with the model id in the message', async () => {
    const resolved = { spec: { ...MOBILENET_V2_SHARED, feature: { tensor: 'pool5', dim: 1280 } }, path: sharedModelPath, sha256: SHARED_MODEL_SHA256 };
    await assert.rejects(Featurizer.load(resolved, { threads: 1 }), /^Error: model mobilenet_v2_1\.0_224: feature tensor 'pool5' is not in the graph/);
  });
});

// --- preprocessing graph vs a plain JS reference ----------------------------------------------

/** Bilinear resize with half-pixel centres (edge-clamped), then the per-channel affine map. */
function referencePreprocess(pixels: Uint8Array, w: number, h: number, spec: ModelSpec): Float32Array {
  const { width: W, height: H, layout } = spec.input;
  const { scale, offset } = channelAffine(spec.normalize);
  const out = new Float32Array(3 * W * H);
  const coord = (o: number, inSize: number, outSize: number): [number, number, number] => {
    const x = Math.min(Math.max(((o + 0.5) * inSize) / outSize - 0.5, 0), inSize - 1);
    const x0 = Math.floor(x);
    return [x0, Math.min(x0 + 1, inSize - 1), x - x0];
  };
  for (let oy = 0; oy < H; oy++) {
    const [y0, y1, fy] = coord(oy, h, H);
    for (let ox = 0; ox < W; ox++) {
      const [x0, x1, fx] = coord(ox, w, W);
      for (let c = 0; c < 3; c++) {
        const p = (x: number, y: number) => pixels[(y * w + x) * 3 + c];
        const top = p(x0, y0) * (1 - fx) + p(x1, y0) * fx;
        const bottom = p(x0, y1) * (1 - fx) + p(x1, y1) * fx;
        const v = (top * (1 - fy) + bottom * fy) * scale[c] + offset[c];
        out[layout === 'NCHW' ? c * H * W + oy * W + ox : (oy * W + ox) * 3 + c] = v;
      }
    }
  }
  return out;
}

describe('preprocessing graph', () => {
  async function compare(spec: ModelSpec, image: { tensor: ort.Tensor; width: number; height: number; pixels: Uint8Array[] }): Promise<number> {
    const session = await ort.InferenceSession.create(buildPreprocessModel(spec), cpu);
    try {
      const out = (await session.run({ [IMAGE_INPUT]: image.tensor }))[PREPROCESS_OUTPUT];
      const { width: W, height: H, layout } = spec.input;
      const n = image.pixels.length;
      assert.deepEqual(out.dims, layout === 'NCHW' ? [n, 3, H, W] : [n, H, W, 3]);
      const got = out.data as Float32Array;
      let maxDiff = 0;
      image.pixels.forEach((px, i) => {
        const ref = referencePreprocess(px, image.width, image.height, spec);
        for (let j = 0; j < ref.length; j++) maxDiff = Math.max(maxDiff, Math.abs(got[i * ref.length + j] - ref[j]));
      });
      return maxDiff;
    } finally {
      await session.release();
    }
  }

  it('upsamples real 100×100 photos to 224×224 NCHW in [-1, 1] like the JS reference (max |diff| < 1e-4)', async () => {
    const image = await imageTensor(await fruitPhotos(2));
    assert.deepEqual([image.width, image.height], [100, 100]);
    const diff = await compare(MOBILENET_V2_SHARED, image);
    assert.ok(diff < 1e-4, `max abs difference ${diff}`);
  });

  it('downsamples a 300×250 photo (decoded at its own size) like the reference', async () => {
    const bytes = await makeImage('jpeg', 300, 250);
    const image = await imageTensor([bytes]);
    assert.deepEqual([image.width, image.height], [300, 250], 'not pre-shrunk by sharp');
    const diff = await compare(MOBILENET_V2_SHARED, image);
    assert.ok(diff < 1e-4, `max abs difference ${diff}`);
  });

  it('follows a mean/std, NHWC, non-square spec too', async () => {
    const spec: ModelSpec = {
      ...MOBILENET_V2_ZOO,
      input: { name: 'x', layout: 'NHWC', width: 160, height: 128 },
    };
    const diff = await compare(spec, await imageTensor(await fruitPhotos(2)));
    assert.ok(diff < 1e-4, `max abs difference ${diff}`);
  });

  it('is not the identity: a wrong reference (no half-pixel offset) is detectably different', async () => {
    // Guards the comparison itself: align-corners sampling differs by far more than the tolerance.
    const image = await imageTensor(await fruitPhotos(1));
    const session = await ort.InferenceSession.create(buildPreprocessModel(MOBILENET_V2_SHARED), cpu);
    const got = (await session.run({ [IMAGE_INPUT]: image.tensor }))[PREPROCESS_OUTPUT].data as Float32Array;
    await session.release();
    const px = image.pixels[0];
    let maxDiff = 0;
    for (let oy = 0; oy < 224; oy++) {
      for (let ox = 0; ox < 224; ox++) {
        const x = (ox * 99) / 223;
        const y = (oy * 99) / 223;
        const x0 = Math.floor(x);
        const y0 = Math.floor(y);
        const x1 = Math.min(x0 + 1, 99);
        const y1 = Math.min(y0 + 1, 99);
        const fx = x - x0;
        const fy = y - y0;
        const p = (xx: number, yy: number) => px[(yy * 100 + xx) * 3];
        const v = ((p(x0, y0) * (1 - fx) + p(x1, y0) * fx) * (1 - fy) + (p(x0, y1) * (1 - fx) + p(x1, y1) * fx) * fy) / 127.5 - 1;
        maxDiff = Math.max(maxDiff, Math.abs(got[oy * 224 + ox] - v));
      }
    }
    assert.ok(maxDiff > 1e-2, `align-corners differs by only ${maxDiff}`);
  });
});
