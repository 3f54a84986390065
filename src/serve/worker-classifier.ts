// Classifies decoded images on a worker thread (see inference-worker.ts). A worker that dies is
// replaced on the next call; the calls it was running fail (and their requests get a 500).
import { Worker } from 'node:worker_threads';
import type { Classified } from '../classify/image-classifier.js';
import type { DecodedImage } from '../decode/decode.js';

/** What the server needs from a classifier: in-process (ImageClassifier) or on a worker. */
export interface ImagesClassifier {
  classify(images: readonly DecodedImage[], top: number, opts?: { features?: boolean }): Promise<Classified[]>;
  release(): Promise<void>;
}

export interface WorkerSetup {
  bundle: string;
  model?: string;
  threads: number;
  /** The bundle.json sha256 the caller read: a bundle replaced since is refused, not loaded. */
  manifestSha256?: string;
}

export interface WorkerRequest {
  id: number;
  top: number;
  /** Send each image's features back too (serve --log-features). */
  features?: boolean;
  images: { pixels: Uint8Array; width: number; height: number }[];
}

export type WorkerReply =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | { type: 'result'; id: number; predictions: Classified[] }
  | { type: 'error'; id: number; message: string };

const script = new URL('./inference-worker.js', import.meta.url);

export class WorkerClassifier implements ImagesClassifier {
  private worker: Worker | undefined;
  private starting: Promise<Worker> | undefined;
  private nextId = 1;
  private pending = new Map<number, { resolve: (p: Classified[]) => void; reject: (e: Error) => void }>();
  private closed = false;

  private constructor(private readonly setup: WorkerSetup) {}

  /** Starts the worker and waits until its model is loaded (rejects with the load error). */
  static async start(setup: WorkerSetup): Promise<WorkerClassifier> {
    const c = new WorkerClassifier(setup);
    await c.ensure();
    return c;
  }

  private ensure(): Promise<Worker> {
    if (this.worker) return Promise.resolve(this.worker);
    this.starting ??= new Promise<Worker>((resolve, reject) => {
      const worker = new Worker(script, { workerData: this.setup });
      let ready = false;
      worker.on('message', (msg: WorkerReply) => {
        if (msg.type === 'ready') {
          ready = true;
          this.worker = worker;
          this.starting = undefined;
          resolve(worker);
        } else if (msg.type === 'failed') {
          reject(new Error(msg.message));
          void worker.terminate();
        } else {
          const p = this.pending.get(msg.id);
          if (!p) return;
          this.pending.delete(msg.id);
          if (msg.type === 'result') p.resolve(msg.predictions);
          else p.reject(new Error(msg.message));
        }
      });
      worker.on('error', (err) => {
        if (!ready) reject(err);
      });
      worker.on('exit', (code) => {
        if (this.worker === worker) this.worker = undefined;
        this.starting = undefined;
        if (!ready) reject(new Error(`the inference worker exited with code ${code} while loading`));
        const err = new Error(`the inference worker exited (code ${code})`);
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
      });
    });
    return this.starting;
  }

  async classify(images: readonly DecodedImage[], top: number, opts: { features?: boolean } = {}): Promise<Classified[]> {
    if (this.closed) throw new Error('the classifier is closed');
    const worker = await this.ensure();
    const id = this.nextId++;
    // Copies into fresh buffers that can be transferred (sharp's buffers may not be).
    const payload = images.map((img) => ({ pixels: new Uint8Array(img.pixels), width: img.width, height: img.height }));
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, top, features: opts.features, images: payload } satisfies WorkerRequest, payload.map((p) => p.pixels.buffer as ArrayBuffer));
    });
  }

  async release(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}
