// The inference thread of `fruits serve`. ONNX Runtime's run() holds the thread that calls it
// for the whole inference, so it runs here, off the event loop: the main thread keeps
// accepting requests and decoding photos while a batch is inferred.
import { parentPort, workerData } from 'node:worker_threads';
import { readBundle } from '../classify/bundle.js';
import { ImageClassifier } from '../classify/image-classifier.js';
import type { DecodedImage } from '../decode/decode.js';
import type { WorkerReply, WorkerRequest, WorkerSetup } from './worker-classifier.js';

const setup = workerData as WorkerSetup;
const port = parentPort!;

async function main(): Promise<void> {
  let classifier: ImageClassifier;
  try {
    const bundle = await readBundle(setup.bundle);
    if (setup.manifestSha256 && bundle.manifestSha256 !== setup.manifestSha256) throw new Error(`bundle ${setup.bundle} was replaced while loading; the next look loads the new one`);
    classifier = await ImageClassifier.load(bundle, { model: setup.model, threads: setup.threads });
  } catch (err) {
    port.postMessage({ type: 'failed', message: (err as Error).message } satisfies WorkerReply);
    return;
  }
  port.on('message', async (req: WorkerRequest) => {
    try {
      const images: DecodedImage[] = req.images.map((i) => ({
        pixels: Buffer.from(i.pixels.buffer, i.pixels.byteOffset, i.pixels.byteLength),
        width: i.width,
        height: i.height,
        sourceWidth: i.width,
        sourceHeight: i.height,
      }));
      const predictions = await classifier.classify(images, req.top, { features: req.features });
      const transfer = predictions.flatMap((p) => (p.features ? [p.features.buffer as ArrayBuffer] : []));
      port.postMessage({ type: 'result', id: req.id, predictions } satisfies WorkerReply, transfer);
    } catch (err) {
      port.postMessage({ type: 'error', id: req.id, message: (err as Error).message } satisfies WorkerReply);
    }
  });
  port.postMessage({ type: 'ready' } satisfies WorkerReply);
}

void main();
