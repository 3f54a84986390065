// Small inline thumbnails for the evaluation report: data: URIs (the report has no network and
// no side files), made with sharp from the images when their folder is reachable.
import sharp from 'sharp';
import { openStore } from '../storage/open.js';

const SIZE = 96;

/** A JPEG thumbnail of one image as a data: URI, or undefined when it cannot be read. */
export async function thumbnailUri(bytes: Buffer): Promise<string | undefined> {
  try {
    const jpeg = await sharp(bytes, { limitInputPixels: 100_000_000, failOn: 'none' })
      .rotate()
      .resize(SIZE, SIZE, { fit: 'inside', withoutEnlargement: true })
      .flatten({ background: '#ffffff' })
      .jpeg({ quality: 72, mozjpeg: true })
      .toBuffer();
    return `data:image/jpeg;base64,${jpeg.toString('base64')}`;
  } catch {
    return undefined;
  }
}

/** Thumbnails of `paths` (relative to `root`), at most `limit` of them; missing ones are skipped. */
export async function thumbnailsFor(root: string | undefined, paths: readonly string[], limit: number): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!root) return out;
  let store;
  try {
    store = openStore(root);
  } catch {
    return out;
  }
  for (const p of paths.slice(0, limit)) {
    const bytes = await store.read(p).catch(() => undefined);
    const uri = bytes && (await thumbnailUri(bytes));
    if (uri) out.set(p, uri);
  }
  return out;
}
