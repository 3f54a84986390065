// Where the tests find the repository, the compiled CLI and the shared data beside the checkout
// (`../shared`: the real MobileNetV2 model and the Fruits-360 mini photos; never copied here).
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findRepoRoot(start: string): string {
  // This file runs from dist/test/helpers/: walk up to the folder whose package.json is ours.
  for (let dir = start; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'fruits') return dir;
    if (path.dirname(dir) === dir) throw new Error(`no fruits package.json above ${start}`);
  }
}

export const repoRoot = findRepoRoot(path.dirname(fileURLToPath(import.meta.url)));
export const sharedDir = path.resolve(repoRoot, '..', 'shared');
export const modelsDir = path.join(sharedDir, 'models');
export const sharedModelPath = path.join(modelsDir, 'mobilenet_v2_1.0_224.onnx');
export const SHARED_MODEL_SHA256 = 'a8961673f3c0da90d24e05f6bb2470188e85057081406f194cf827cad33c0fa3';
export const miniTestDir = path.join(sharedDir, 'data', 'fruits360-mini', 'Test');
/** The CLI as installed (`bin` of package.json: the bundle `npm run build` makes after `tsc`). */
export const cliMain = path.join(repoRoot, 'dist', 'bundle', 'main.js');

for (const p of [sharedModelPath, miniTestDir, cliMain]) {
  if (!existsSync(p)) throw new Error(`test setup: ${p} is missing (shared data beside the checkout, and a build with tsc)`);
}

/** The class folders of the mini Test set, in byte-wise order. */
export async function miniTestClasses(): Promise<string[]> {
  const names = (await fs.readdir(miniTestDir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  return names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/** The images of one class folder, in byte-wise order (file names only). */
export async function miniTestImages(className: string): Promise<string[]> {
  const names = await fs.readdir(path.join(miniTestDir, className));
  return names.filter((n) => /\.jpe?g$/i.test(n)).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/** A fresh temp folder, removed by the returned `cleanup`. */
export async function tempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `fruits-${prefix}-`));
  return { dir, cleanup: () => fs.rm(dir, { recursive: true, force: true }) };
}

/**
 * A small input folder mirroring `<Class>/<file>` of the mini Test set with symlinked files (so
 * the `path` keys equal those of a run on the whole set).
 */
export async function linkSubset(target: string, classes: string[], perClass: number): Promise<string[]> {
  const keys: string[] = [];
  for (const c of classes) {
    await fs.mkdir(path.join(target, c), { recursive: true });
    for (const f of (await miniTestImages(c)).slice(0, perClass)) {
      await fs.symlink(path.join(miniTestDir, c, f), path.join(target, c, f));
      keys.push(`${c}/${f}`);
    }
  }
  return keys;
}
