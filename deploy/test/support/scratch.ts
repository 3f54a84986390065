// Temporary folders for a test process, removed when it exits (synth outputs hold a copy of src/).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const made: string[] = [];
process.on('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

export function scratchDir(name: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `fruits-deploy-${name}-`));
  made.push(dir);
  return dir;
}
