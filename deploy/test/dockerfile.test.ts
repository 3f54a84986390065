// The image cannot be built here (no Docker engine): lint its Dockerfile, check the rules it must
// keep, and check the build context CDK stages for it holds what its COPY lines need, and only that.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { DEPLOY_DIR, synth } from './support/synth.js';

const REPO = path.resolve(DEPLOY_DIR, '..');
const DOCKERFILE = path.join(REPO, 'Dockerfile');
const text = readFileSync(DOCKERFILE, 'utf8');
const bin = (name: string) => path.join(DEPLOY_DIR, 'node_modules/.bin', name);

interface Instruction {
  op: string;
  args: string;
}

/** Instructions (continuations joined, comments dropped), grouped by stage. */
function stages(source: string): { from: string; body: Instruction[] }[] {
  const lines = source.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const out: { from: string; body: Instruction[] }[] = [];
  for (const line of lines) {
    const [, op, args] = /^(\S+)\s+(.*)$/.exec(line)!;
    if (op.toUpperCase() === 'FROM') out.push({ from: args, body: [] });
    else out.at(-1)?.body.push({ op: op.toUpperCase(), args });
  }
  return out;
}

function files(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? files(p, base) : [path.relative(base, p)];
  });
}

const all = stages(text);
const runtime = all.at(-1)!;
const argDefault = (name: string) => new RegExp(`^ARG ${name}=(\\S+)$`, 'm').exec(text.replace(/\\\n/g, ' '))?.[1];

describe('Dockerfile', () => {
  it('passes dockerfile-utils (syntax) and dockerfilelint (practices) with no finding', () => {
    assert.deepEqual(JSON.parse(execFileSync(bin('dockerfile-utils'), ['lint', '--json', DOCKERFILE], { encoding: 'utf8' })), []);
    const report = JSON.parse(execFileSync(bin('dockerfilelint'), ['-o', 'json', DOCKERFILE], { encoding: 'utf8' }));
    assert.equal(report.totalIssues, 0, JSON.stringify(report.files[0].issues));
  });

  it('builds in stages and ships a slim runtime with production dependencies only', () => {
    assert.ok(all.length >= 3, 'model, build and runtime stages');
    assert.match(runtime.from, /-slim AS runtime$/);
    const build = all.find((s) => / AS build$/.test(s.from))!;
    const runs = build.body.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n');
    assert.match(runs, /npm ci\b/);
    assert.match(runs, /npm run build/);
    assert.match(runs, /npm prune --omit=dev/);
    // No install script runs in the image (onnxruntime-node's would download CUDA binaries).
    assert.match(runs, /npm ci --ignore-scripts/);
    assert.equal(argDefault('NODE_VERSION'), '24');
    // The runtime gets build outputs only, never the build stage's dev node_modules before pruning.
    for (const copy of runtime.body.filter((i) => i.op === 'COPY' && i.args.startsWith('--from=build'))) {
      assert.match(copy.args, /\/app\/(package\.json|node_modules|dist) /);
    }
    assert.ok(!runtime.body.some((i) => i.op === 'RUN' && /npm (ci|install)/.test(i.args)), 'no install in the runtime stage');
  });

  it('runs as a non-root user', () => {
    const users = runtime.body.filter((i) => i.op === 'USER').map((i) => i.args);
    assert.ok(users.length > 0, 'no USER in the runtime stage');
    assert.ok(!/^(root|0)(:|$)/.test(users.at(-1)!), `runs as ${users.at(-1)}`);
    const entry = runtime.body.findIndex((i) => i.op === 'ENTRYPOINT');
    const user = runtime.body.findIndex((i) => i.op === 'USER');
    assert.ok(user < entry);
  });

  it('bakes in no secret', () => {
    for (const s of all) {
      for (const i of s.body.filter((x) => x.op === 'ARG' || x.op === 'ENV')) {
        assert.doesNotMatch(i.args, /(SECRET|PASSWORD|TOKEN|ACCESS_KEY|CREDENTIAL|AUTH)/i, `${i.op} ${i.args}`);
      }
      for (const i of s.body.filter((x) => x.op === 'COPY' || x.op === 'ADD')) {
        assert.doesNotMatch(i.args, /^\.\s|\s\.\s|\.aws|\.ssh|\.env\b/, `${i.op} ${i.args}`);
      }
    }
  });

  it('verifies the model it downloads against the checksum the app expects', () => {
    const model = all.find((s) => / AS model$/.test(s.from))!;
    const run = model.body.find((i) => i.op === 'RUN')!.args;
    assert.match(run, /curl --fail[^&]*"\$\{MODEL_URL\}"\s*&& echo "\$\{MODEL_SHA256\}  \$\{MODEL_FILE\}" \| sha256sum --check --strict -/);
    const sha = argDefault('MODEL_SHA256')!;
    const file = argDefault('MODEL_FILE')!;
    assert.match(sha, /^[0-9a-f]{64}$/);
    // The app's model registry must know this file by this checksum, or it would refuse it.
    const sources = files(path.join(REPO, 'src')).filter((f) => f.endsWith('.ts')).map((f) => readFileSync(path.join(REPO, 'src', f), 'utf8'));
    assert.ok(sources.some((s) => s.includes(sha) && s.includes(`'${file}'`)), `no model spec in src/ for ${file} with sha256 ${sha}`);
    const modelDir = /FRUITS_MODEL_DIR=(\S+)/.exec(runtime.body.filter((i) => i.op === 'ENV').map((i) => i.args).join(' '))![1];
    assert.ok(runtime.body.some((i) => i.op === 'COPY' && i.args === `--from=model /models/ ${modelDir}/`), 'the model is not copied into FRUITS_MODEL_DIR');
  });

  it('starts the fruits bin through the entrypoint', () => {
    assert.deepEqual(JSON.parse(runtime.body.find((i) => i.op === 'ENTRYPOINT')!.args), ['/usr/local/bin/fruits-entrypoint']);
    assert.ok(runtime.body.some((i) => i.op === 'COPY' && i.args === 'deploy/image/entrypoint.sh /usr/local/bin/fruits-entrypoint'));
    const pkg = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    const entrypoint = readFileSync(path.join(DEPLOY_DIR, 'image/entrypoint.sh'), 'utf8');
    assert.ok(entrypoint.includes(`cli="\${FRUITS_CLI:-/app/${pkg.bin.fruits}}"`), `entrypoint does not run /app/${pkg.bin.fruits}`);
  });
});

describe('image build context', () => {
  const { outdir } = synth();
  const manifest = JSON.parse(readFileSync(path.join(outdir, 'Fruits.assets.json'), 'utf8'));
  const images = Object.values(manifest.dockerImages) as { source: { directory: string; platform: string } }[];
  const context = path.join(outdir, images[0].source.directory);
  const staged = files(context);

  it('is one linux/amd64 image asset built from the repository Dockerfile', () => {
    assert.equal(images.length, 1, 'all tasks share one image');
    assert.equal(images[0].source.platform, 'linux/amd64');
    assert.equal(readFileSync(path.join(context, 'Dockerfile'), 'utf8'), text);
  });

  it('holds every file the Dockerfile copies from the context', () => {
    const sources = all
      .flatMap((s) => s.body)
      .filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))
      .flatMap((i) => i.args.split(/\s+/).filter((a) => !a.startsWith('--')).slice(0, -1));
    assert.ok(sources.length >= 5);
    for (const src of sources) assert.ok(existsSync(path.join(context, src)), `${src} is not in the build context`);
    assert.ok(statSync(path.join(context, 'deploy/image/entrypoint.sh')).mode & 0o111, 'entrypoint is not executable');
  });

  it('holds nothing else: no node_modules, no cdk.out, no git, no data', () => {
    const allowed = /^(Dockerfile|\.dockerignore|package\.json|package-lock\.json|tsconfig\.json|deploy\/image\/entrypoint\.sh|scripts\/bundle\.mjs|src\/.+)$/;
    const extra = staged.filter((f) => !allowed.test(f));
    assert.deepEqual(extra, []);
    for (const f of staged) assert.doesNotMatch(readFileSync(path.join(context, f), 'utf8'), /_authToken|AKIA[0-9A-Z]{16}|BEGIN (RSA |EC )?PRIVATE KEY/, f);
  });
});
