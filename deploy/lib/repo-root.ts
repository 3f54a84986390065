// Where the repository is, for the files the stack takes from it (the Dockerfile's build context,
// names the app defines): the parent of the deploy package, wherever this file runs from (lib/
// via tsx, dist/lib/ compiled).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.dirname(deployPackageDir(path.dirname(fileURLToPath(import.meta.url))));

function deployPackageDir(from: string): string {
  for (let dir = from; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'fruits-deploy') return dir;
  }
  throw new Error(`fruits deploy: no fruits-deploy package.json above ${from}`);
}
