// Prometheus metrics of the bot: messages by kind, photos, answers by outcome and their latency
// (from the update's arrival to the reply sent), Bot API call failures, and the inference
// batcher's own metrics (the same as `fruits serve`'s).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { inferenceMetrics, type InferenceMetrics } from '../serve/metrics.js';

export interface BotMetrics extends InferenceMetrics {
  registry: Registry;
  messages: Counter<'kind'>;
  photos: Counter<'source'>;
  answers: Counter<'outcome'>;
  answerSeconds: Histogram<'outcome'>;
  inFlight: Gauge;
  apiErrors: Counter<'method'>;
  webhookRequests: Counter<'status'>;
}

export function createBotMetrics(opts: { defaultMetrics?: boolean } = {}): BotMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'fruits_' });
  const registers = [registry];
  return {
    registry,
    messages: new Counter({ name: 'fruits_telegram_messages_total', help: 'Messages received, by kind (photo, document, command, other)', labelNames: ['kind'], registers }),
    photos: new Counter({ name: 'fruits_telegram_photos_total', help: 'Images received, as a photo or as a document', labelNames: ['source'], registers }),
    answers: new Counter({ name: 'fruits_telegram_answers_total', help: 'Replies sent, by outcome (recognised, unknown, not_image, too_large, download_failed, busy, rate_limited, failed, help, hint)', labelNames: ['outcome'], registers }),
    answerSeconds: new Histogram({
      name: 'fruits_telegram_answer_duration_seconds',
      help: 'From the message reaching the bot to its reply being sent, by outcome',
      labelNames: ['outcome'],
      buckets: [0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 1.5, 2.5, 5, 10],
      registers,
    }),
    inFlight: new Gauge({ name: 'fruits_telegram_photos_in_flight', help: 'Photos being downloaded, decoded, classified or answered', registers }),
    apiErrors: new Counter({ name: 'fruits_telegram_api_errors_total', help: 'Bot API calls that failed, by method', labelNames: ['method'], registers }),
    webhookRequests: new Counter({ name: 'fruits_telegram_webhook_requests_total', help: 'Requests to the webhook endpoint, by status code', labelNames: ['status'], registers }),
    ...inferenceMetrics(registers),
  };
}
