// What the server's plugins share: the served bundle (its model as it loads and its micro-batcher,
// swapped for a new one by --watch), the settings and the metrics. Each plugin (admission, errors, uploads, page, health, metrics, classify)
// is registered with this one object, so adding a route is one more plugin given the same context.
import type { FastifyPluginAsync } from 'fastify';
import type { FeatureLog } from './feature-log.js';
import type { ServerMetrics } from './metrics.js';
import type { ServeOptions } from './options.js';
import type { ServedBundle } from './served-bundle.js';


export interface ServeContext {
  /** The bundle now served: read `served.current` (or `take()` it for a request) every time. */
  served: ServedBundle;
  opts: ServeOptions;
  metrics: ServerMetrics;
  /** --log-features: where each answer's features go. */
  featureLog?: FeatureLog;
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
