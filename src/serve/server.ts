// `fruits serve`: the bundle behind an HTTP API (Fastify).
//
//   POST /v1/classify   an image (raw body with an image/* type, or multipart) → top-k labels
//   GET  /              the phone-friendly page (assets under /assets/, all served here)
//   GET  /healthz       alive;  GET /readyz  model loaded;  GET /metrics  Prometheus text
//
// Robustness: every upload is bounded (body size checked from Content-Length before reading,
// and while reading), the image size is checked from its header before any pixel is decoded,
// classify requests are admitted only while fewer than `maxQueue` are being handled (503
// otherwise, so memory is bounded by maxQueue × maxBodyBytes), and every error is JSON.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import cors from '@fastify/cors';
import multipart from '@fastify/multipart';
import rateLimit from '@fastify/rate-limit';
import sharp from 'sharp';
import { z } from 'zod';
import type { Bundle } from '../classify/bundle.js';
import type { Classified } from '../classify/image-classifier.js';
import { resolveBundleModel } from '../classify/model-file.js';
import { DecodeError, decodeImage, type DecodedImage } from '../decode/decode.js';
import type { Logger } from '../util/logger.js';
import { MicroBatcher, QueueFullError } from './batcher.js';
import { createMetrics, type ServerMetrics } from './metrics.js';
import { FAVICON_SVG, PAGE_CSP, PAGE_CSS, PAGE_JS, renderPage } from './page.js';
import { WorkerClassifier, type ImagesClassifier } from './worker-classifier.js';
import { SERVE_DEFAULTS, type ServeOptions } from './options.js';

export { SERVE_DEFAULTS, serveOptionsOf, type ServeOptions } from './options.js';

/** An error answered as JSON with its status. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

function sendError(reply: FastifyReply, status: number, code: string, message: string, headers: Record<string, string> = {}): FastifyReply {
  return reply.code(status).headers(headers).type('application/json; charset=utf-8').send({ error: { status, code, message } });
}

/** Decode failures as HTTP: not an image at all → 415; an image we will not or cannot read → 422. */
function decodeFailure(err: DecodeError): HttpError {
  const r = err.reason;
  if (/^not an image/.test(r)) return new HttpError(415, 'unsupported_image', `${r}: send a JPEG, PNG, WebP, GIF, TIFF or AVIF image`);
  if (/pixel limit/.test(r)) return new HttpError(422, 'image_too_large', r);
  if (/^empty/.test(r)) return new HttpError(422, 'empty_image', r);
  return new HttpError(422, 'corrupt_image', r);
}

// The routes and their methods: a known path with another method is a 405 with an Allow header.
const ROUTES: Record<string, string[]> = {
  '/': ['GET', 'HEAD'],
  '/v1/classify': ['POST'],
  '/healthz': ['GET', 'HEAD'],
  '/readyz': ['GET', 'HEAD'],
  '/metrics': ['GET', 'HEAD'],
  '/assets/app.js': ['GET', 'HEAD'],
  '/assets/app.css': ['GET', 'HEAD'],
  '/favicon.svg': ['GET', 'HEAD'],
};

interface Job {
  image: DecodedImage;
  top: number;
}

interface Timed {
  startedAt: number;
}

export interface ServerHandle {
  app: FastifyInstance;
  metrics: ServerMetrics;
  /** Resolves once the model is loaded (/readyz turns 200). */
  ready: Promise<void>;
  /** The URL it listens on (after listen). */
  url?: string;
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

export async function buildServer(bundle: Bundle, opts: BuildOptions): Promise<ServerHandle> {
  // Every upload is a new image: libvips' operation cache would only hold memory.
  sharp.cache(false);
  const metrics = createMetrics({ defaultMetrics: opts.defaultMetrics });
  const app = Fastify({
    // pino's Logger is Fastify's logger; only the generic parameters differ.
    loggerInstance: opts.logger as unknown as FastifyBaseLogger | undefined,
    // One log line per request would drown the log under load; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.maxBodyBytes,
    // Connections that trickle bytes must not pin memory forever.
    requestTimeout: 30_000,
    connectionTimeout: 60_000,
    keepAliveTimeout: 10_000,
    return503OnClosing: true,
  });
  const ownsClassifier = !opts.classifier;
  const loading = opts.classifier ? Promise.resolve(opts.classifier) : WorkerClassifier.start({ bundle: bundle.dir, model: opts.model, threads: opts.threads });
  let classifier: ImagesClassifier | undefined;
  let loadError: Error | undefined;
  const ready = loading.then(
    (c) => {
      classifier = c;
    },
    (err: Error) => {
      loadError = err;
      throw err;
    },
  );
  ready.catch(() => undefined);
  const { width: modelWidth, height: modelHeight } = bundle.featurizer.spec.input;

  const batcher = new MicroBatcher<Job, Classified>(
    async (jobs) => {
      const top = Math.max(...jobs.map((j) => j.top));
      const ranked = await classifier!.classify(
        jobs.map((j) => j.image),
        top,
      );
      return ranked.map((r, i) => ({ ...r, predictions: r.predictions.slice(0, jobs[i].top) }));
    },
    { maxBatch: opts.maxBatch, maxWaitMs: opts.maxWaitMs, maxQueue: opts.maxQueue },
  );
  batcher.onBatch = (size, runMs) => {
    metrics.batchSize.observe(size);
    metrics.inferSeconds.observe(runMs / 1000);
  };

  const modelInfo = {
    id: bundle.featurizer.id,
    sha256: bundle.featurizer.sha256,
    classifier: bundle.classifier.kind,
    classes: bundle.labels.length,
    pcaK: bundle.pca?.model.k ?? null,
    trainedAt: bundle.manifest.createdAt,
  };
  const page = renderPage({ modelId: bundle.featurizer.id, classes: bundle.labels.length, classifier: bundle.classifier.kind, pcaK: bundle.pca?.model.k ?? null });

  app.decorateRequest('startedAt', 0);
  let admitted = 0;

  app.addHook('onRequest', async (request, reply) => {
    (request as unknown as Timed).startedAt = performance.now();
    if (request.method !== 'POST' || request.url.split('?')[0] !== '/v1/classify') return;
    const length = Number(request.headers['content-length']);
    // Multipart framing adds a little; anything further over the limit is refused unread.
    if (Number.isFinite(length) && length > opts.maxBodyBytes + 64 * 1024) {
      metrics.rejectedImages.inc({ reason: 'too_large' });
      return sendError(reply, 413, 'payload_too_large', `the upload is ${length} bytes; the limit is ${opts.maxBodyBytes}`, { connection: 'close' });
    }
    if (admitted >= opts.maxQueue) {
      metrics.shed.inc();
      return sendError(reply, 503, 'overloaded', `the server is busy (${admitted} requests in progress); retry shortly`, { 'retry-after': '1' });
    }
    admitted++;
    metrics.inFlight.inc();
    reply.raw.once('close', () => {
      admitted--;
      metrics.inFlight.dec();
    });
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    metrics.duration.observe({ route }, reply.elapsedTime / 1000);
  });

  // Only images (raw or in a form) are bodies here: JSON, text and the rest get 415.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(/^image\/[\w.+-]+$/i, { parseAs: 'buffer', bodyLimit: opts.maxBodyBytes }, (_req, body, done) => done(null, body));
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: opts.maxBodyBytes }, (_req, body, done) => done(null, body));
  await app.register(multipart, {
    limits: { fileSize: opts.maxBodyBytes, files: 1, fields: 10, fieldSize: 1024, parts: 12, headerPairs: 100 },
    throwFileSizeLimit: true,
  });
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

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string; headers?: Record<string, string> }, request, reply) => {
    if (err instanceof HttpError) return sendError(reply, err.statusCode, err.code, err.message, err.headers);
    const status = err.statusCode ?? 500;
    if (status === 413 || err.code === 'FST_REQ_FILE_TOO_LARGE' || err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      metrics.rejectedImages.inc({ reason: 'too_large' });
      return sendError(reply, 413, 'payload_too_large', `the upload is larger than ${opts.maxBodyBytes} bytes`, { connection: 'close' });
    }
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || err.code === 'FST_INVALID_MULTIPART_CONTENT_TYPE') {
      metrics.rejectedImages.inc({ reason: 'media_type' });
      return sendError(reply, 415, 'unsupported_media_type', `send the image as the body with an image/* content type, or as a file in multipart/form-data (got ${request.headers['content-type'] ?? 'no content type'})`);
    }
    if (status === 429) return sendError(reply, 429, 'rate_limited', err.message);
    if (status >= 400 && status < 500) return sendError(reply, status, (err.code ?? 'bad_request').toLowerCase(), err.message);
    request.log.error({ err }, 'request failed');
    return sendError(reply, 500, 'internal', 'the server failed to handle this request');
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0];
    const allowed = ROUTES[path];
    if (allowed) return sendError(reply, 405, 'method_not_allowed', `${request.method} is not allowed on ${path} (allowed: ${allowed.join(', ')})`, { allow: allowed.join(', ') });
    return sendError(reply, 404, 'not_found', `no route ${request.method} ${path}`);
  });

  const security = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };
  app.get('/', async (_req, reply) => reply.headers({ ...security, 'content-security-policy': PAGE_CSP, 'cache-control': 'no-cache' }).type('text/html; charset=utf-8').send(page));
  app.get('/assets/app.js', async (_req, reply) => reply.headers({ ...security, 'cache-control': 'no-cache' }).type('text/javascript; charset=utf-8').send(PAGE_JS));
  app.get('/assets/app.css', async (_req, reply) => reply.headers({ ...security, 'cache-control': 'no-cache' }).type('text/css; charset=utf-8').send(PAGE_CSS));
  app.get('/favicon.svg', async (_req, reply) => reply.headers({ ...security, 'cache-control': 'max-age=86400' }).type('image/svg+xml').send(FAVICON_SVG));
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    if (classifier) return { status: 'ready', model: modelInfo };
    return sendError(reply, 503, loadError ? 'model_failed' : 'loading', loadError ? `the model failed to load: ${loadError.message}` : 'the model is loading');
  });
  app.get('/metrics', async (_req, reply) => {
    metrics.queueDepth.set(batcher.queued);
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  const topSchema = z.coerce.number().int().min(1).max(bundle.labels.length);
  app.post(
    '/v1/classify',
    { config: opts.rateLimit ? { rateLimit: { max: opts.rateLimit, timeWindow: 60_000 } } : {} },
    async (request: FastifyRequest, reply: FastifyReply) => {
      const startedAt = (request as unknown as Timed).startedAt;
      const query = request.query as Record<string, unknown>;
      const topParsed = topSchema.safeParse(query.top ?? SERVE_DEFAULTS.top);
      if (!topParsed.success) throw new HttpError(400, 'bad_top', `top must be a whole number from 1 to ${bundle.labels.length}`);
      if (!classifier) throw new HttpError(503, loadError ? 'model_failed' : 'loading', loadError ? 'the model failed to load' : 'the model is still loading; retry shortly', { 'retry-after': '2' });

      let bytes: Buffer;
      if (request.isMultipart()) {
        const file = await request.file();
        if (!file) throw new HttpError(422, 'no_file', 'the form holds no file: send the image in a file field');
        bytes = await file.toBuffer();
      } else if (Buffer.isBuffer(request.body)) {
        bytes = request.body;
      } else {
        throw new HttpError(415, 'unsupported_media_type', 'send the image as the body with an image/* content type, or as a file in multipart/form-data');
      }
      if (bytes.length === 0) throw new HttpError(422, 'empty_image', 'the upload is empty');

      const decodeStart = performance.now();
      let image: DecodedImage;
      try {
        image = await decodeImage(bytes, { width: modelWidth, height: modelHeight }, { maxPixels: opts.maxPixels });
        if (opts.decodeSize === 'model' && (image.width !== modelWidth || image.height !== modelHeight)) {
          const pixels = await sharp(image.pixels, { raw: { width: image.width, height: image.height, channels: 3 } })
            .resize(modelWidth, modelHeight, { fit: 'fill' })
            .raw()
            .toBuffer();
          image = { ...image, pixels, width: modelWidth, height: modelHeight };
        }
      } catch (err) {
        if (err instanceof DecodeError) {
          const failure = decodeFailure(err);
          metrics.rejectedImages.inc({ reason: failure.code });
          throw failure;
        }
        throw err;
      }
      const decodeMs = performance.now() - decodeStart;
      let result;
      try {
        result = await batcher.submit({ image, top: topParsed.data });
      } catch (err) {
        if (err instanceof QueueFullError) {
          metrics.shed.inc();
          throw new HttpError(503, 'overloaded', err.message, { 'retry-after': '1' });
        }
        throw err;
      }
      metrics.observeAnswer(result.value.predictions[0]?.score ?? 0, result.value.unknown);
      return reply.header('cache-control', 'no-store').send({
        predictions: result.value.predictions,
        // Bundles trained before novelty data existed answer without these two fields.
        ...(result.value.novelty === undefined ? {} : { novelty: result.value.novelty, unknown: result.value.unknown }),
        model: modelInfo,
        image: { width: image.sourceWidth, height: image.sourceHeight },
        timings: {
          decodeMs: round(decodeMs),
          queueMs: round(result.queueMs),
          inferMs: round(result.runMs),
          batchSize: result.batchSize,
          totalMs: round(performance.now() - startedAt),
        },
      });
    },
  );

  return {
    app,
    metrics,
    ready,
    async close() {
      await app.close();
      await batcher.drain();
      if (ownsClassifier && classifier) await classifier.release();
    },
  };
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
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
  opts.logger.info(`ready: POST ${address}/v1/classify, page at ${address}/`);
  return handle;
}
