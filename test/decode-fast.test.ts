// The fast JPEG path (libjpeg-turbo in WebAssembly) must give exactly what the sharp path gives:
// the same pixels for every photo it takes (and so the same features), and for everything else —
// rotated, colour-managed, CMYK, large, broken — it must step aside so sharp decodes or rejects
// the photo with its usual reason.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { decodeImage, decodeWithSharp, DecodeError, type DecodedImage } from '../src/decode/decode.js';
import { decodePlainJpeg } from '../src/decode/jpeg-fast.js';
import { readJpegHeader } from '../src/decode/jpeg-header.js';
import { Featurizer } from '../src/model/featurizer.js';
import { resolveModel } from '../src/model/resolve.js';
import { BASE_PHOTO, corruptJpeg, makeImage, truncatedJpeg } from './helpers/corpus.js';
import { miniTestClasses, miniTestDir, miniTestImages, modelsDir } from './helpers/paths.js';

const MODEL = { width: 224, height: 224 };
const BOUND = { width: 448, height: 448 };
const LIMITS = { maxPixels: 100_000_000 };

type Outcome = { ok: true; image: DecodedImage } | { ok: false; reason: string };

async function outcome(decode: typeof decodeImage, bytes: Buffer): Promise<Outcome> {
  try {
    return { ok: true, image: await decode(bytes, MODEL, LIMITS) };
  } catch (err) {
    assert.ok(err instanceof DecodeError, `a DecodeError, got ${String(err)}`);
    return { ok: false, reason: err.reason };
  }
}

/** decodeImage (fast path where it applies) and the sharp path agree byte for byte, or on the reason. */
async function assertSameAsSharp(bytes: Buffer, what: string): Promise<Outcome> {
  const [fast, slow] = [await outcome(decodeImage, bytes), await outcome(decodeWithSharp, bytes)];
  assert.equal(fast.ok, slow.ok, `${what}: both decode or both reject`);
  if (fast.ok && slow.ok) {
    assert.deepEqual([fast.image.width, fast.image.height, fast.image.sourceWidth, fast.image.sourceHeight], [slow.image.width, slow.image.height, slow.image.sourceWidth, slow.image.sourceHeight], `${what}: sizes`);
    assert.ok(fast.image.pixels.equals(slow.image.pixels), `${what}: identical pixels`);
  } else if (!fast.ok && !slow.ok) {
    assert.equal(fast.reason, slow.reason, `${what}: the same reject reason`);
  }
  return fast;
}

/** The JPEG with its first component's sampling factors rewritten in the frame header. */
async function withLumaSampling(jpeg: Buffer, hv: number): Promise<Buffer> {
  const out = Buffer.from(jpeg);
  const sof = out.indexOf(Buffer.from([0xff, 0xc0]));
  assert.ok(sof > 0, 'a baseline frame header');
  out[sof + 2 + 2 + 6 + 1] = hv; // marker, length, precision + height + width + count, component id
  assert.deepEqual(readJpegHeader(out)?.sampling, [hv, 0x11, 0x11]);
  return out;
}

const taken = async (bytes: Buffer) => (await decodePlainJpeg(bytes, BOUND, LIMITS.maxPixels)) !== undefined;

async function miniPhotos(): Promise<string[]> {
  const files: string[] = [];
  for (const c of await miniTestClasses()) for (const f of await miniTestImages(c)) files.push(path.join(miniTestDir, c, f));
  return files;
}

describe('fast JPEG decode: the same pixels as sharp', () => {
  it('takes every photo of the mini Test set and decodes each to the bytes sharp gives', async () => {
    const files = await miniPhotos();
    assert.ok(files.length > 1000, `${files.length} photos`);
    for (const f of files) {
      const bytes = await fs.readFile(f);
      assert.ok(await taken(bytes), `${f}: a plain JPEG takes the fast path`);
      await assertSameAsSharp(bytes, f);
    }
  });

  it('matches sharp on the JPEG variants it takes: progressive, 4:4:4, grayscale, odd sizes, EXIF orientation 1', async () => {
    const base = sharp(BASE_PHOTO).removeAlpha();
    const variants: Record<string, Buffer> = {
      progressive: await base.clone().jpeg({ quality: 85, progressive: true }).toBuffer(),
      '4:4:4': await base.clone().jpeg({ quality: 95, chromaSubsampling: '4:4:4' }).toBuffer(),
      'odd size 4:2:0': await base.clone().resize(101, 77, { fit: 'fill' }).jpeg({ quality: 80 }).toBuffer(),
      grayscale: await makeImage('gray-jpeg', 63, 41),
      // (withMetadata would embed an sRGB ICC profile, which the fast path leaves to sharp.)
      'EXIF orientation 1': await base.clone().jpeg().withExif({ IFD0: { Orientation: '1', Copyright: 'fruits test' } }).toBuffer(),
      'at the bound (448×448)': await base.clone().resize(448, 448).jpeg().toBuffer(),
    };
    assert.equal((await sharp(variants['EXIF orientation 1']).metadata()).orientation, 1, 'the tag is there');
    for (const [what, bytes] of Object.entries(variants)) {
      assert.ok(await taken(bytes), `${what}: takes the fast path`);
      await assertSameAsSharp(bytes, what);
    }
  });

  it('leaves to sharp what it must not take, and the result is sharp’s', async () => {
    const base = sharp(BASE_PHOTO).removeAlpha();
    const others: Record<string, Buffer> = {
      'EXIF orientation 6': await makeImage('exif6-jpeg', 60, 40),
      'embedded ICC profile': await base.clone().jpeg().withIccProfile('p3').toBuffer(),
      CMYK: await makeImage('cmyk-jpeg', 50, 40),
      'larger than twice the model size': await base.clone().resize(449, 300, { fit: 'fill' }).jpeg().toBuffer(),
      PNG: await makeImage('png', 40, 30),
      'corrupt scan data': await corruptJpeg(100, 100),
      truncated: await truncatedJpeg(100, 100),
      'header only': (await makeImage('jpeg', 100, 100)).subarray(0, 400),
      'luma sampled 2×1 (4:2:2 header)': await withLumaSampling(await base.clone().jpeg({ chromaSubsampling: '4:4:4' }).toBuffer(), 0x21),
    };
    assert.equal(readJpegHeader(others['EXIF orientation 6'])?.orientation, 6);
    assert.equal(readJpegHeader(others['embedded ICC profile'])?.icc, true);
    for (const [what, bytes] of Object.entries(others)) {
      assert.equal(await taken(bytes), false, `${what}: not taken by the fast path`);
      await assertSameAsSharp(bytes, what);
    }
  });

  it('keeps each photo’s own outcome among corrupt, rotated and plain ones decoded at once', async () => {
    const files = (await miniPhotos()).slice(0, 12);
    const plain = await Promise.all(files.map((f) => fs.readFile(f)));
    const inputs = [plain[0], await corruptJpeg(100, 100), plain[1], await makeImage('exif6-jpeg', 60, 40), plain[2], await truncatedJpeg(100, 100), ...plain.slice(3)];
    const results = await Promise.all(inputs.map((b) => outcome(decodeImage, b)));
    for (const [i, b] of inputs.entries()) {
      const slow = await outcome(decodeWithSharp, b);
      const r = results[i];
      assert.equal(r.ok, slow.ok, `input ${i}`);
      if (r.ok && slow.ok) assert.ok(r.image.pixels.equals(slow.image.pixels), `input ${i}: identical pixels`);
      // The same kind of failure. libvips's wording of it may differ: it reports one of the warnings
      // libjpeg emits for the file ("premature end of JPEG image" or "… of data segment"), and which
      // one can depend on what other decodes run at the same time.
      if (!r.ok && !slow.ok) assert.equal(r.reason.split(':')[0], slow.reason.split(':')[0], `input ${i}: same kind of reason (${r.reason} / ${slow.reason})`);
    }
    assert.deepEqual(results.map((r) => r.ok), [true, false, true, true, true, false, ...plain.slice(3).map(() => true)]);
  });

  it('gives features identical to the sharp path’s through the real network', async () => {
    const files = (await miniPhotos()).filter((_, i) => i % 97 === 0).slice(0, 8);
    const bytes = await Promise.all(files.map((f) => fs.readFile(f)));
    const fast = await Promise.all(bytes.map((b) => decodeImage(b, MODEL, LIMITS)));
    const slow = await Promise.all(bytes.map((b) => decodeWithSharp(b, MODEL, LIMITS)));
    const featurizer = await Featurizer.load(await resolveModel({ modelDir: modelsDir, download: false }), { threads: 1 });
    try {
      const batch = (d: DecodedImage[]) => ({ width: d[0].width, height: d[0].height, images: d.map((x) => x.pixels) });
      const a = await featurizer.featurize(batch(fast));
      const b = await featurizer.featurize(batch(slow));
      assert.equal(a.length, 8 * featurizer.dim);
      assert.ok(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength)), 'bit-identical features');
    } finally {
      await featurizer.release();
    }
  });
});
