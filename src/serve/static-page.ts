// The phone-friendly page and its assets, all served from here (nothing from elsewhere).
import type { ServePlugin } from './context.js';
import { FAVICON_SVG, PAGE_CSP, PAGE_CSS, PAGE_JS, renderPage } from './page.js';

export const SECURITY_HEADERS = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };

export const staticPagePlugin: ServePlugin = async (app, { served }) => {
  // Rendered again when --watch swaps in another bundle.
  const page = served.perBundle(({ bundle }) => renderPage({ modelId: bundle.featurizer.id, classes: bundle.labels.length, classifier: bundle.classifier.kind, pcaK: bundle.pca?.model.k ?? null }));
  const security = SECURITY_HEADERS;
  app.get('/', async (_req, reply) => reply.headers({ ...security, 'content-security-policy': PAGE_CSP, 'cache-control': 'no-cache' }).type('text/html; charset=utf-8').send(page()));
  app.get('/assets/app.js', async (_req, reply) => reply.headers({ ...security, 'cache-control': 'no-cache' }).type('text/javascript; charset=utf-8').send(PAGE_JS));
  app.get('/assets/app.css', async (_req, reply) => reply.headers({ ...security, 'cache-control': 'no-cache' }).type('text/css; charset=utf-8').send(PAGE_CSS));
  app.get('/favicon.svg', async (_req, reply) => reply.headers({ ...security, 'cache-control': 'max-age=86400' }).type('image/svg+xml').send(FAVICON_SVG));
};
