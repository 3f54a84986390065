// The identity of a compaction plan, apart from the task that runs it: the coordinator plans with
// it without loading the task's Parquet and decoding modules.
import { sha256Hex } from '../util/hash.js';
import type { CompactTask } from './compact-parts.js';

export function compactPlanFingerprint(inputs: CompactTask['inputs']): string {
  return sha256Hex(JSON.stringify(inputs));
}
