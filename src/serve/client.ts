// The script of the web page, served as /assets/app.js. It is a real, type-checked function
// embedded with Function.prototype.toString (as the report's script), so it must refer to
// nothing outside its own body except browser globals.

interface ApiPrediction {
  label: string;
  score: number;
}
interface ApiResult {
  predictions: ApiPrediction[];
  /** Only from bundles with novelty data. */
  unknown?: boolean;
  timings: { decodeMs: number; queueMs: number; inferMs: number; totalMs: number; batchSize: number };
}
interface ApiError {
  error?: { message?: string };
}

export function clientApp(): void {
  const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
  const camera = byId<HTMLInputElement>('camera');
  const library = byId<HTMLInputElement>('library');
  const drop = byId<HTMLElement>('drop');
  const preview = byId<HTMLImageElement>('preview');
  const status = byId<HTMLElement>('status');
  const results = byId<HTMLElement>('results');
  const list = byId<HTMLOListElement>('predictions');
  const timing = byId<HTMLElement>('timing');
  const unknown = byId<HTMLElement>('unknown');
  const title = byId<HTMLElement>('results-title');
  const body = document.body;
  // Phone photos are 12 MP and several MB; the network sees 224 × 224. Shrinking before the
  // upload saves seconds on a mobile connection and changes nothing the model can see.
  const MAX_SIDE = 1024;
  let objectUrl: string | undefined;
  let sequence = 0;

  const setState = (state: 'idle' | 'busy' | 'done' | 'error', message = '') => {
    body.dataset.state = state;
    status.textContent = message;
    status.hidden = message === '';
    status.classList.toggle('error', state === 'error');
  };

  async function shrink(file: Blob): Promise<Blob> {
    if (typeof createImageBitmap !== 'function') return file;
    let bitmap: ImageBitmap;
    try {
      bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
    } catch {
      return file; // the server says what is wrong with it
    }
    const scale = MAX_SIDE / Math.max(bitmap.width, bitmap.height);
    if (scale >= 1) {
      bitmap.close();
      return file;
    }
    const canvas = document.createElement('canvas');
    canvas.width = Math.round(bitmap.width * scale);
    canvas.height = Math.round(bitmap.height * scale);
    const ctx = canvas.getContext('2d');
    if (!ctx) return file;
    ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    bitmap.close();
    return new Promise((resolve) => canvas.toBlob((b) => resolve(b ?? file), 'image/jpeg', 0.9));
  }

  function percent(score: number): string {
    const p = score * 100;
    if (p > 0 && p < 0.1) return '<0.1%';
    return `${p.toFixed(1)}%`;
  }

  function render(result: ApiResult, roundTripMs: number, bytes: number): void {
    list.replaceChildren();
    // A photo the model does not recognise gets no fruit name: the nearest label would be a wrong answer.
    const notRecognised = result.unknown === true;
    unknown.hidden = !notRecognised;
    list.hidden = notRecognised;
    title.textContent = notRecognised ? 'Not recognised' : 'Best guesses';
    result.predictions.forEach((p, i) => {
      const item = document.createElement('li');
      item.className = i === 0 ? 'prediction best' : 'prediction';
      const name = document.createElement('span');
      name.className = 'label';
      name.textContent = p.label;
      const value = document.createElement('span');
      value.className = 'score';
      value.textContent = percent(p.score);
      const bar = document.createElement('span');
      bar.className = 'bar';
      const fill = document.createElement('span');
      fill.style.width = `${Math.max(0.5, p.score * 100).toFixed(1)}%`;
      bar.append(fill);
      item.append(name, value, bar);
      list.append(item);
    });
    const t = result.timings;
    timing.textContent = `${Math.round(roundTripMs)} ms in all, ${(bytes / 1024).toFixed(0)} KB sent · server ${t.totalMs.toFixed(0)} ms (decode ${t.decodeMs.toFixed(0)}, wait ${t.queueMs.toFixed(0)}, inference ${t.inferMs.toFixed(0)} ms, batch of ${t.batchSize})`;
    results.hidden = false;
  }

  async function classify(file: File): Promise<void> {
    const id = ++sequence;
    if (objectUrl) URL.revokeObjectURL(objectUrl);
    objectUrl = URL.createObjectURL(file);
    preview.src = objectUrl;
    preview.hidden = false;
    drop.classList.add('has-photo');
    results.hidden = true;
    setState('busy', 'Recognising…');
    const start = performance.now();
    try {
      const upload = await shrink(file);
      const response = await fetch('v1/classify?top=5', {
        method: 'POST',
        headers: { 'content-type': upload.type || 'application/octet-stream' },
        body: upload,
      });
      const payload = (await response.json().catch(() => ({}))) as ApiResult & ApiError;
      if (id !== sequence) return; // a newer photo took over
      if (!response.ok) throw new Error(payload.error?.message ?? `the server answered ${response.status}`);
      render(payload, performance.now() - start, upload.size);
      setState('done');
    } catch (err) {
      if (id !== sequence) return;
      const message = err instanceof Error ? err.message : String(err);
      setState('error', `Could not recognise this photo: ${message}`);
    }
  }

  for (const input of [camera, library]) {
    input.addEventListener('change', () => {
      const file = input.files?.[0];
      input.value = ''; // the same photo may be chosen again
      if (file) void classify(file);
    });
  }
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('dragging');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('dragging'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('dragging');
    const file = e.dataTransfer?.files?.[0];
    if (file) void classify(file);
  });
  setState('idle');
  body.dataset.ready = 'true';
}
