// Liveness (/healthz: the process answers) and readiness (/readyz: the model is loaded).
import type { ServePlugin } from './context.js';
import { sendError } from './errors.js';

export const healthPlugin: ServePlugin = async (app, { model, modelInfo }) => {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    if (model.classifier) return { status: 'ready', model: modelInfo };
    const failed = model.loadError;
    return sendError(reply, 503, failed ? 'model_failed' : 'loading', failed ? `the model failed to load: ${failed.message}` : 'the model is loading');
  });
};
