// Decoding and the part of preprocessing that belongs to the decoder: EXIF orientation, any
// colour space / alpha / bit depth / palette → 8-bit sRGB. The resize to the model's size and
// the normalisation run inside ONNX Runtime (see model/graph-edit.ts): on small photos that is
// ~4× cheaper than resizing here. Large photos are still shrunk here, where JPEG
// shrink-on-load makes decoding itself cheaper.
import sharp, { type Metadata, type SharpOptions } from 'sharp';

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

export const DEFAULT_MAX_PIXELS = 100_000_000;

// Photos up to this many times the model's area are decoded at their own size (batched by size
// and resized in the graph); larger ones are resized by sharp to exactly the model's size.
const NATIVE_AREA_FACTOR = 2;

function reasonOf(err: unknown): string {
  const msg = (err as Error)?.message ?? String(err);
  if (/unsupported image format/i.test(msg)) return 'not an image (unsupported format)';
  if (/pixel limit/i.test(msg)) return 'over the pixel limit';
  // libjpeg says "Corrupt JPEG data: premature end of data segment" for damaged scan data in a
  // whole file: that is corruption, not truncation (a truncated file ends "…end of JPEG image").
  if (/corrupt jpeg data/i.test(msg)) return `corrupt image data: ${msg.split('\n')[0]}`;
  if (/premature end|truncated|unexpected end/i.test(msg)) return `truncated image: ${msg.split('\n')[0]}`;
  return `cannot decode: ${msg.split('\n')[0]}`;
}

export async function decodeImage(bytes: Buffer, target: { width: number; height: number }, limits: DecodeLimits): Promise<DecodedImage> {
  if (bytes.length === 0) throw new DecodeError('empty file (0 bytes)');
  const options: SharpOptions = { limitInputPixels: limits.maxPixels, failOn: 'warning' };
  let meta: Metadata;
  try {
    // Header only, so no pixel limit here: the check below can then name the size and the limit.
    meta = await sharp(bytes, { ...options, limitInputPixels: false }).metadata();
  } catch (err) {
    throw new DecodeError(reasonOf(err));
  }
  if (!meta.width || !meta.height) throw new DecodeError('not an image (no dimensions)');
  if (meta.width * meta.height > limits.maxPixels) {
    throw new DecodeError(`over the pixel limit (${meta.width}×${meta.height} > ${limits.maxPixels} pixels)`);
  }
  // EXIF orientations 5–8 swap width and height.
  const swap = (meta.orientation ?? 1) >= 5;
  const sourceWidth = swap ? meta.height : meta.width;
  const sourceHeight = swap ? meta.width : meta.height;
  let img = sharp(bytes, options).rotate();
  if (sourceWidth * sourceHeight > NATIVE_AREA_FACTOR * target.width * target.height) {
    img = img.resize(target.width, target.height, { fit: 'fill' });
  }
  // Fruit photos are shot on white: transparent pixels become white, not black.
  if (meta.hasAlpha) img = img.flatten({ background: '#ffffff' });
  img = img.toColourspace('srgb').removeAlpha();
  try {
    const { data, info } = await img.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new DecodeError(`unexpected ${info.channels} channels after conversion to sRGB`);
    return { pixels: data, width: info.width, height: info.height, sourceWidth, sourceHeight };
  } catch (err) {
    if (err instanceof DecodeError) throw err;
    throw new DecodeError(reasonOf(err));
  }
}
