// The run id of `fruits run`, the one rule for both engines (a distributed runner needs it before
// the job starts: job ids are made of it): --run-id, else the id of an interrupted run in the
// output (a rerun resumes it and re-attaches to its jobs), else a new timestamped one (a fresh
// output, --overwrite, or an update of a complete run — other work, so another run).
import { checkRunId } from '../runner/distributed/jobs.js';
import { RUN_MANIFEST, readJsonOrNothing, runManifestHeadSchema } from '../sink/formats.js';
import type { Store } from '../storage/store.js';

export function newRunId(now = new Date()): string {
  return `run-${now.toISOString().replace(/[:.]/g, '-')}`;
}

export async function chooseRunId(output: Store, flagValue: string | undefined, overwrite: boolean): Promise<string> {
  if (flagValue !== undefined) return checkRunId(flagValue);
  if (!overwrite) {
    const previous = await readJsonOrNothing(output, RUN_MANIFEST, runManifestHeadSchema);
    if (typeof previous?.runId === 'string' && previous.status !== 'complete') return checkRunId(previous.runId);
  }
  return newRunId();
}
