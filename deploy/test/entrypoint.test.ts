// The image's entrypoint, run as the container runs it (sh), with a stand-in CLI that reports
// the arguments and environment it received.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { scratchDir } from './support/scratch.js';
import { DEPLOY_DIR } from './support/synth.js';

const ENTRYPOINT = path.join(DEPLOY_DIR, 'image/entrypoint.sh');
const cli = path.join(scratchDir('entrypoint'), 'cli.mjs');
writeFileSync(
  cli,
  'process.stdout.write(JSON.stringify({ argv: process.argv.slice(2), url: process.env.FRUITS_REDIS_URL, password: process.env.REDIS_PASSWORD }));\n',
);

function run(env: Record<string, string>, args: string[] = ['worker']): { argv: string[]; url?: string; password?: string } {
  const out = execFileSync('sh', [ENTRYPOINT, ...args], { env: { PATH: process.env.PATH!, FRUITS_CLI: cli, ...env }, encoding: 'utf8' });
  return JSON.parse(out);
}

describe('image entrypoint', () => {
  it('builds a TLS Redis URL from the endpoint and the token ECS injects', () => {
    const r = run({ REDIS_HOST: 'master.fruits.abc123.euw3.cache.amazonaws.com', REDIS_PORT: '6379', REDIS_PASSWORD: 'Tok3n', REDIS_TLS: 'true' });
    assert.equal(r.url, 'rediss://:Tok3n@master.fruits.abc123.euw3.cache.amazonaws.com:6379');
    assert.equal(r.password, undefined, 'the token must not linger in the environment');
  });

  it('percent-encodes a token that would break the URL', () => {
    const r = run({ REDIS_HOST: 'h', REDIS_PORT: '6380', REDIS_PASSWORD: 'a:b@c/d%e f' });
    assert.equal(r.url, 'rediss://:a%3Ab%40c%2Fd%25e%20f@h:6380');
    assert.equal(decodeURIComponent(new URL(r.url!).password), 'a:b@c/d%e f');
  });

  it('speaks plain redis:// only when REDIS_TLS=false, and omits auth without a token', () => {
    assert.equal(run({ REDIS_HOST: 'localhost', REDIS_TLS: 'false' }).url, 'redis://localhost:6379');
  });

  it('leaves an explicit FRUITS_REDIS_URL alone', () => {
    assert.equal(run({ FRUITS_REDIS_URL: 'redis://127.0.0.1:7000', REDIS_HOST: 'other', REDIS_PASSWORD: 'x' }).url, 'redis://127.0.0.1:7000');
  });

  it('sets nothing when there is no Redis (e.g. fruits serve)', () => {
    assert.equal(run({}).url, undefined);
  });

  it('passes the arguments through untouched', () => {
    const args = ['run', 's3://b/images/Test', 's3://b/results/run 1', '--engine', 'distributed', '--variance', '0.95'];
    assert.deepEqual(run({}, args).argv, args);
  });
});
