// Test images made at test time with sharp from a real fruit photo: every colour space, bit
// depth and container the decoder must handle, and the broken files it must reject. Each kind
// checks that it really is what its name says (a "corrupt" JPEG that decodes would make the
// bad-input test meaningless).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp, { type Metadata, type Sharp } from 'sharp';
import { miniTestDir } from './paths.js';

/** A real 100×100 Fruits-360 photo (a banana on white), the base of every generated image. */
export const BASE_PHOTO = path.join(miniTestDir, 'Banana', '15_100.jpg');

/** The base photo stretched to width × height, as 8-bit RGB raw pixels. */
async function photo(width: number, height: number): Promise<Sharp> {
  const { data, info } = await sharp(BASE_PHOTO).resize(width, height, { fit: 'fill' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } });
}

export type ImageKind = 'jpeg' | 'png' | 'webp' | 'cmyk-jpeg' | 'gray-jpeg' | 'png16' | 'alpha-png' | 'palette-png' | 'exif6-jpeg';

/** An image file of the given kind; for 'exif6-jpeg' width × height is the stored (unrotated) size. */
export async function makeImage(kind: ImageKind, width: number, height: number): Promise<Buffer> {
  const img = await photo(width, height);
  let out: Buffer;
  switch (kind) {
    case 'jpeg':
      return img.jpeg({ quality: 90 }).toBuffer();
    case 'png':
      return img.png().toBuffer();
    case 'webp':
      return img.webp().toBuffer();
    case 'cmyk-jpeg':
      out = await img.toColourspace('cmyk').jpeg().toBuffer();
      await expectMeta(kind, out, (m) => m.space === 'cmyk' && m.channels === 4);
      return out;
    case 'gray-jpeg':
      out = await img.toColourspace('b-w').jpeg().toBuffer();
      await expectMeta(kind, out, (m) => m.channels === 1);
      return out;
    case 'png16':
      out = await img.toColourspace('rgb16').png().toBuffer();
      await expectMeta(kind, out, (m) => m.depth === 'ushort' && m.bitsPerSample === 16);
      return out;
    case 'alpha-png':
      // Half-transparent everywhere: the decoder must flatten it (on white), not drop alpha.
      out = await img.ensureAlpha(0.5).png().toBuffer();
      await expectMeta(kind, out, (m) => m.hasAlpha === true && m.channels === 4);
      return out;
    case 'palette-png':
      out = await img.png({ palette: true, colours: 16 }).toBuffer();
      await expectMeta(kind, out, (m) => m.isPalette === true);
      return out;
    case 'exif6-jpeg':
      // Orientation 6: shown rotated 90° clockwise, so the displayed size is height × width.
      out = await img.jpeg({ quality: 90 }).withMetadata({ orientation: 6 }).toBuffer();
      await expectMeta(kind, out, (m) => m.orientation === 6 && m.width === width && m.height === height);
      return out;
  }
}

async function expectMeta(kind: string, bytes: Buffer, ok: (m: Metadata) => boolean): Promise<void> {
  const m = await sharp(bytes).metadata();
  if (!ok(m)) throw new Error(`corpus: the generated ${kind} is not one (space ${m.space}, channels ${m.channels}, depth ${m.depth})`);
}

/** True when libvips, as strict as the decoder (failOn 'warning'), cannot decode the bytes. */
async function failsToDecode(bytes: Buffer): Promise<boolean> {
  try {
    await sharp(bytes, { failOn: 'warning' }).raw().toBuffer();
    return false;
  } catch {
    return true;
  }
}

/**
 * A JPEG whose header is intact but whose entropy-coded data has bytes flipped in the middle:
 * libjpeg reports "Corrupt JPEG data: …" (a warning, which the decoder treats as an error).
 */
export async function corruptJpeg(width: number, height: number): Promise<Buffer> {
  const jpg = await makeImage('jpeg', width, height);
  const sos = jpg.indexOf(Buffer.from([0xff, 0xda]));
  if (sos < 0) throw new Error('corpus: no SOS marker in the JPEG');
  const scanStart = sos + 2 + jpg.readUInt16BE(sos + 2);
  const mid = Math.floor((scanStart + jpg.length - 2) / 2);
  const out = Buffer.from(jpg);
  for (let i = mid; i < mid + 48; i++) out[i] ^= 0x55;
  if (!(await failsToDecode(out))) throw new Error('corpus: the corrupted JPEG still decodes cleanly');
  return out;
}

/** The first 60 % of a JPEG: the scan ends early ("premature end of JPEG image"). */
export async function truncatedJpeg(width: number, height: number): Promise<Buffer> {
  const jpg = await makeImage('jpeg', width, height);
  const out = jpg.subarray(0, Math.floor(jpg.length * 0.6));
  if (!(await failsToDecode(out))) throw new Error('corpus: the truncated JPEG still decodes');
  return out;
}

/** What the featurize run must make of a corpus file. */
export type Expectation =
  | { kind: 'row'; width: number; height: number }
  | { kind: 'reject'; reason: RegExp; notReason?: RegExp }
  /** Not listed at all (not an image extension, or hidden). */
  | { kind: 'ignored' };

export interface CorpusEntry {
  /** Key relative to the corpus root ('/'-separated): the `path` column / rejects' path. */
  key: string;
  label: string;
  what: string;
  expect: Expectation;
}

/** The pixel limit the bad-input run uses: every good image is under it, the "huge" one over. */
export const CORPUS_MAX_PIXELS = 50_000;

const LONG_NAME = `${'very-long-name-'.repeat(15)}end.jpg`; // 228 bytes: under ext4's 255

/**
 * Writes the bad-input corpus under `root` (label folders `good`, `bad`, `odd names`,
 * `Äpfel süß`) and returns what each file must become. Good images have distinct sizes, so
 * each row's width/height columns identify it.
 */
export async function writeBadInputCorpus(root: string): Promise<CorpusEntry[]> {
  const entries: CorpusEntry[] = [];
  const put = async (key: string, bytes: Buffer | string, what: string, expect: Expectation) => {
    const file = path.join(root, ...key.split('/'));
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, bytes);
    entries.push({ key, label: key.split('/').slice(-2)[0], what, expect });
  };
  const row = (width: number, height: number): Expectation => ({ kind: 'row', width, height });

  // Good, in every form the decoder must normalise to 8-bit RGB.
  await put('good/plain.jpg', await makeImage('jpeg', 100, 100), 'plain JPEG', row(100, 100));
  await put('good/cmyk.jpg', await makeImage('cmyk-jpeg', 101, 97), 'CMYK JPEG', row(101, 97));
  await put('good/gray.jpg', await makeImage('gray-jpeg', 102, 96), 'grayscale JPEG', row(102, 96));
  await put('good/deep16.png', await makeImage('png16', 103, 95), '16-bit PNG', row(103, 95));
  await put('good/alpha.png', await makeImage('alpha-png', 104, 94), 'PNG with alpha', row(104, 94));
  await put('good/palette.png', await makeImage('palette-png', 105, 93), 'palette PNG', row(105, 93));
  await put('good/photo.webp', await makeImage('webp', 106, 92), 'WebP', row(106, 92));
  // Stored 120 wide × 80 high with EXIF orientation 6: the row must say 80 × 120.
  await put('good/rotated.jpg', await makeImage('exif6-jpeg', 120, 80), 'EXIF-rotated JPEG', row(80, 120));
  await put('good/UPPER.JPEG', await makeImage('jpeg', 107, 91), 'upper-case extension', row(107, 91));

  // Odd names: all good images; the names must survive into the path column unchanged.
  await put('odd names/with space.jpg', await makeImage('jpeg', 108, 90), 'name with a space', row(108, 90));
  await put(`odd names/quote"double'single.jpg`, await makeImage('jpeg', 109, 89), 'name with quotes', row(109, 89));
  await put('odd names/comma, semicolon; done.jpg', await makeImage('jpeg', 110, 88), 'name with a comma', row(110, 88));
  await put('odd names/ünïcödé 果物.jpg', await makeImage('jpeg', 111, 87), 'unicode name', row(111, 87));
  await put('odd names/-leading-dash.jpg', await makeImage('jpeg', 112, 86), 'name with a leading dash', row(112, 86));
  await put(`odd names/${LONG_NAME}`, await makeImage('jpeg', 113, 85), 'very long name', row(113, 85));
  await put('Äpfel süß/apfel.jpg', await makeImage('jpeg', 114, 84), 'unicode label folder', row(114, 84));

  // Bad: each one a reject with a reason that names the problem.
  await put('bad/corrupt.jpg', await corruptJpeg(100, 100), 'corrupt JPEG (bytes flipped in the scan)', {
    kind: 'reject',
    reason: /^corrupt image data: /,
    notReason: /truncated/i, // the file is whole: calling it truncated would mislead
  });
  await put('bad/truncated.jpg', await truncatedJpeg(100, 100), 'truncated JPEG', { kind: 'reject', reason: /^truncated image: / });
  await put('bad/empty.jpg', Buffer.alloc(0), 'zero-byte file', { kind: 'reject', reason: /empty.*0 bytes/i });
  await put('bad/text, "not" an image.jpg', 'This is a text file, not a photo.\n', 'text file named .jpg', {
    kind: 'reject',
    reason: /not an image/i,
  });
  await put('bad/huge.png', await makeImage('png', 300, 300), 'over the pixel limit', { kind: 'reject', reason: /pixel limit.*300×300/i });

  // Unreadable. chmod 000 does not stop root (CAP_DAC_OVERRIDE), and tests may run as root: then
  // a dangling symlink named .jpg stands in for it, a file that is listed but cannot be read.
  // Its name holds a comma, so the reason (which quotes the full path) is a quoted CSV field.
  const unreadable = path.join(root, 'bad', 'unreadable, locked.jpg');
  await fs.writeFile(unreadable, await makeImage('jpeg', 100, 100));
  await fs.chmod(unreadable, 0o000);
  let readable = true;
  try {
    await fs.readFile(unreadable);
  } catch {
    readable = false;
  }
  if (readable) {
    await fs.rm(unreadable);
    await fs.symlink(path.join(root, 'bad', 'no-such-target.jpg'), unreadable);
  }
  entries.push({
    key: 'bad/unreadable, locked.jpg',
    label: 'bad',
    what: readable ? 'dangling symlink (running as root: chmod 000 would not block reading)' : 'file without read permission',
    expect: { kind: 'reject', reason: readable ? /unreadable.*no such file/i : /unreadable.*permission denied/i },
  });

  // Not images at all, or hidden: never listed, so neither rows nor rejects.
  await put('bad/readme.txt', 'notes\n', 'not an image extension', { kind: 'ignored' });
  await put('good/.hidden.jpg', await makeImage('jpeg', 50, 50), 'hidden file', { kind: 'ignored' });
  return entries;
}
