// The run id of a distributed run, known before the job starts (job ids are made of it): the
// --run-id flag, else the id of the previous run in the output (so that rerunning resumes and
// re-attaches), else a new timestamped one — the same choice runJob makes.
import { RUN_MANIFEST, readJsonOrNothing, runManifestHeadSchema } from '../../sink/formats.js';
import type { Store } from '../../storage/store.js';
import { checkRunId } from './jobs.js';

export function newRunId(now = new Date()): string {
  return `run-${now.toISOString().replace(/[:.]/g, '-')}`;
}

export async function runIdFor(output: Store, flagValue: string | undefined, overwrite: boolean): Promise<string> {
  if (flagValue !== undefined) return checkRunId(flagValue);
  if (!overwrite) {
    // A complete run updated with new photos is a new run of the queue (its tasks are other work);
    // an interrupted one keeps its id, to re-attach to its jobs.
    const previous = await readJsonOrNothing(output, RUN_MANIFEST, runManifestHeadSchema);
    if (typeof previous?.runId === 'string' && previous.status !== 'complete') return checkRunId(previous.runId);
  }
  return newRunId();
}
