// Finds the featurizer weights a bundle was trained with, and refuses any other file: a bundle's
// classifier only means something on features from the very same network and weights.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { defaultCacheDir, resolveModel, type ResolvedModel } from '../model/resolve.js';
import { registryEntry } from '../model/registry.js';
import { sha256File } from '../util/hash.js';
import type { Bundle } from './bundle.js';
import { BundleMismatchError } from './inputs.js';

/**
 * `override` (--model) is an .onnx file; otherwise the bundle's model file is looked up in
 * FRUITS_MODEL_DIR and the cache, and a registry model may be downloaded (and verified).
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
  const dirs = [process.env.FRUITS_MODEL_DIR, path.join(defaultCacheDir(), 'models')].filter((d): d is string => !!d);
  for (const dir of dirs) {
    const file = path.join(dir, spec.file);
    if (existsSync(file)) return check(file, await sha256File(file));
  }
  if (registryEntry(sha256)) {
    const resolved = await resolveModel({ model: id, log });
    return check(resolved.path, resolved.sha256);
  }
  throw new BundleMismatchError(`no model file ${spec.file} for the bundle's featurizer ${id}: looked in ${dirs.join(', ')} (set FRUITS_MODEL_DIR or pass --model <file.onnx>)`);
}
