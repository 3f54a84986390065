// decodeImage: every input becomes 8-bit RGB (3 channels), EXIF-oriented, at its own size when
// small and at the model's size when large; broken files become DecodeErrors whose reason says
// what is wrong.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp, { type Sharp } from 'sharp';
import { decodeImage, DecodeError, type DecodedImage } from '../src/decode/decode.js';
import { corruptJpeg, makeImage, truncatedJpeg } from './helpers/corpus.js';

const MODEL = { width: 224, height: 224 };
const LIMITS = { maxPixels: 100_000_000 };

type RGB = [number, number, number];

function pixel(d: DecodedImage, x: number, y: number): RGB {
  const i = (y * d.width + x) * 3;
  return [d.pixels[i], d.pixels[i + 1], d.pixels[i + 2]];
}

function assertRgb8(d: DecodedImage, width: number, height: number): void {
  assert.equal(d.width, width, 'width');
  assert.equal(d.height, height, 'height');
  assert.equal(d.pixels.length, width * height * 3, 'exactly 3 channels of 8 bits');
}

function near(actual: RGB, expected: RGB, tolerance: number, what: string): void {
  const ok = actual.every((v, c) => Math.abs(v - expected[c]) <= tolerance);
  assert.ok(ok, `${what}: got [${actual}], expected [${expected}] ± ${tolerance}`);
}

/** RGB or RGBA raw pixels from a per-pixel function. */
function raw(width: number, height: number, channels: 3 | 4, f: (x: number, y: number) => number[]): Sharp {
  const buf = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) buf.set(f(x, y), (y * width + x) * channels);
  return sharp(buf, { raw: { width, height, channels } });
}

async function decodeError(bytes: Buffer, limits = LIMITS): Promise<DecodeError> {
  try {
    await decodeImage(bytes, MODEL, limits);
  } catch (err) {
    assert.ok(err instanceof DecodeError, `expected a DecodeError, got ${String(err)}`);
    assert.ok(!err.reason.includes('\n'), 'the reason is one line');
    return err;
  }
  assert.fail('expected decodeImage to reject');
}

describe('decodeImage: size', () => {
  it('keeps a small photo at its own size (resized later, in the graph)', async () => {
    const d = await decodeImage(await makeImage('jpeg', 100, 80), MODEL, LIMITS);
    assertRgb8(d, 100, 80);
    assert.deepEqual([d.sourceWidth, d.sourceHeight], [100, 80]);
  });

  it('shrinks a big photo to fit within twice the model size, keeping its aspect, and reports its stored size', async () => {
    const d = await decodeImage(await makeImage('jpeg', 640, 480), MODEL, LIMITS);
    assertRgb8(d, 448, 336);
    assert.deepEqual([d.sourceWidth, d.sourceHeight], [640, 480]);
  });

  it('switches to the sharp resize just above twice the model size', async () => {
    // The bound is 448×448: 448 wide stays as it is, 449 wide is shrunk to 448.
    const kept = await decodeImage(await makeImage('png', 448, 300), MODEL, LIMITS);
    assertRgb8(kept, 448, 300);
    assert.deepEqual([kept.sourceWidth, kept.sourceHeight], [448, 300]);
    const shrunk = await decodeImage(await makeImage('png', 449, 300), MODEL, LIMITS);
    assertRgb8(shrunk, 448, 299);
    assert.deepEqual([shrunk.sourceWidth, shrunk.sourceHeight], [449, 300]);
  });
});

describe('decodeImage: orientation and colour', () => {
  // Stored 60 wide × 40 high, a red 20×20 block in the top-left corner, green elsewhere.
  const marked = () => raw(60, 40, 3, (x, y) => (x < 20 && y < 20 ? [230, 20, 20] : [20, 200, 20]));
  const RED: RGB = [230, 20, 20];
  const GREEN: RGB = [20, 200, 20];

  it('applies EXIF orientation 6: dimensions swap and the corner block moves to the top right', async () => {
    const bytes = await marked().jpeg({ quality: 100, chromaSubsampling: '4:4:4' }).withMetadata({ orientation: 6 }).toBuffer();
    assert.equal((await sharp(bytes).metadata()).orientation, 6);
    const d = await decodeImage(bytes, MODEL, LIMITS);
    assertRgb8(d, 40, 60);
    assert.deepEqual([d.sourceWidth, d.sourceHeight], [40, 60]);
    near(pixel(d, 30, 10), RED, 12, 'top right (was top left)');
    near(pixel(d, 10, 10), GREEN, 12, 'top left');
    near(pixel(d, 30, 50), GREEN, 12, 'bottom right');
  });

  it('leaves an image without orientation as stored (the control for the test above)', async () => {
    const d = await decodeImage(await marked().jpeg({ quality: 100, chromaSubsampling: '4:4:4' }).toBuffer(), MODEL, LIMITS);
    assertRgb8(d, 60, 40);
    near(pixel(d, 10, 10), RED, 12, 'top left');
    near(pixel(d, 50, 10), GREEN, 12, 'top right');
  });

  it('turns a grayscale JPEG into RGB with equal channels', async () => {
    const bytes = await makeImage('gray-jpeg', 64, 48);
    const d = await decodeImage(bytes, MODEL, LIMITS);
    assertRgb8(d, 64, 48);
    let varied = 0;
    for (let i = 0; i < d.pixels.length; i += 3) {
      assert.ok(d.pixels[i] === d.pixels[i + 1] && d.pixels[i + 1] === d.pixels[i + 2], `gray pixel ${i / 3} has equal channels`);
      if (d.pixels[i] !== d.pixels[0]) varied++;
    }
    assert.ok(varied > 100, 'the photo is not flat');
  });

  it('converts a CMYK JPEG to RGB with the colour kept', async () => {
    const bytes = await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 200, g: 30, b: 40 } } })
      .toColourspace('cmyk')
      .jpeg({ quality: 100 })
      .toBuffer();
    assert.equal((await sharp(bytes).metadata()).space, 'cmyk');
    const d = await decodeImage(bytes, MODEL, LIMITS);
    assertRgb8(d, 40, 30);
    // An uncalibrated CMYK round trip moves colours a little; it must stay this red.
    near(pixel(d, 20, 15), [200, 30, 40], 35, 'CMYK red');
  });

  it('reduces a 16-bit PNG to 8 bits (value / 257)', async () => {
    const deep = new Uint16Array(8 * 4 * 3);
    for (let i = 0; i < deep.length; i += 3) deep.set([0xffff, 0x8080, 0x0101], i);
    const bytes = await sharp(deep, { raw: { width: 8, height: 4, channels: 3 } }).toColourspace('rgb16').png().toBuffer();
    const meta = await sharp(bytes).metadata();
    assert.equal(meta.bitsPerSample, 16, 'the input really is 16-bit');
    const d = await decodeImage(bytes, MODEL, LIMITS);
    assertRgb8(d, 8, 4);
    assert.deepEqual(pixel(d, 3, 2), [255, 128, 1]);
  });

  it('flattens alpha on white: transparent pixels become white, opaque ones keep their colour', async () => {
    const bytes = await raw(20, 10, 4, (x) => (x < 10 ? [0, 0, 0, 0] : [255, 0, 0, 255])).png().toBuffer();
    assert.equal((await sharp(bytes).metadata()).hasAlpha, true);
    const d = await decodeImage(bytes, MODEL, LIMITS);
    assertRgb8(d, 20, 10);
    assert.deepEqual(pixel(d, 2, 5), [255, 255, 255], 'transparent black → white');
    assert.deepEqual(pixel(d, 15, 5), [255, 0, 0], 'opaque red stays red');
  });

  it('flattens a transparent grayscale + alpha PNG on white too', async () => {
    const bytes = await sharp({ create: { width: 10, height: 10, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
      .toColourspace('b-w')
      .png()
      .toBuffer();
    assert.equal((await sharp(bytes).metadata()).channels, 2);
    const d = await decodeImage(bytes, MODEL, LIMITS);
    assertRgb8(d, 10, 10);
    assert.deepEqual(pixel(d, 5, 5), [255, 255, 255]);
  });

  it('expands a palette PNG to its RGB colours', async () => {
    const quadrant = (x: number, y: number) => (x < 8 ? (y < 8 ? [255, 0, 0] : [0, 0, 255]) : y < 8 ? [0, 255, 0] : [250, 250, 20]);
    const bytes = await raw(16, 16, 3, quadrant).png({ palette: true, dither: 0 }).toBuffer();
    assert.equal((await sharp(bytes).metadata()).isPalette, true);
    const d = await decodeImage(bytes, MODEL, LIMITS);
    assertRgb8(d, 16, 16);
    for (const [x, y] of [[2, 2], [12, 2], [2, 12], [12, 12]] as const) near(pixel(d, x, y), quadrant(x, y) as RGB, 2, `quadrant at ${x},${y}`);
  });

  it('decodes WebP', async () => {
    assertRgb8(await decodeImage(await makeImage('webp', 50, 40), MODEL, LIMITS), 50, 40);
  });
});

describe('decodeImage: rejects', () => {
  it('rejects an image over the pixel limit, naming its size and the limit', async () => {
    const bytes = await makeImage('png', 300, 300);
    const err = await decodeError(bytes, { maxPixels: 50_000 });
    assert.match(err.reason, /over the pixel limit/);
    assert.match(err.reason, /300×300/);
    assert.match(err.reason, /50000/);
    // The same limit lets an image under it through.
    assertRgb8(await decodeImage(await makeImage('png', 200, 200), MODEL, { maxPixels: 50_000 }), 200, 200);
  });

  it('rejects an empty file', async () => {
    assert.match((await decodeError(Buffer.alloc(0))).reason, /empty file \(0 bytes\)/);
  });

  it('rejects a text file as not an image', async () => {
    assert.match((await decodeError(Buffer.from('hello, not a JPEG\n'))).reason, /not an image/);
  });

  it('rejects a truncated JPEG as truncated', async () => {
    assert.match((await decodeError(await truncatedJpeg(100, 100))).reason, /^truncated image/);
  });

  it('rejects a JPEG with corrupt scan data as corrupt, not as truncated', async () => {
    const reason = (await decodeError(await corruptJpeg(100, 100))).reason;
    assert.match(reason, /^corrupt image data: /);
  });

  it('rejects truncated PNG and WebP files as truncated', async () => {
    for (const kind of ['png', 'webp'] as const) {
      const whole = await makeImage(kind, 120, 90);
      assert.match((await decodeError(whole.subarray(0, Math.floor(whole.length * 0.6)))).reason, /^truncated image/, kind);
    }
  });

  it('gives each file its own reason when many are decoded at once', async () => {
    // libvips keeps errors and warnings process-wide: concurrent decodes must not swap them.
    sharp.concurrency(1); // as in the worker processes
    const [corrupt, truncated, good] = [await corruptJpeg(100, 100), await truncatedJpeg(100, 100), await makeImage('jpeg', 100, 100)];
    for (let round = 0; round < 10; round++) {
      const inputs = [corrupt, good, truncated, good, corrupt, truncated, good, truncated];
      const results = await Promise.allSettled(inputs.map((b) => decodeImage(b, MODEL, LIMITS)));
      results.forEach((r, i) => {
        const want = inputs[i] === good ? 'ok' : inputs[i] === corrupt ? /^corrupt image data/ : /^truncated image/;
        if (want === 'ok') assert.equal(r.status, 'fulfilled', `round ${round}, image ${i}`);
        else assert.match(r.status === 'rejected' ? (r.reason as DecodeError).reason : 'decoded', want, `round ${round}, image ${i}`);
      });
    }
  });
});
