// Lists the images under an input location: recursive, by extension (any case), in byte-wise
// key order (the same on a folder and on S3), label = the name of the image's parent folder.
import type { Store } from '../storage/store.js';
import { UserError } from '../util/errors.js';

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp'] as const;

export interface ImageRef {
  /** Key relative to the input root, '/'-separated: the `path` column. */
  key: string;
  label: string;
  size: number;
  /** The store's version of the object (mtime locally, ETag on S3): an update compares it. */
  version?: string;
}

export function isImageKey(key: string): boolean {
  const lower = key.toLowerCase();
  return IMAGE_EXTENSIONS.some((ext) => lower.endsWith(ext));
}

/** Hidden files and folders (`.DS_Store`, `.ipynb_checkpoints/…`, our own temporaries) are not data. */
export function isHiddenKey(key: string): boolean {
  return key.startsWith('.') || key.includes('/.');
}

/** The parent folder's name; an image at the root takes the root folder's own name. */
export function labelOf(key: string, rootName: string): string {
  const parts = key.split('/');
  return parts.length >= 2 ? parts[parts.length - 2] : rootName;
}

export function rootNameOf(root: string): string {
  const parts = root.replace(/\/+$/, '').split(/[\\/]/);
  return parts[parts.length - 1] || root;
}

export async function* listImages(store: Store, opts: { limit?: number } = {}): AsyncIterable<ImageRef> {
  const rootName = rootNameOf(store.root);
  let n = 0;
  if (opts.limit !== undefined && opts.limit <= 0) return;
  for await (const obj of store.list('')) {
    if (isHiddenKey(obj.key) || !isImageKey(obj.key)) continue;
    yield { key: obj.key, label: labelOf(obj.key, rootName), size: obj.size, version: obj.version };
    if (opts.limit !== undefined && ++n >= opts.limit) return;
  }
}

/**
 * Checks an input location before a job writes anything: a missing or empty folder, a prefix
 * without images, or an unreachable bucket (a StorageError) is one clear line.
 */
export async function assertHasImages(input: Store): Promise<void> {
  const first = await listImages(input, { limit: 1 })[Symbol.asyncIterator]().next();
  if (!first.done) return;
  let anything = false;
  for await (const _ of input.list('')) {
    anything = true;
    break;
  }
  throw new UserError(anything ? `input ${input.root}: no images (.jpg, .jpeg, .png, .webp) found` : `input ${input.root}: no such folder, or it is empty`);
}
