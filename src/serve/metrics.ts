// Prometheus metrics of the server (one registry per server, so several can live in a process):
// requests by route and status, latency, requests in flight, and the batcher's behaviour.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { serverWide } from './context.js';

/** The inference batcher's behaviour: shared by `fruits serve` and `fruits telegram`. */
export interface InferenceMetrics {
  queueDepth: Gauge;
  batchSize: Histogram;
  inferSeconds: Histogram;
}

export interface ServerMetrics extends InferenceMetrics {
  registry: Registry;
  requests: Counter<'method' | 'route' | 'status'>;
  duration: Histogram<'route'>;
  inFlight: Gauge;
  rejectedImages: Counter<'reason'>;
  shed: Counter;
  /** Answers: top score histogram, unknown count and the rolling unknown share (see observeAnswer). */
  confidence: Histogram;
  unknown: Counter;
  unknownShare: Gauge;
  observeAnswer(topScore: number, unknown: boolean | undefined): void;
  /** The bundle served (an info gauge: 1 for its id), its creation time, and --watch's reloads by result. */
  bundleInfo: Gauge<'bundle' | 'featurizer'>;
  bundleCreated: Gauge;
  reloads: Counter<'result'>;
  /** --log-features: rows written to the log, and rows dropped while its store failed. */
  featureLogRows: Counter<'result'>;
  setBundle(id: string, featurizer: string, createdAt: string): void;
}

/** Answers the rolling unknown share is taken over: recent enough to move within minutes at a few requests/s. */
export const UNKNOWN_WINDOW = 500;

export function inferenceMetrics(registers: Registry[]): InferenceMetrics {
  return {
    queueDepth: new Gauge({ name: 'fruits_inference_queue_depth', help: 'Images waiting for an inference batch', registers }),
    batchSize: new Histogram({ name: 'fruits_inference_batch_size', help: 'Images per inference call', buckets: [1, 2, 4, 8, 12, 16, 24, 32, 64], registers }),
    inferSeconds: new Histogram({
      name: 'fruits_inference_duration_seconds',
      help: 'Duration of one batched inference call (featurize + classify)',
      buckets: [0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28],
      registers,
    }),
  };
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): ServerMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'fruits_' });
  const registers = [registry];
  const unknownShare = new Gauge({ name: 'fruits_unknown_share', help: `Share of the last ${UNKNOWN_WINDOW} classified photos the model did not recognise (novelty above its threshold)`, registers });
  const unknown = new Counter({ name: 'fruits_unknown_total', help: 'Classified photos the model did not recognise', registers });
  const confidence = new Histogram({ name: 'fruits_confidence', help: 'Top score of each answer', buckets: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99], registers });
  // A ring of the last answers' unknown flags (bundles without novelty data record none).
  const ring = new Uint8Array(UNKNOWN_WINDOW);
  let seen = 0;
  let flagged = 0;
  const observeAnswer = (topScore: number, isUnknown: boolean | undefined) => {
    confidence.observe(topScore);
    if (isUnknown === undefined) return;
    const slot = seen % UNKNOWN_WINDOW;
    if (seen >= UNKNOWN_WINDOW) flagged -= ring[slot];
    ring[slot] = isUnknown ? 1 : 0;
    flagged += ring[slot];
    seen++;
    if (isUnknown) unknown.inc();
    unknownShare.set(flagged / Math.min(seen, UNKNOWN_WINDOW));
  };
  const bundleInfo = new Gauge({ name: 'fruits_bundle_info', help: 'The bundle served: 1 for its id (first 12 hex digits of its bundle.json sha256) and featurizer', labelNames: ['bundle', 'featurizer'], registers });
  const bundleCreated = new Gauge({ name: 'fruits_bundle_created_timestamp_seconds', help: 'When the bundle served was trained (Unix time)', registers });
  const reloads = new Counter({ name: 'fruits_bundle_reloads_total', help: 'New bundles at the watched location (--watch): loaded, or refused (the old one kept serving)', labelNames: ['result'], registers });
  // Both series exist from the start, so a rate() over them is defined before the first reload.
  reloads.inc({ result: 'loaded' }, 0);
  reloads.inc({ result: 'refused' }, 0);
  const setBundle = (id: string, featurizer: string, createdAt: string) => {
    bundleInfo.reset();
    bundleInfo.set({ bundle: id, featurizer }, 1);
    bundleCreated.set(Date.parse(createdAt) / 1000);
  };
  return {
    featureLogRows: new Counter({ name: 'fruits_feature_log_rows_total', help: 'Answers logged by --log-features: written, or dropped while the store failed', labelNames: ['result'], registers }),
    bundleInfo,
    bundleCreated,
    reloads,
    setBundle,
    confidence,
    unknown,
    unknownShare,
    observeAnswer,
    registry,
    requests: new Counter({ name: 'fruits_http_requests_total', help: 'HTTP requests by method, route and status code', labelNames: ['method', 'route', 'status'], registers }),
    duration: new Histogram({
      name: 'fruits_http_request_duration_seconds',
      help: 'HTTP request latency by route',
      labelNames: ['route'],
      buckets: [0.002, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    inFlight: new Gauge({ name: 'fruits_http_requests_in_flight', help: 'Classify requests being handled', registers }),
    ...inferenceMetrics(registers),
    rejectedImages: new Counter({ name: 'fruits_rejected_images_total', help: 'Uploads refused, by reason', labelNames: ['reason'], registers }),
    shed: new Counter({ name: 'fruits_shed_requests_total', help: 'Classify requests refused with 503 because the queue was full', registers }),
  };
}

/** Counts every answer by route and status, and serves the registry as GET /metrics. */
export const metricsPlugin = serverWide(async (app, { metrics, served }) => {
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    metrics.duration.observe({ route }, reply.elapsedTime / 1000);
  });
  app.get('/metrics', async (_req, reply) => {
    metrics.queueDepth.set(served.current.batcher.queued);
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
});
