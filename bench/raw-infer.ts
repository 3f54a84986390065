// Raw inference throughput of the featurizer's network on synthetic input tensors: the ceiling
// the end-to-end pipeline is compared with. Run as a child process, one per worker, with the same
// thread settings as the pipeline's workers.
import ort from 'onnxruntime-node';
import { FEATURE_OUTPUT } from '../src/model/graph-edit.js';
import { networkBytes, sessionOptions } from '../src/model/featurizer.js';
import { resolveModel } from '../src/model/resolve.js';
import { withInputSize } from '../src/model/spec.js';

const threads = Number(process.env.FRUITS_WORKER_THREADS ?? '1');
const batch = Number(process.argv[2] ?? '16');
const seconds = Number(process.argv[3] ?? '10');
// The --input-size to measure (default: the model's own).
const inputSize = process.argv[4] ? Number(process.argv[4]) : undefined;

const resolved = await resolveModel({});
const model = { ...resolved, spec: withInputSize(resolved.spec, inputSize) };
// The network alone, as the featurizer runs it (same session options), on float tensors.
const session = await ort.InferenceSession.create(await networkBytes(model), sessionOptions({ threads }));
const infer = async () => (await session.run({ [model.spec.input.name]: input }))[FEATURE_OUTPUT];
const { width, height, layout } = model.spec.input;
const dims = layout === 'NCHW' ? [batch, 3, height, width] : [batch, height, width, 3];
const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
let seed = 1;
for (let i = 0; i < data.length; i++) data[i] = ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff) * 2 - 1;
const input = new ort.Tensor('float32', data, dims);
await infer(); // warm-up
const t0 = performance.now();
const c0 = process.cpuUsage();
let images = 0;
while (performance.now() - t0 < seconds * 1000) {
  await infer();
  images += batch;
}
// CPU seconds as well: on a shared machine images per CPU-second is the figure that holds.
const cpu = process.cpuUsage(c0);
process.stdout.write(`${JSON.stringify({ images, seconds: (performance.now() - t0) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6 })}\n`);
