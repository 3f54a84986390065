// Copies a local folder (e.g. ../shared/data/fruits360-mini) into any Store under a prefix, with
// a bounded number of uploads in flight and the listing streamed, not collected.
import { LocalStore } from '../../src/storage/local.js';
import type { Store } from '../../src/storage/store.js';

export interface UploadSummary {
  objects: number;
  bytes: number;
}

export async function uploadFolder(store: Store, localDir: string, prefix = '', concurrency = 8): Promise<UploadSummary> {
  const source = new LocalStore(localDir);
  const base = prefix.replace(/^\/+|\/+$/g, '');
  const summary: UploadSummary = { objects: 0, bytes: 0 };
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  for await (const { key } of source.list()) {
    if (failure) break;
    const task = (async () => {
      const data = await source.read(key);
      await store.write(base ? `${base}/${key}` : key, data);
      summary.objects++;
      summary.bytes += data.byteLength;
    })()
      .catch((err) => {
        failure ??= err;
      })
      .finally(() => inFlight.delete(task));
    inFlight.add(task);
    if (inFlight.size >= concurrency) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  if (failure) throw failure;
  return summary;
}
