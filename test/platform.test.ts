// The project brings its own Node: the pinned `node` devDependency runs the tests (npm test) and
// whatever `npx` starts, even where the system's Node is older.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { cliEnv } from './helpers/cli.js';
import { repoRoot } from './helpers/paths.js';

const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
  engines: { node: string };
  devDependencies: Record<string, string>;
  allowScripts: Record<string, boolean>;
};
const pinned = pkg.devDependencies.node!;

describe('platform', () => {
  it('the tests run on the pinned Node 24 LTS', () => {
    assert.match(pinned, /^24\.\d+\.\d+$/, 'an exact Node 24 version');
    assert.equal(process.versions.node, pinned);
    assert.equal(pkg.engines.node, '>=22.12.0');
  });

  it('npx runs the pinned Node with the system PATH alone', () => {
    const bin = path.join(repoRoot, 'node_modules', '.bin');
    const env = cliEnv({ PATH: (process.env.PATH ?? '').split(path.delimiter).filter((p) => path.resolve(p) !== bin).join(path.delimiter) });
    const r = spawnSync('npm', ['exec', '--no', '--', 'node', '-p', 'process.versions.node'], { cwd: repoRoot, encoding: 'utf8', env });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), pinned);
  });

  it("onnxruntime-node's install script (a CUDA download) is denied", () => {
    assert.equal(pkg.allowScripts['onnxruntime-node'], false);
  });
});
