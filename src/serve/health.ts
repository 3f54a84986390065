// Liveness (/healthz: the process answers) and readiness (/readyz: the model is loaded); both say
// which bundle is served and how many reloads (--watch) were done or refused.
import type { ServePlugin } from './context.js';
import { sendError } from './errors.js';

export const healthPlugin: ServePlugin = async (app, { served }) => {
  app.get('/healthz', async () => ({ status: 'ok', ...served.status() }));
  app.get('/readyz', async (_req, reply) => {
    const { model, info } = served.current;
    if (model.classifier) return { status: 'ready', model: info, ...served.status() };
    const failed = model.loadError;
    return sendError(reply, 503, failed ? 'model_failed' : 'loading', failed ? `the model failed to load: ${failed.message}` : 'the model is loading');
  });
};
