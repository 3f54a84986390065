// docs/deploy.md is the runbook: its settings table and the outputs it uses must be the stack's.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CONFIG_KEYS, readConfig } from '../lib/config.js';
import { DEPLOY_DIR, synth } from './support/synth.js';

const doc = readFileSync(path.join(DEPLOY_DIR, '../docs/deploy.md'), 'utf8');
const settings = doc.slice(doc.indexOf('\n## Settings'), doc.indexOf('\n## ', doc.indexOf('\n## Settings') + 1));

describe('docs/deploy.md', () => {
  it('documents every setting, and only real ones', () => {
    const rows = settings.split('\n').filter((l) => l.startsWith('| `'));
    const documented = new Set(rows.flatMap((l) => [...l.split('|')[1].matchAll(/`(\w+)`/g)].map((m) => m[1])));
    assert.deepEqual([...documented].filter((k) => !(CONFIG_KEYS as string[]).includes(k)), [], 'documented but unknown');
    assert.deepEqual(CONFIG_KEYS.filter((k) => !documented.has(k)), [], 'settings missing from the table');
  });

  it('states the defaults the code has', () => {
    const defaults = readConfig(() => undefined) as Record<string, unknown>;
    let checked = 0;
    for (const row of settings.split('\n').filter((l) => l.startsWith('| `'))) {
      const [, keyCell, defaultCell] = row.split('|');
      const keys = [...keyCell.matchAll(/`(\w+)`/g)].map((m) => m[1]);
      const values = [...defaultCell.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
      if (values.length !== keys.length) continue; // "generated", "the app's", "—": no literal default
      keys.forEach((key, i) => assert.equal(String(defaults[key]), values[i], key));
      checked += keys.length;
    }
    assert.ok(checked >= 25, `only ${checked} defaults checked`);
  });

  it('uses outputs the stack has', () => {
    const outputs = Object.keys(synth({ serve: 'true', telegram: 'true' }).json.Outputs!);
    const used = new Set([...doc.matchAll(/\$\(out (\w+)\)/g)].map((m) => m[1]));
    assert.ok(used.size >= 5);
    for (const name of used) assert.ok(outputs.includes(name), `docs use output ${name}`);
    for (const name of outputs) assert.ok(doc.includes(`\`${name}\``), `output ${name} is not documented`);
  });
});
