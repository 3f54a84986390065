// On-device recognition for the page: the bundle exported as one ONNX model (fruits export's
// model, built on first request and kept), the onnxruntime-web files it runs with — served from
// the installed package, never a CDN — the page's on-device script, a service worker that keeps
// the page working offline, and the web app manifest that makes it installable.
//
//   GET /on-device.json              whether the model exists, its sha256, size and URL
//   GET /model.onnx?v=<sha256>       the exported model (ETag = its sha256)
//   GET /ort/<file>                  onnxruntime-web's ESM bundle and its WASM binary
//   GET /assets/on-device.{js,css}   the page's on-device script and styles
//   GET /sw.js, /manifest.webmanifest
import { createReadStream } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { exportBundle } from '../classify/export-model.js';
import { NATIVE_SIZE_FACTOR } from '../decode/decode.js';
import { errorMessage } from '../util/errors.js';
import { sha256Hex } from '../util/hash.js';
import type { ServePlugin } from './context.js';
import { ON_DEVICE_CSS, ON_DEVICE_JS, SERVICE_WORKER_JS, webManifest } from './on-device-client.js';
import { SECURITY_HEADERS } from './static-page.js';

/** The files of onnxruntime-web the page loads (WASM backend, single-threaded: no cross-origin isolation needed). */
export const ORT_FILES: Record<string, string> = {
  'ort.wasm.bundle.min.mjs': 'text/javascript; charset=utf-8',
  'ort-wasm-simd-threaded.wasm': 'application/wasm',
};
const ortDist = path.dirname(createRequire(import.meta.url).resolve('onnxruntime-web'));

type Built = { bytes: Uint8Array; sha256: string } | { error: string };

export const onDevicePlugin: ServePlugin = async (app, { served }) => {
  // Built on first request, and again for each bundle --watch swaps in.
  const built = served.perBundle(({ bundle }) => {
    let p: Promise<Built> | undefined;
    return () =>
      (p ??= exportBundle(bundle, served.modelFor(bundle)).then(
        (m): Built => ({ bytes: m.bytes, sha256: sha256Hex(m.bytes) }),
        (err): Built => {
          app.log.warn(`on-device model unavailable: ${errorMessage(err)}`);
          return { error: errorMessage(err) };
        },
      ));
  });
  const build = () => built()();
  const security = SECURITY_HEADERS;
  app.get('/on-device.json', async (_req, reply) => {
    const { bundle } = served.current;
    const input = bundle.featurizer.spec.input;
    const m = await build();
    const body =
      'error' in m
        ? { available: false, reason: m.error }
        : {
            available: true,
            sha256: m.sha256,
            bytes: m.bytes.length,
            url: `model.onnx?v=${m.sha256}`,
            labels: bundle.labels,
            runtime: 'ort/ort.wasm.bundle.min.mjs',
            // The model's novelty output above this: the photo is not recognised (bundles with novelty data).
            noveltyThreshold: bundle.novelty?.threshold ?? null,
            // Larger photos are shrunk to fit this first, as the server's decoder does.
            bound: { width: NATIVE_SIZE_FACTOR * input.width, height: NATIVE_SIZE_FACTOR * input.height },
          };
    return reply.headers({ ...security, 'cache-control': 'no-cache' }).send(body);
  });

  app.get('/model.onnx', async (req, reply) => {
    const m = await build();
    if ('error' in m) return reply.code(404).headers(security).send({ error: { code: 'no_on_device_model', message: m.error } });
    const etag = `"${m.sha256}"`;
    reply.headers({ ...security, etag, 'cache-control': 'no-cache' });
    if (req.headers['if-none-match'] === etag) return reply.code(304).send();
    return reply.type('application/octet-stream').send(Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength));
  });

  app.get<{ Params: { file: string } }>('/ort/:file', async (req, reply) => {
    const type = Object.hasOwn(ORT_FILES, req.params.file) ? ORT_FILES[req.params.file] : undefined;
    if (!type) return reply.code(404).headers(security).send({ error: { code: 'not_found', message: `no such runtime file: ${req.params.file}` } });
    // The package's version is in the URL-less file: revalidated, so an upgrade is picked up.
    return reply.headers({ ...security, 'cache-control': 'no-cache' }).type(type).send(createReadStream(path.join(ortDist, req.params.file)));
  });

  app.get('/assets/on-device.js', async (_req, reply) => reply.headers({ ...security, 'cache-control': 'no-cache' }).type('text/javascript; charset=utf-8').send(ON_DEVICE_JS));
  app.get('/assets/on-device.css', async (_req, reply) => reply.headers({ ...security, 'cache-control': 'no-cache' }).type('text/css; charset=utf-8').send(ON_DEVICE_CSS));
  app.get('/sw.js', async (_req, reply) => reply.headers({ ...security, 'cache-control': 'no-cache' }).type('text/javascript; charset=utf-8').send(SERVICE_WORKER_JS));
  const manifest = served.perBundle(({ bundle }) => webManifest(bundle.labels.length));
  app.get('/manifest.webmanifest', async (_req, reply) => reply.headers({ ...security, 'cache-control': 'no-cache' }).type('application/manifest+json').send(manifest()));
};
