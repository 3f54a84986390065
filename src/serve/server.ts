// `fruits serve`: the bundle behind an HTTP API (Fastify).
//
//   POST /v1/classify   an image (raw body with an image/* type, or multipart) → top-k labels
//   GET  /              the phone-friendly page (assets under /assets/, all served here)
//   GET  /healthz       alive;  GET /readyz  model loaded;  GET /metrics  Prometheus text
//
// Robustness: every upload is bounded (body size checked from Content-Length before reading,
// and while reading), the image size is checked from its header before any pixel is decoded,
// a request must arrive within --body-timeout (408), idle connections are closed, one client
// address holds at most --max-client-connections, classify requests are admitted once their body
// is complete and only while fewer than `maxQueue` are being handled (503 otherwise), shutdown is
// bounded by --drain-timeout, and every error is JSON of one shape.
//
// Each concern is a plugin of its own in this folder, given one shared ServeContext: buildServer
// only creates the app, the model and the batcher, and registers them in order.
import type { Socket } from 'node:net';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import sharp from 'sharp';
import type { Bundle } from '../classify/bundle.js';
import { resolveBundleModel } from '../classify/model-file.js';
import type { Logger } from '../util/logger.js';
import { admissionPlugin } from './admission.js';
import { classifyRoutePlugin } from './classify-route.js';
import { createClassifyBatcher } from './classify-batcher.js';
import type { ServeContext } from './context.js';
import { clientErrorHandler, errorsPlugin, HttpError } from './errors.js';
import { connectionsPlugin } from './connections.js';
import { healthPlugin } from './health.js';
import { createMetrics, metricsPlugin, type ServerMetrics } from './metrics.js';
import { ModelState } from './model-state.js';
import { FEATURE_LOG_DEFAULTS, type ServeOptions } from './options.js';
import { BundleWatcher } from './bundle-watch.js';
import { Generation, ServedBundle } from './served-bundle.js';
import { FeatureLog } from './feature-log.js';
import { staticPagePlugin } from './static-page.js';
import { onDevicePlugin } from './on-device.js';
import { uploadsPlugin } from './uploads.js';
import type { ImagesClassifier } from './worker-classifier.js';

// The tests reach the defaults through the server module.
export { SERVE_DEFAULTS } from './options.js';

export interface ServerHandle {
  app: FastifyInstance;
  metrics: ServerMetrics;
  /** Resolves once the model is loaded (/readyz turns 200). */
  ready: Promise<void>;
  /** The URL it listens on (after listen). */
  url?: string;
  /** The bundle served (swapped by --watch). */
  served: ServedBundle;
  /** With --watch: what follows the bundle location. */
  watcher?: BundleWatcher;
  close(): Promise<void>;
}

export interface BuildOptions extends ServeOptions {
  logger?: Logger;
  /** A classifier already loaded (e.g. shared by several servers in tests); otherwise the
   *  bundle's model is loaded on a worker thread. */
  classifier?: ImagesClassifier | Promise<ImagesClassifier>;
  /** Keep the process-wide default metrics off (several servers in one process). */
  defaultMetrics?: boolean;
}

/** The Fastify instance with the server-level limits (timeouts, body size, logging). */
function createApp(opts: BuildOptions): FastifyInstance {
  return Fastify({
    // pino's Logger is Fastify's logger; only the generic parameters differ.
    loggerInstance: opts.logger as unknown as FastifyBaseLogger | undefined,
    // One log line per request would drown the log under load; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.maxBodyBytes,
    // Node's request timeout runs from the connection (or the request's first byte) until the
    // body is complete: it is the deadline for slow senders and for sockets that send nothing.
    // Node looks for expired requests every connectionsCheckingInterval (30 s by default).
    requestTimeout: opts.bodyTimeoutMs,
    http: { requestTimeout: opts.bodyTimeoutMs, headersTimeout: opts.bodyTimeoutMs, connectionsCheckingInterval: Math.min(1000, Math.ceil(opts.bodyTimeoutMs / 4)) },
    keepAliveTimeout: opts.keepAliveTimeoutMs,
    // A socket silent this long while a request is handled (the request timeout no longer runs).
    connectionTimeout: Math.max(60_000, opts.bodyTimeoutMs),
    clientErrorHandler(this: FastifyInstance, err: Error, socket) {
      clientErrorHandler(this.log, opts.bodyTimeoutMs)(err, socket as Socket);
    },
    trustProxy: opts.trustProxy,
    // connections.ts answers requests during shutdown, in the error shape.
    return503OnClosing: false,
  });
}


/** CORS and the rate limit, when configured. */
async function registerAccessPolicy(app: FastifyInstance, opts: ServeOptions): Promise<void> {
  if (opts.corsOrigins) {
    await app.register(cors, { origin: opts.corsOrigins === '*' ? '*' : opts.corsOrigins, methods: ['GET', 'POST'], maxAge: 600 });
  }
  if (opts.rateLimit) {
    await app.register(rateLimit, {
      global: false,
      cache: 10_000,
      errorResponseBuilder: (_req, ctx) => new HttpError(429, 'rate_limited', `more than ${ctx.max} requests per minute from this address; retry in ${Math.ceil(ctx.ttl / 1000)} s`),
    });
  }
}

/** Server-wide plugins first (their hooks and the route table must see every route), then routes. */
async function registerPlugins(app: FastifyInstance, ctx: ServeContext): Promise<void> {
  await app.register(errorsPlugin, ctx);
  await app.register(connectionsPlugin, ctx);
  await app.register(metricsPlugin, ctx);
  await app.register(admissionPlugin, ctx);
  await app.register(uploadsPlugin, ctx);
  await registerAccessPolicy(app, ctx.opts);
  await app.register(staticPagePlugin, ctx);
  await app.register(onDevicePlugin, ctx);
  await app.register(healthPlugin, ctx);
  await app.register(classifyRoutePlugin, ctx);
}

/** A bundle with its model (loading) and a micro-batcher of its own. */
function generationOf(bundle: Bundle, opts: BuildOptions & { classifier?: BuildOptions['classifier'] }, metrics: ServerMetrics): Generation {
  const model = ModelState.load(bundle, opts);
  const batcher = createClassifyBatcher(() => model.classifier!, { maxBatch: opts.maxBatch, maxWaitMs: opts.maxWaitMs, maxQueue: opts.maxQueue, features: opts.logFeatures !== undefined }, metrics);
  return new Generation(bundle, model, batcher);
}

export async function buildServer(bundle: Bundle, opts: BuildOptions): Promise<ServerHandle> {
  // Every upload is a new image: libvips' operation cache would only hold memory.
  sharp.cache(false);
  const metrics = createMetrics({ defaultMetrics: opts.defaultMetrics });
  const app = createApp(opts);
  const first = generationOf(bundle, opts, metrics);
  const served = new ServedBundle(first, opts.model);
  metrics.setBundle(first.id, bundle.featurizer.id, bundle.manifest.createdAt);
  const log = opts.logger ?? app.log;
  const featureLog =
    opts.logFeatures === undefined
      ? undefined
      : new FeatureLog(opts.logFeatures, {
          flushRows: opts.logFlushRows ?? FEATURE_LOG_DEFAULTS.flushRows,
          flushMs: opts.logFlushMs ?? FEATURE_LOG_DEFAULTS.flushSeconds * 1000,
          log,
          onWritten: (n) => metrics.featureLogRows.inc({ result: 'written' }, n),
          onDropped: (n) => metrics.featureLogRows.inc({ result: 'dropped' }, n),
        });
  await registerPlugins(app, { served, opts, metrics, featureLog });
  let watcher: BundleWatcher | undefined;
  if (opts.watchIntervalMs) {
    // A new bundle always gets a model of its own (never the classifier given for the first).
    const load = async (next: Bundle) => {
      const g = generationOf(next, { ...opts, classifier: undefined, model: served.modelFor(next) }, metrics);
      try {
        await g.model.ready;
      } catch (err) {
        await g.release();
        throw err;
      }
      return g;
    };
    watcher = new BundleWatcher(bundle.dir, served, { intervalMs: opts.watchIntervalMs, load, log, metrics });
    // Watching starts once the first model is loaded: until then the first bundle is the one to serve.
    first.model.ready.then(() => watcher?.start(), () => undefined);
  }
  return {
    app,
    metrics,
    ready: first.model.ready,
    served,
    watcher,
    async close() {
      await watcher?.stop();
      await app.close();
      await served.close();
      // After the last answer: what is buffered is written.
      await featureLog?.close();
    },
  };
}

/** Checks the model file, listens, then loads the model (/readyz says when it is ready). */
export async function startServer(bundle: Bundle, opts: ServeOptions & { logger: Logger }): Promise<ServerHandle> {
  // A wrong or missing model file is an error before anything listens.
  const model = await resolveBundleModel(bundle, opts.model, (m) => opts.logger.info(m));
  const handle = await buildServer(bundle, { ...opts, model: model.path });
  const address = await handle.app.listen({ port: opts.port, host: opts.host });
  handle.url = address;
  opts.logger.info(`listening on ${address} (bundle ${bundle.dir}: ${bundle.labels.length} classes, ${bundle.featurizer.id}); loading the model…`);
  try {
    await handle.ready;
  } catch (err) {
    await handle.app.close();
    throw err;
  }
  opts.logger.info(`ready: POST ${address}/v1/classify, page at ${address}/ (bundle ${handle.served.current.id})`);
  if (opts.logFeatures) opts.logger.info(`logging each answer's features to ${opts.logFeatures} (every ${opts.logFlushRows ?? FEATURE_LOG_DEFAULTS.flushRows} rows or ${(opts.logFlushMs ?? FEATURE_LOG_DEFAULTS.flushSeconds * 1000) / 1000} s, and on shutdown)`);
  if (handle.watcher) opts.logger.info(`watching ${bundle.dir} for a new bundle every ${opts.watchIntervalMs! / 1000} s`);
  return handle;
}
