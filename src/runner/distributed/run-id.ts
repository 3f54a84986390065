// The run id of a distributed run, known before the job starts (job ids are made of it): the
// --run-id flag, else the id of the previous run in the output (so that rerunning resumes and
// re-attaches), else a new timestamped one — the same choice runJob makes.
import { readJson } from '../../sink/dataset.js';
import { RUN_MANIFEST } from '../../pipeline/run.js';
import type { Store } from '../../storage/store.js';
import { checkRunId } from './jobs.js';

export function newRunId(now = new Date()): string {
  return `run-${now.toISOString().replace(/[:.]/g, '-')}`;
}

export async function runIdFor(output: Store, flagValue: string | undefined, overwrite: boolean): Promise<string> {
  if (flagValue !== undefined) return checkRunId(flagValue);
  if (!overwrite) {
    const previous = await readJson<{ runId?: unknown }>(output, RUN_MANIFEST).catch(() => undefined);
    if (typeof previous?.runId === 'string') return checkRunId(previous.runId);
  }
  return newRunId();
}
