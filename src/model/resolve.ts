// Finds the model file to use: --model (a file or a registry id) → FRUITS_MODEL_DIR → the user
// cache; a registry entry with a URL is downloaded into the cache and verified before use.
import { promises as fs, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UserError } from '../util/errors.js';
import { sha256File } from '../util/hash.js';
import { REGISTRY, registryEntry } from './registry.js';
import { parseModelSpec, type ModelSpec } from './spec.js';

export interface ResolvedModel {
  spec: ModelSpec;
  /** Absolute path of the verified .onnx file. */
  path: string;
  sha256: string;
}

/** How a run or a bundle names its model: by spec and checksum, so any machine can find and verify it. */
export interface ModelRef {
  spec: ModelSpec;
  sha256: string;
  /** Where the model was found when the run started or the bundle was trained; elsewhere, a hint only. */
  path?: string;
}

export interface ResolveOptions {
  /** A path to an .onnx file, or a registry id. */
  model?: string;
  /** A JSON model spec (for a model the registry does not know). */
  specFile?: string;
  modelDir?: string;
  cacheDir?: string;
  /** Download a registry model that is nowhere local (default true). */
  download?: boolean;
  log?: (msg: string) => void;
}

export function defaultCacheDir(env = process.env): string {
  if (env.FRUITS_CACHE_DIR) return path.resolve(env.FRUITS_CACHE_DIR);
  const base = env.XDG_CACHE_HOME ? env.XDG_CACHE_HOME : path.join(os.homedir(), '.cache');
  return path.join(base, 'fruits');
}

async function readSpecFile(file: string): Promise<ModelSpec> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    throw new UserError(`model spec ${file}: cannot read the file`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new UserError(`model spec ${file}: not valid JSON`);
  }
  try {
    return parseModelSpec(json, `model spec ${file}`);
  } catch (err) {
    throw new UserError((err as Error).message);
  }
}

async function verified(file: string, spec: ModelSpec): Promise<ResolvedModel> {
  const sha = await sha256File(file);
  if (spec.sha256 && spec.sha256 !== sha) {
    throw new UserError(`model ${file}: sha256 ${sha} does not match the expected ${spec.sha256} of ${spec.id}; not using it`);
  }
  return { spec, path: path.resolve(file), sha256: sha };
}

function searchDirs(opts: ResolveOptions): string[] {
  const dirs: string[] = [];
  const modelDir = opts.modelDir ?? process.env.FRUITS_MODEL_DIR;
  if (modelDir) dirs.push(path.resolve(modelDir));
  dirs.push(path.join(opts.cacheDir ?? defaultCacheDir(), 'models'));
  return dirs;
}

function findLocal(spec: ModelSpec, opts: ResolveOptions): string | undefined {
  for (const dir of searchDirs(opts)) {
    const file = path.join(dir, spec.file);
    if (existsSync(file)) return file;
  }
  return undefined;
}

/** Downloads into the cache through a temporary file; the file is kept only if its sha256 matches. */
export async function downloadModel(spec: ModelSpec, cacheDir: string, log?: (m: string) => void): Promise<string> {
  if (!spec.url) throw new UserError(`model ${spec.id}: no local copy and no download URL`);
  if (!spec.sha256) throw new UserError(`model ${spec.id}: refusing to download without a sha256 to verify`);
  const dir = path.join(cacheDir, 'models');
  await fs.mkdir(dir, { recursive: true });
  const target = path.join(dir, spec.file);
  const tmp = `${target}.${process.pid}.download`;
  log?.(`downloading ${spec.id} from ${spec.url}`);
  let res: Response;
  try {
    res = await fetch(spec.url, { redirect: 'follow' });
  } catch (err) {
    // The network may come back: not a UserError, so that a runner tries the task again.
    throw new Error(`model ${spec.id}: download from ${spec.url} failed: ${(err as Error).message}`);
  }
  if (!res.ok || !res.body) {
    const transient = res.status >= 500 || res.status === 429;
    throw new (transient ? Error : UserError)(`model ${spec.id}: download from ${spec.url} failed: HTTP ${res.status}`);
  }
  try {
    await fs.writeFile(tmp, Buffer.from(await res.arrayBuffer()));
    const sha = await sha256File(tmp);
    if (sha !== spec.sha256) {
      throw new UserError(`model ${spec.id}: downloaded file has sha256 ${sha}, expected ${spec.sha256}; discarded`);
    }
    await fs.rename(tmp, target);
  } finally {
    await fs.rm(tmp, { force: true });
  }
  return target;
}

export async function resolveModel(opts: ResolveOptions = {}): Promise<ResolvedModel> {
  const customSpec = opts.specFile ? await readSpecFile(opts.specFile) : undefined;
  const m = opts.model;
  if (m && (m.endsWith('.onnx') || existsSync(m))) {
    if (!existsSync(m)) throw new UserError(`model ${m}: no such file`);
    const sha = await sha256File(m);
    const sidecar = m.replace(/\.onnx$/i, '.json');
    const spec = customSpec ?? registryEntry(sha) ?? (existsSync(sidecar) && sidecar !== m ? await readSpecFile(sidecar) : undefined);
    if (!spec) {
      throw new UserError(
        `model ${m} (sha256 ${sha.slice(0, 12)}…) is not a known model: describe it with --model-spec <spec.json> (input name, size, layout, normalisation, feature tensor)`,
      );
    }
    return verified(m, spec);
  }
  const candidates = customSpec ? [customSpec] : m ? [registryEntry(m)].filter((s): s is ModelSpec => !!s) : [...REGISTRY];
  if (candidates.length === 0) {
    throw new UserError(`model ${m}: neither a file nor a known model id (known: ${REGISTRY.map((r) => r.id).join(', ')})`);
  }
  for (const spec of candidates) {
    const local = findLocal(spec, opts);
    if (local) return verified(local, spec);
  }
  const downloadable = candidates.find((s) => s.url);
  if (downloadable && opts.download !== false) {
    const file = await downloadModel(downloadable, opts.cacheDir ?? defaultCacheDir(), opts.log);
    return verified(file, downloadable);
  }
  throw new UserError(
    `no model file found for ${candidates.map((c) => c.id).join(' or ')}: looked in ${searchDirs(opts).join(', ')} (set FRUITS_MODEL_DIR or pass --model <file.onnx>)`,
  );
}

/**
 * The one lookup of a model named by reference (a distributed worker, a bundle, a serving
 * process): the file at `ref.path`, then `<FRUITS_MODEL_DIR or the cache>/<spec.file>` (and the
 * path's own file name there), the first whose sha256 is the reference's; a registry model is
 * downloaded and verified if it is nowhere. Which path the coordinator saw does not matter.
 */
export async function locateModel(ref: ModelRef, opts: Omit<ResolveOptions, 'model' | 'specFile'> = {}): Promise<ResolvedModel> {
  const names = [...new Set([ref.spec.file, ...(ref.path ? [path.basename(ref.path)] : [])])];
  const candidates = [...new Set([...(ref.path ? [path.resolve(ref.path)] : []), ...searchDirs(opts).flatMap((d) => names.map((n) => path.join(d, n)))])];
  const others: string[] = [];
  for (const file of candidates) {
    if (!existsSync(file)) continue;
    const sha = await sha256File(file);
    if (sha === ref.sha256) return { spec: ref.spec, path: file, sha256: sha };
    others.push(`${file} (sha256 ${sha.slice(0, 12)}…)`);
  }
  const known = registryEntry(ref.sha256);
  if (known?.url && opts.download !== false) {
    const file = await downloadModel(known, opts.cacheDir ?? defaultCacheDir(), opts.log);
    return { spec: ref.spec, path: file, sha256: ref.sha256 };
  }
  const differs = others.length ? `; other files there: ${others.join(', ')}` : '';
  throw new UserError(
    `model ${ref.spec.id} (sha256 ${ref.sha256.slice(0, 12)}…): no file with that checksum among ${candidates.join(', ')}${differs} (put ${ref.spec.file} in FRUITS_MODEL_DIR)`,
  );
}
