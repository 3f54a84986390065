// Runs every test: the compiled node:test files of the package, then (when its dependencies are
// installed) the deploy/ CDK app's tests. Exit code: non-zero if any part failed.
// Usage: node scripts/run-tests.mjs [filter-substring...]   (a filter skips the deploy tests)
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}
const filters = process.argv.slice(2);
const files = walk('dist/test').filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
let status = 0;
if (filters.length === 0 && existsSync('deploy/node_modules')) {
  console.log('== deploy/ (CDK app)');
  const d = spawnSync('npm', ['--prefix', 'deploy', 'test'], { stdio: 'inherit' });
  status ||= d.status ?? 1;
}
console.log(`== ${files.length} test files`);
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files], { stdio: 'inherit' });
status ||= r.status ?? 1;
process.exit(status);
