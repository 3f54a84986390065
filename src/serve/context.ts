// What the server's plugins share: the bundle, the settings, the metrics, the model as it loads,
// and the micro-batcher. Each plugin (admission, errors, uploads, page, health, metrics, classify)
// is registered with this one object, so adding a route is one more plugin given the same context.
import type { FastifyPluginAsync } from 'fastify';
import type { Bundle } from '../classify/bundle.js';
import type { Classified } from '../classify/image-classifier.js';
import type { MicroBatcher } from './batcher.js';
import type { ClassifyJob } from './classify-batcher.js';
import type { ServerMetrics } from './metrics.js';
import type { ModelInfo, ModelState } from './model-state.js';
import type { ServeOptions } from './options.js';

export type { ClassifyJob } from './classify-batcher.js';

export interface ServeContext {
  bundle: Bundle;
  opts: ServeOptions;
  metrics: ServerMetrics;
  model: ModelState;
  batcher: MicroBatcher<ClassifyJob, Classified>;
  /** What /readyz and the classify answer say about the model. */
  modelInfo: ModelInfo;
}

export type ServePlugin = FastifyPluginAsync<ServeContext>;

/**
 * A plugin whose hooks and handlers apply to the whole server rather than to its own
 * encapsulated scope (what the fastify-plugin package does: Fastify's `skip-override` mark).
 */
export function serverWide<T extends FastifyPluginAsync<ServeContext>>(plugin: T): T {
  (plugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
  return plugin;
}
