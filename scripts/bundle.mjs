// Bundles the compiled CLI and its worker entry points (dist/src → dist/bundle) with esbuild.
//
// Why: every `fruits` process, and every worker it starts, loads ~400 ES modules one file at a
// time (zod with all its locales, apache-arrow, the ONNX protobuf schema…): ~0.28 s of a worker's
// start-up, against ~0.15 s bundled, and ~0.25 s of CPU less per update of a dataset (measured:
// README, Growing collections). Only pure-JS packages are bundled; native addons, WebAssembly
// packages that load their .wasm beside them, and the big optional stacks (AWS SDK, BullMQ,
// Fastify, Vega, Telegram) stay ordinary imports from node_modules.
//
// All output files sit in one folder at the depth of dist/src's, so paths the code builds from
// import.meta.url (the worker scripts beside the runner, ../../package.json) hold for both.
import { chmodSync } from 'node:fs';
import { build } from 'esbuild';

const BUNDLED = new Set(['zod', 'apache-arrow', 'flatbuffers', 'tslib', '@bufbuild/protobuf', 'onnx-buf', 'commander', 'cli-progress', 'string-width', 'strip-ansi', 'ansi-regex', 'is-fullwidth-code-point', 'emoji-regex']);

/** `@scope/name/sub/path` → `@scope/name`; `name/sub` → `name`. */
function packageOf(specifier) {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

const onlyPureJs = {
  name: 'only-pure-js',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('node:')) return { path: args.path, external: true };
      return BUNDLED.has(packageOf(args.path)) ? undefined : { path: args.path, external: true };
    });
  },
};

await build({
  entryPoints: ['dist/src/cli/main.js', 'dist/src/runner/worker-process.js', 'dist/src/serve/inference-worker.js'],
  outdir: 'dist/bundle',
  entryNames: '[name]',
  chunkNames: '[name]-[hash]',
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  plugins: [onlyPureJs],
  // Bundled CommonJS packages (commander, cli-progress) require Node's modules.
  banner: { js: "import { createRequire as __fruitsCreateRequire } from 'node:module'; const require = __fruitsCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
chmodSync('dist/bundle/main.js', 0o755);
// The unbundled entry stays runnable too: npx keeps a project's bin link from an earlier install
// (dist/src/cli/main.js before the bundle), and a checkout updated in place would otherwise get
// "Permission denied" from `npx fruits`.
chmodSync('dist/src/cli/main.js', 0o755);
