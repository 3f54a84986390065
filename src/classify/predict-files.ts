// Photos labelled with a bundle, file by file: the image files the arguments name, then batches
// of decoded photos through the classifier; a photo that cannot be read or decoded is a row with
// its reason, never a failure of the others.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { DecodedImage } from '../decode/decode.js';
import { DecodeError } from '../decode/decode.js';
import { isHiddenKey, isImageKey } from '../source/listing.js';
import { openStore } from '../storage/open.js';
import { UserError } from '../util/errors.js';
import type { Classified, ImageClassifier } from './image-classifier.js';

export interface PredictRow extends Partial<Classified> {
  path: string;
  error?: string;
}

/** The image files named by the arguments: files as given, folders searched recursively. */
export async function imageFiles(args: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const arg of args) {
    let stat;
    try {
      stat = await fs.stat(arg);
    } catch {
      throw new UserError(`${arg}: no such file or folder`);
    }
    if (stat.isFile()) {
      files.push(arg);
      continue;
    }
    const store = openStore(arg);
    const found: string[] = [];
    for await (const obj of store.list('')) if (!isHiddenKey(obj.key) && isImageKey(obj.key)) found.push(path.join(arg, obj.key));
    if (found.length === 0) throw new UserError(`${arg}: no images (.jpg, .jpeg, .png, .webp) in this folder`);
    files.push(...found);
  }
  return files;
}


export async function predictFiles(classifier: ImageClassifier, files: string[], o: { top: number; batchSize: number; maxPixels: number }): Promise<PredictRow[]> {
  const rows: PredictRow[] = [];
  for (let start = 0; start < files.length; start += o.batchSize) {
    const batch = files.slice(start, start + o.batchSize);
    const decoded = await Promise.all(
      batch.map(async (file): Promise<DecodedImage | string> => {
        try {
          return await classifier.decode(await fs.readFile(file), o.maxPixels);
        } catch (err) {
          if (err instanceof DecodeError) return err.reason;
          return `cannot read: ${(err as Error).message}`;
        }
      }),
    );
    const ok = decoded.filter((d): d is DecodedImage => typeof d !== 'string');
    const predictions = await classifier.classify(ok, o.top);
    let next = 0;
    batch.forEach((file, i) => {
      const d = decoded[i];
      rows.push(typeof d === 'string' ? { path: file, error: d } : { path: file, ...predictions[next++] });
    });
  }
  return rows;
}
