// Usage errors, the command-line framework's included: exit 2, one `fruits: error:` line that
// names the command's --help, nothing on stdout, nothing written.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { runCli, show } from './helpers/cli.js';
import { miniTestDir, tempDir } from './helpers/paths.js';

async function usageError(args: string[], expected: RegExp, help: string): Promise<void> {
  const r = await runCli(args);
  assert.equal(r.code, 2, show(r));
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, show(r));
  assert.match(lines[0]!, /^fruits: error: /);
  assert.match(lines[0]!, expected);
  assert.ok(lines[0]!.endsWith(`(run '${help} --help' for usage)`), lines[0]);
  assert.equal(r.stdout, '');
}

describe('usage errors', () => {
  it('an unknown option, of the program and of a command', async () => {
    await usageError(['--bogus'], /unknown option '--bogus'/, 'fruits');
    await usageError(['featurize', miniTestDir, 'out', '--bogus'], /unknown option '--bogus'/, 'fruits featurize');
  });

  it('an unknown command, and no command at all', async () => {
    await usageError(['featurise', 'a', 'b'], /unknown command 'featurise'/, 'fruits');
    const r = await runCli([]);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /\nfruits: error: no command given \(run 'fruits --help' for usage\)\n$/);
  });

  it('a missing argument and too many arguments', async () => {
    await usageError(['fit', 'features-only'], /missing required argument 'pca-out'/, 'fruits fit');
    await usageError(['inspect', 'a', 'b'], /too many arguments/, 'fruits inspect');
  });

  it('a bad flag value writes nothing', async () => {
    const t = await tempDir('usage');
    try {
      const out = path.join(t.dir, 'out');
      await usageError(['featurize', miniTestDir, out, '--batch-size', 'eight'], /--batch-size: invalid value 'eight'/, 'fruits featurize');
      await usageError(['run', miniTestDir, out, '--variance', '1.5'], /--variance: invalid value '1.5'/, 'fruits run');
      assert.equal(existsSync(out), false);
    } finally {
      await t.cleanup();
    }
  });

  it('help and version are not errors', async () => {
    for (const args of [['--help'], ['featurize', '--help'], ['--version']]) {
      const r = await runCli(args);
      assert.equal(r.code, 0, show(r));
      assert.equal(r.stderr, '');
      assert.ok(r.stdout.length > 0);
    }
  });
});
