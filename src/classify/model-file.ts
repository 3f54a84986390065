// Finds the featurizer weights a bundle was trained with, and refuses any other file: a bundle's
// classifier only means something on features from the very same network and weights.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { locateModel, type ResolvedModel } from '../model/resolve.js';
import { UserError } from '../util/errors.js';
import { sha256File } from '../util/hash.js';
import type { Bundle } from './bundle.js';
import { BundleMismatchError } from './inputs.js';

/**
 * `override` (--model) is an .onnx file; otherwise the bundle's model is located by its spec and
 * sha256 as everywhere else (FRUITS_MODEL_DIR, the cache, a verified download of a registry model).
 */
export async function resolveBundleModel(bundle: Pick<Bundle, 'dir' | 'featurizer'>, override?: string, log?: (m: string) => void): Promise<ResolvedModel> {
  const { id, sha256, spec } = bundle.featurizer;
  const check = (file: string, sha: string): ResolvedModel => {
    if (sha !== sha256) {
      throw new BundleMismatchError(`model ${file} (sha256 ${sha.slice(0, 12)}…) is not the featurizer bundle ${bundle.dir} was trained with (${id}, sha256 ${sha256.slice(0, 12)}…)`);
    }
    return { spec, path: path.resolve(file), sha256: sha };
  };
  if (override) {
    if (!existsSync(override)) throw new BundleMismatchError(`model ${override}: no such file`);
    return check(override, await sha256File(override));
  }
  try {
    return await locateModel({ spec, sha256 }, { log });
  } catch (err) {
    if (err instanceof UserError) throw new BundleMismatchError(`the bundle's featurizer: ${err.message} (or pass --model <file.onnx>)`);
    throw err;
  }
}
