// The page's on-device mode, served as /assets/on-device.js (with its styles and the service
// worker): the exported model is downloaded once into the Cache API, run by onnxruntime-web
// (WASM, one thread) from the server's own copy, and photos are decoded and shrunk by the
// browser (createImageBitmap applies the EXIF orientation) — so recognition goes on with the
// network off. Like client.ts, each script here is a type-checked function embedded with
// Function.prototype.toString: it may refer to nothing outside its own body but browser globals.
//
// The page's script (client.ts) asks `window.fruitsOnDevice` whether to answer here; this script
// owns its own panel (switch, model status), so the two stay separate.

export interface OnDevicePrediction {
  label: string;
  score: number;
}
export interface OnDeviceResult {
  predictions: OnDevicePrediction[];
  /** The bundle does not recognise the photo (its novelty output above the threshold). */
  unknown?: boolean;
  decodeMs: number;
  inferMs: number;
}
/** What client.ts sees of this script. */
export interface OnDeviceHook {
  /** True when the user (or the default for a capable device) chose on-device mode and it is usable. */
  active(): boolean;
  /** True when the model is loaded (the server path may fall back here when the network fails). */
  ready(): boolean;
  classify(file: Blob, top: number): Promise<OnDeviceResult>;
}

interface ModelMeta {
  available: boolean;
  reason?: string;
  sha256?: string;
  bytes?: number;
  url?: string;
  labels?: string[];
  runtime?: string;
  bound?: { width: number; height: number };
  noveltyThreshold?: number | null;
}

// Minimal shapes of the onnxruntime-web API this script uses.
interface OrtTensor {
  data: Float32Array;
  dims: readonly number[];
}
interface OrtSession {
  run(feeds: Record<string, unknown>): Promise<Record<string, OrtTensor>>;
}
interface Ort {
  env: { wasm: { wasmPaths?: string | { wasm?: string; mjs?: string }; numThreads?: number; proxy?: boolean } };
  Tensor: new (type: string, data: Uint8Array, dims: number[]) => unknown;
  InferenceSession: { create(model: Uint8Array, options?: Record<string, unknown>): Promise<OrtSession> };
}

export function onDeviceApp(): void {
  const MODEL_CACHE = 'fruits-on-device-model';
  const PREF_KEY = 'fruits.onDevice';
  const META_KEY = 'fruits.onDevice.meta';
  const base = document.baseURI;
  const win = window as unknown as { fruitsOnDevice?: OnDeviceHook };

  // A device "too weak" keeps the server path by default: few cores or little memory.
  const nav = navigator as Navigator & { deviceMemory?: number };
  const capable = typeof WebAssembly === 'object' && (nav.hardwareConcurrency ?? 1) >= 4 && (nav.deviceMemory ?? 4) >= 4;
  const stored = localStorage.getItem(PREF_KEY);
  const wanted = stored === null ? capable : stored === 'on';

  const panel = document.createElement('section');
  panel.id = 'on-device';
  panel.className = 'on-device';
  panel.innerHTML =
    '<label class="switch"><input id="on-device-toggle" type="checkbox"><span>Recognise on this device (works offline)</span></label>' +
    '<p id="on-device-status" class="on-device-status"></p>';
  (document.querySelector('.actions') ?? document.body).after(panel);
  const toggle = document.getElementById('on-device-toggle') as HTMLInputElement;
  const status = document.getElementById('on-device-status') as HTMLElement;
  toggle.checked = wanted;

  let meta: ModelMeta | undefined;
  let session: OrtSession | undefined;
  let ort: Ort | undefined;
  let loading: Promise<void> | undefined;

  const say = (text: string, state: string) => {
    status.textContent = text;
    panel.dataset.model = state;
  };
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;

  async function modelMeta(): Promise<ModelMeta> {
    try {
      const response = await fetch(new URL('on-device.json', base), { cache: 'no-cache' });
      const m = (await response.json()) as ModelMeta;
      localStorage.setItem(META_KEY, JSON.stringify(m));
      return m;
    } catch (err) {
      // Offline: what the last visit learnt.
      const last = localStorage.getItem(META_KEY);
      if (last) return JSON.parse(last) as ModelMeta;
      throw err;
    }
  }

  /** The model's bytes: from the cache, or downloaded once and cached (older versions dropped). */
  async function modelBytes(m: ModelMeta): Promise<Uint8Array> {
    const url = new URL(m.url!, base).href;
    const cache = typeof caches === 'object' ? await caches.open(MODEL_CACHE) : undefined;
    let response = await cache?.match(url);
    if (response) {
      say('Loading the model from this device…', 'loading');
    } else {
      say(`Downloading the model (${mib(m.bytes ?? 0)}, once)…`, 'downloading');
      response = await fetch(url);
      if (!response.ok) throw new Error(`the server answered ${response.status} for the model`);
      if (cache) {
        await cache.put(url, response.clone());
        for (const old of await cache.keys()) if (old.url !== url) await cache.delete(old);
      }
    }
    return new Uint8Array(await response.arrayBuffer());
  }

  function load(): Promise<void> {
    loading ??= (async () => {
      meta = await modelMeta();
      if (!meta.available) throw new Error(meta.reason ?? 'the server has no on-device model');
      const bytes = await modelBytes(meta);
      const runtime = new URL(meta.runtime!, base).href;
      ort = (await import(runtime)) as Ort;
      // The glue code is inside the bundle; only the binary is fetched, from this server.
      ort.env.wasm.wasmPaths = { wasm: new URL('ort/ort-wasm-simd-threaded.wasm', base).href };
      ort.env.wasm.numThreads = 1;
      ort.env.wasm.proxy = false;
      session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
      say(`On this device: model ready (${mib(bytes.length)}, cached for offline use).`, 'ready');
    })().catch((err: unknown) => {
      loading = undefined;
      session = undefined;
      const why = err instanceof Error ? err.message : String(err);
      say(`On-device mode unavailable (${why}); the server answers.`, 'failed');
      throw err;
    });
    return loading;
  }

  /** RGB bytes of the photo as the server decodes it: EXIF-oriented, alpha on white, shrunk to fit the bound. */
  async function decode(file: Blob): Promise<{ pixels: Uint8Array; width: number; height: number }> {
    const bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' }).catch(() => {
      throw new Error('not an image this browser can decode');
    });
    const bound = meta?.bound ?? { width: 448, height: 448 };
    const scale = Math.min(1, bound.width / bitmap.width, bound.height / bitmap.height);
    const width = Math.max(1, Math.round(bitmap.width * scale));
    const height = Math.max(1, Math.round(bitmap.height * scale));
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    if (!ctx) throw new Error('no canvas');
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(bitmap, 0, 0, width, height);
    bitmap.close();
    const rgba = ctx.getImageData(0, 0, width, height).data;
    const pixels = new Uint8Array(width * height * 3);
    for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
      const a = rgba[i + 3];
      if (a === 255) {
        pixels[j] = rgba[i];
        pixels[j + 1] = rgba[i + 1];
        pixels[j + 2] = rgba[i + 2];
      } else {
        // Flattened on white, as the server does for transparent photos.
        const white = 255 - a;
        pixels[j] = Math.round((rgba[i] * a) / 255 + white);
        pixels[j + 1] = Math.round((rgba[i + 1] * a) / 255 + white);
        pixels[j + 2] = Math.round((rgba[i + 2] * a) / 255 + white);
      }
    }
    return { pixels, width, height };
  }

  async function classify(file: Blob, top: number): Promise<OnDeviceResult> {
    await load();
    const t0 = performance.now();
    const img = await decode(file);
    const t1 = performance.now();
    const input = new ort!.Tensor('uint8', img.pixels, [1, img.height, img.width, 3]);
    const outputs = await session!.run({ image: input });
    const out = outputs.probabilities;
    const threshold = meta!.noveltyThreshold;
    const t2 = performance.now();
    const labels = meta!.labels!;
    const order = Array.from(out.data, (score, index) => ({ score, index })).sort((a, b) => b.score - a.score || a.index - b.index);
    return {
      predictions: order.slice(0, top).map((r) => ({ label: labels[r.index], score: r.score })),
      ...(outputs.novelty && typeof threshold === 'number' ? { unknown: outputs.novelty.data[0] > threshold } : {}),
      decodeMs: t1 - t0,
      inferMs: t2 - t1,
    };
  }

  win.fruitsOnDevice = {
    active: () => toggle.checked && panel.dataset.model !== 'failed',
    ready: () => session !== undefined,
    classify,
  };

  toggle.addEventListener('change', () => {
    localStorage.setItem(PREF_KEY, toggle.checked ? 'on' : 'off');
    if (toggle.checked) void load().catch(() => undefined);
    else say(session ? 'The server answers (the model stays cached on this device).' : 'The server answers.', session ? 'idle-ready' : 'idle');
  });
  if (toggle.checked) void load().catch(() => undefined);
  else say(capable ? 'The server answers.' : 'The server answers (this device may be slow at recognising on its own).', 'idle');

  // The service worker keeps the page itself (and the runtime) available offline.
  if ('serviceWorker' in navigator) void navigator.serviceWorker.register(new URL('sw.js', base).href).catch(() => undefined);
  panel.dataset.ready = 'true';
}

/**
 * The service worker: the page's files and the runtime, network first (a server that is up
 * always serves its current page) with the cache as the fallback when the network is off. The
 * model itself is in the page's own cache, which caches.match also searches.
 */
export function serviceWorker(): void {
  const SHELL_CACHE = 'fruits-shell';
  const SHELL = ['./', 'assets/app.js', 'assets/app.css', 'assets/on-device.js', 'assets/on-device.css', 'favicon.svg', 'manifest.webmanifest', 'on-device.json', 'ort/ort.wasm.bundle.min.mjs', 'ort/ort-wasm-simd-threaded.wasm'];
  const sw = self as unknown as {
    registration: { scope: string };
    skipWaiting(): Promise<void>;
    clients: { claim(): Promise<void> };
    addEventListener(type: string, listener: (event: { request: Request; waitUntil(p: Promise<unknown>): void; respondWith(r: Promise<Response>): void }) => void): void;
  };
  const scope = sw.registration.scope;
  const urls = new Set(SHELL.map((p) => new URL(p, scope).href));
  sw.addEventListener('install', (event) => {
    event.waitUntil(
      caches
        .open(SHELL_CACHE)
        .then((cache) => cache.addAll([...urls]))
        .then(() => sw.skipWaiting()),
    );
  });
  sw.addEventListener('activate', (event) => event.waitUntil(sw.clients.claim()));
  sw.addEventListener('fetch', (event) => {
    const req = event.request;
    const url = new URL(req.url);
    url.search = '';
    const shell = urls.has(url.href);
    if (req.method !== 'GET' || !(shell || url.href === new URL('model.onnx', scope).href)) return;
    event.respondWith(
      fetch(req)
        .then(async (response) => {
          if (shell && response.ok) await (await caches.open(SHELL_CACHE)).put(url.href, response.clone());
          return response;
        })
        .catch(async () => (await caches.match(req)) ?? (await caches.match(url.href)) ?? Response.error()),
    );
  });
}

export const ON_DEVICE_JS = `(${onDeviceApp.toString()})();\n`;
export const SERVICE_WORKER_JS = `(${serviceWorker.toString()})();\n`;

/** Installable as an app (home screen icon, full screen); the service worker makes it open offline. */
export function webManifest(classes: number): string {
  return `${JSON.stringify({
    name: 'Fruits! — what fruit is this?',
    short_name: 'Fruits',
    description: `Recognises ${classes} kinds of fruit and vegetable from a photo, on the device or on the server.`,
    start_url: './',
    scope: './',
    display: 'standalone',
    background_color: '#f8fafc',
    theme_color: '#14532d',
    icons: [{ src: 'favicon.svg', sizes: 'any', type: 'image/svg+xml' }],
  })}\n`;
}

export const ON_DEVICE_CSS = `
.on-device { margin-top: 12px; padding: 10px 12px; border-radius: 12px; background: #fff; border: 1px solid #e2e8f0; }
.on-device .switch { display: flex; align-items: center; gap: 10px; min-height: 44px; font-weight: 600; cursor: pointer; }
.on-device .switch input { width: 22px; height: 22px; accent-color: #15803d; flex: none; }
.on-device-status { margin: 2px 0 0; font-size: 0.8rem; color: #64748b; }
.on-device[data-model="failed"] .on-device-status { color: #b91c1c; }
.answered-by { font-weight: 650; color: #14532d; }
`;
