// POST /v1/classify: the upload's bytes → a decoded image (size checked from the header first)
// → the micro-batcher → the top-k labels, with the model and where the time went.
import sharp from 'sharp';
import { z } from 'zod';
import { DecodeError, decodeImage, type DecodedImage } from '../decode/decode.js';
import { QueueFullError } from './batcher.js';
import type { Bundle } from '../classify/bundle.js';
import type { ServeContext, ServePlugin } from './context.js';
import { HttpError } from './errors.js';
import { SERVE_DEFAULTS } from './options.js';

/** Decode failures as HTTP: not an image at all → 415; an image we will not or cannot read → 422. */
function decodeFailure(err: DecodeError): HttpError {
  const r = err.reason;
  if (/^(not an image|unsupported format)/.test(r)) return new HttpError(415, 'unsupported_image', `${r}: send a JPEG, PNG, WebP, GIF, TIFF or AVIF image`);
  if (/pixel limit/.test(r)) return new HttpError(422, 'image_too_large', r);
  if (/^empty/.test(r)) return new HttpError(422, 'empty_image', r);
  return new HttpError(422, 'corrupt_image', r);
}

/** Decodes at the photo's size, or at the network's with --decode-size model. */
async function decodeUpload(bytes: Buffer, bundle: Bundle, { opts, metrics }: ServeContext): Promise<DecodedImage> {
  const { width, height } = bundle.featurizer.spec.input;
  try {
    const image = await decodeImage(bytes, { width, height }, { maxPixels: opts.maxPixels });
    if (opts.decodeSize !== 'model' || (image.width === width && image.height === height)) return image;
    const pixels = await sharp(image.pixels, { raw: { width: image.width, height: image.height, channels: 3 } })
      .resize(width, height, { fit: 'fill' })
      .raw()
      .toBuffer();
    return { ...image, pixels, width, height };
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err;
    const failure = decodeFailure(err);
    metrics.rejectedImages.inc({ reason: failure.code });
    throw failure;
  }
}

// Digits only: `1e1`, `0x5`, ` 3` and `2.0` are not whole numbers as a client means them.
const topSchema = z.string().regex(/^\d{1,4}$/).transform(Number).pipe(z.number().int().min(1));

export const classifyRoutePlugin: ServePlugin = async (app, ctx) => {
  const { opts, metrics, served, featureLog } = ctx;
  const rateLimit = opts.rateLimit ? { rateLimit: { max: opts.rateLimit, timeWindow: 60_000 } } : {};
  app.post('/v1/classify', { config: { upload: true, admission: true, ...rateLimit } }, async (request, reply) => {
    // The request keeps the bundle it started with, even if --watch swaps in another meanwhile.
    const generation = served.take();
    try {
      const { bundle, model, batcher, info } = generation;
      const query = request.query as Record<string, unknown>;
      const top = topSchema.safeParse(query.top ?? String(SERVE_DEFAULTS.top));
      if (!top.success || top.data > bundle.labels.length) throw new HttpError(400, 'bad_top', `top must be a whole number from 1 to ${bundle.labels.length}`);
      if (!model.classifier) {
        const failed = model.loadError;
        throw new HttpError(503, failed ? 'model_failed' : 'loading', failed ? 'the model failed to load' : 'the model is still loading; retry shortly', { 'retry-after': '2' });
      }
      const bytes = request.upload!;
      const decodeStart = performance.now();
      const image = await decodeUpload(bytes, bundle, ctx);
      const decodeMs = performance.now() - decodeStart;
      let result;
      try {
        result = await batcher.submit({ image, top: top.data });
      } catch (err) {
        if (!(err instanceof QueueFullError)) throw err;
        metrics.shed.inc();
        throw new HttpError(503, 'overloaded', err.message, { 'retry-after': '1' });
      }
      const best = result.value.predictions[0];
      metrics.observeAnswer(best?.score ?? 0, result.value.unknown);
      if (featureLog && result.value.features && best) {
        const { novelty, unknown } = result.value;
        featureLog.add({ features: result.value.features, time: new Date(), label: best.label, score: best.score, novelty, unknown, bundle: generation.id, featurizer: bundle.featurizer });
      }
      return reply.header('cache-control', 'no-store').send({
        predictions: result.value.predictions,
        // Bundles trained before novelty data existed answer without these two fields.
        ...(result.value.novelty === undefined ? {} : { novelty: result.value.novelty, unknown: result.value.unknown }),
        model: info,
        image: { width: image.sourceWidth, height: image.sourceHeight },
        timings: {
          decodeMs: round(decodeMs),
          queueMs: round(result.queueMs),
          inferMs: round(result.runMs),
          batchSize: result.batchSize,
          totalMs: round(reply.elapsedTime),
        },
      });
    } finally {
      generation.drop();
    }
  });
};

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
