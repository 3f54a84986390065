// Decoding and the part of preprocessing that belongs to the decoder: EXIF orientation, any
// colour space / alpha / bit depth / palette → 8-bit sRGB. The resize to the model's size and
// the normalisation run inside ONNX Runtime (see model/graph-edit.ts): on small photos that is
// ~4× cheaper than resizing here. Large photos are still shrunk here (to fit within twice the
// model's size), where JPEG shrink-on-load makes decoding itself cheaper.
//
// Plain JPEGs at their own size take a faster decoder of the same pixels (jpeg-fast.ts). Otherwise
// one libvips pipeline per image: a separate header read (metadata) measured ~0.2 ms of CPU per
// 100×100 JPEG, a fifth of the decode, so it only runs on the rare paths that need it.
import type { Sharp } from 'sharp';
import { decodePlainJpeg } from './jpeg-fast.js';

type SharpModule = (typeof import('sharp'))['default'];
let sharpLoading: Promise<SharpModule> | undefined;
let oneThreadPerImage = false;

/**
 * sharp (libvips) loads with the first photo the fast path refuses: a collection of plain JPEGs
 * never needs it, and loading it cost each worker ~60 ms of CPU at start-up, beside the others.
 */
function loadSharp(): Promise<SharpModule> {
  sharpLoading ??= import('sharp').then(({ default: sharp }) => {
    if (oneThreadPerImage) configure(sharp);
    return sharp;
  });
  return sharpLoading;
}

function configure(sharp: SharpModule): void {
  sharp.concurrency(1);
  sharp.cache(false);
}

/**
 * For worker processes, which decode several images at once: one libvips thread per image, and
 * no operation cache (each image is decoded once, a cache would only hold memory).
 */
export function decodeOneImagePerThread(): void {
  oneThreadPerImage = true;
  void sharpLoading?.then(configure);
}

export interface DecodeLimits {
  /** Images with more pixels than this are rejected before decoding (decompression bombs). */
  maxPixels: number;
}

export interface DecodedImage {
  /** RGB, 8 bits per channel, row-major HWC. */
  pixels: Buffer;
  width: number;
  height: number;
  /** Size of the photo as stored, after EXIF orientation. */
  sourceWidth: number;
  sourceHeight: number;
}

/** A file that cannot become an image: recorded as a reject, never fatal to a run. */
export class DecodeError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'DecodeError';
  }
}

export { DEFAULT_MAX_PIXELS } from './limits.js';

// Photos that fit within this many times the model's width and height are decoded at their own
// size (batched by size, resized in the graph); larger ones are shrunk by sharp to fit, keeping
// their aspect ratio (the graph's fill resize distorts them exactly as a direct one would).
export const NATIVE_SIZE_FACTOR = 2;

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** A JPEG without its end-of-image marker, a PNG without IEND, a WebP shorter than its RIFF size. */
function endsEarly(bytes: Buffer): boolean {
  if (bytes[0] === 0xff && bytes[1] === 0xd8) {
    let end = bytes.length;
    while (end > 2 && bytes[end - 1] === 0) end--; // zero padding after EOI is common and harmless
    return !(bytes[end - 2] === 0xff && bytes[end - 1] === 0xd9);
  }
  if (bytes.subarray(0, 8).equals(PNG_SIGNATURE)) return bytes.lastIndexOf('IEND') < 0;
  if (bytes.length >= 12 && bytes.toString('latin1', 0, 4) === 'RIFF' && bytes.toString('latin1', 8, 12) === 'WEBP') {
    return bytes.length < bytes.readUInt32LE(4) + 8;
  }
  return false;
}

function reasonOf(err: unknown, bytes: Buffer): string {
  const raw = (err as Error)?.message ?? String(err);
  if (/unsupported image format/i.test(raw)) return 'not an image (unsupported format)';
  if (/pixel limit/i.test(raw)) return 'over the pixel limit';
  // A real image in a codec this build has no decoder for (HEIC photos are HEVC): unsupported, not corrupt.
  const codec = /compression format has not been built in: (\w+)/i.exec(raw);
  if (codec) return `unsupported format: ${codec[1]}-coded images (such as HEIC photos) cannot be decoded here`;
  // libvips keeps errors and warnings process-wide: with images decoded concurrently the text may
  // belong to another image, or be gone (leaving sharp's generic failOn line). So truncation is
  // read from the file itself, and the text is only the detail.
  const detail = raw.replace(/^Warning treated as error due to failOn setting\s*/, '').split('\n')[0] || 'the decoder warned';
  if (endsEarly(bytes)) return `truncated image: the file ends before the image data does (${bytes.length} bytes)`;
  if (/corrupt|premature end|bad huffman|warning treated as error|read error|unexpected end|truncated/i.test(raw)) {
    return `corrupt image data: ${detail}`;
  }
  return `cannot decode: ${detail}`;
}

/** The stored size after EXIF orientation (orientations 5–8 swap width and height). */
async function orientedSize(bytes: Buffer): Promise<{ width: number; height: number }> {
  const sharp = await loadSharp();
  const meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  const swap = (meta.orientation ?? 1) >= 5;
  return { width: (swap ? meta.height : meta.width) ?? 0, height: (swap ? meta.width : meta.height) ?? 0 };
}

export async function decodeImage(bytes: Buffer, target: { width: number; height: number }, limits: DecodeLimits): Promise<DecodedImage> {
  if (bytes.length === 0) throw new DecodeError('empty file (0 bytes)');
  const bound = { width: NATIVE_SIZE_FACTOR * target.width, height: NATIVE_SIZE_FACTOR * target.height };
  // Most photos: plain JPEGs at their own size, decoded without libvips (same pixels, a sixth of the CPU).
  const fast = await decodePlainJpeg(bytes, bound, limits.maxPixels);
  if (fast) return { ...fast, sourceWidth: fast.width, sourceHeight: fast.height };
  return decodeWithSharp(bytes, target, limits);
}

/** The general path: any format sharp reads, EXIF orientation, colour management, shrinking, rejects worded. */
export async function decodeWithSharp(bytes: Buffer, target: { width: number; height: number }, limits: DecodeLimits): Promise<DecodedImage> {
  if (bytes.length === 0) throw new DecodeError('empty file (0 bytes)');
  const bound = { width: NATIVE_SIZE_FACTOR * target.width, height: NATIVE_SIZE_FACTOR * target.height };
  const sharp = await loadSharp();
  const img: Sharp = sharp(bytes, { limitInputPixels: limits.maxPixels, failOn: 'warning' })
    .rotate()
    .resize(bound.width, bound.height, { fit: 'inside', withoutEnlargement: true })
    // Fruit photos are shot on white: transparent pixels become white, not black.
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .removeAlpha();
  let data: Buffer;
  let info: { width: number; height: number; channels: number };
  try {
    ({ data, info } = await img.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true }));
  } catch (err) {
    const reason = reasonOf(err, bytes);
    if (reason === 'over the pixel limit') {
      const size = await orientedSize(bytes).catch(() => undefined);
      if (size) throw new DecodeError(`over the pixel limit (${size.width}×${size.height} > ${limits.maxPixels} pixels)`);
    }
    throw new DecodeError(reason);
  }
  if (info.channels !== 3) throw new DecodeError(`unexpected ${info.channels} channels after conversion to sRGB`);
  // Output at the bound means the photo may have been shrunk: read its stored size from the header.
  const source = info.width === bound.width || info.height === bound.height ? await orientedSize(bytes) : { width: info.width, height: info.height };
  return { pixels: data, width: info.width, height: info.height, sourceWidth: source.width, sourceHeight: source.height };
}
