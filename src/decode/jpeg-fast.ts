// The fast path for the common photo: a plain 8-bit JPEG (baseline or progressive, YCbCr or
// grayscale), EXIF orientation 1, no ICC profile, small enough to keep its size. libvips spends
// ~0.6–0.9 ms of CPU per 100×100 JPEG on per-image pipeline overhead (operations, threads,
// hand-offs), the decode itself being a small part of that; libjpeg-turbo compiled to WebAssembly
// decodes the same file in ~0.15 ms on the calling thread. It is the same decoder as libvips'
// (libjpeg-turbo lineage, accurate integer DCT, fancy upsampling): the pixels are bit-identical
// (checked on every photo of the mini dataset, and by test/decode-fast.test.ts).
// Anything else, and any photo the decoder warns about, goes to sharp, which also words rejects.
import { createRequire } from 'node:module';
import { readJpegHeader } from './jpeg-header.js';

interface JpegDecoder {
  getEncodedBuffer(size: number): Uint8Array;
  decode(): void;
  getDecodedBuffer(): Uint8Array;
  getFrameInfo(): { width: number; height: number; componentCount: number };
}
type DecoderModule = { JPEGDecoder: new () => JpegDecoder };

// Colour JPEGs in 4:4:4 and 4:2:0 (H << 4 | V per component), the samplings checked against
// libvips: other chroma upsamplings changed across libjpeg-turbo versions, so they stay with sharp.
const FAST_SAMPLING = new Set(['17,17,17', '34,17,17']);
// The module's memory grows to the largest photo it held and never shrinks: big files go to sharp.
const FAST_MAX_BYTES = 2 << 20;

let decoder: JpegDecoder | undefined;
let loading: Promise<JpegDecoder> | undefined;

/** One decoder per thread, its WebAssembly module compiled on first use. */
async function loadDecoder(): Promise<JpegDecoder> {
  loading ??= (async () => {
    const factory = createRequire(import.meta.url)('@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs') as () => Promise<DecoderModule>;
    decoder = new (await factory()).JPEGDecoder();
    return decoder;
  })();
  return loading;
}

/** Compiles the decoder's module ahead of the first photo (~70 ms); a failure waits for that photo. */
export async function preloadDecoder(): Promise<void> {
  await loadDecoder().catch(() => undefined);
}

export interface FastDecoded {
  pixels: Buffer;
  width: number;
  height: number;
}

/**
 * The photo's RGB pixels when it is a plain JPEG within `bound` and `maxPixels` that decodes
 * without a warning; undefined for everything the sharp path must handle.
 */
export async function decodePlainJpeg(bytes: Buffer, bound: { width: number; height: number }, maxPixels: number): Promise<FastDecoded | undefined> {
  const h = readJpegHeader(bytes);
  if (!h || h.orientation !== 1 || h.icc || h.precision !== 8 || h.sof > 0xc2) return undefined;
  if (h.components !== 1 && !FAST_SAMPLING.has(h.sampling.join(','))) return undefined;
  if (bytes.length > FAST_MAX_BYTES) return undefined;
  if (h.width < 1 || h.height < 1 || h.width > bound.width || h.height > bound.height || h.width * h.height > maxPixels) return undefined;
  // Should the module ever fail to load, every photo simply takes the sharp path.
  const d = decoder ?? (await loadDecoder().catch(() => undefined));
  if (!d) return undefined;
  try {
    d.getEncodedBuffer(bytes.length).set(bytes);
    // Throws on errors and on warnings alike (corrupt data, a premature end): sharp then decides.
    d.decode();
  } catch {
    return undefined;
  }
  const { width, height, componentCount } = d.getFrameInfo();
  if (width !== h.width || height !== h.height) return undefined;
  const out = d.getDecodedBuffer(); // a view into the module's memory: copied before the next decode
  if (componentCount === 3 && out.length === width * height * 3) return { pixels: Buffer.from(out), width, height };
  if (componentCount !== 1 || out.length !== width * height) return undefined;
  // Grayscale → sRGB is libvips' band replication.
  const pixels = Buffer.allocUnsafe(width * height * 3);
  for (let i = 0, j = 0; i < out.length; i++, j += 3) pixels[j] = pixels[j + 1] = pixels[j + 2] = out[i];
  return { pixels, width, height };
}
