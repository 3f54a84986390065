// A model given with --model/--model-spec runs on a worker that cannot see the coordinator's
// file: the worker finds it by the spec's file name and sha256 in its own FRUITS_MODEL_DIR.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { collect, show } from './helpers/cli.js';
import { linkSubset, miniTestClasses, sharedModelPath } from './helpers/paths.js';
import { spawnTracked, startWorker, useCluster, waitFor } from './helpers/redis.js';
import { countRows } from './helpers/datasets.js';

describe('distributed runs with a custom model', () => {
  const cluster = useCluster('distributed-model');

  it('a worker finds the model by spec and sha256 in its own model folder, not at the coordinator path', { timeout: 300_000 }, async () => {
    const input = path.join(cluster.dir, 'photos');
    await linkSubset(input, (await miniTestClasses()).slice(0, 2), 6);
    // The coordinator's copy, at a path only it has (removed once the run is submitted).
    const elsewhere = path.join(cluster.dir, 'elsewhere');
    await fs.mkdir(elsewhere);
    const coordinatorModel = path.join(elsewhere, 'custom-net.onnx');
    await fs.copyFile(sharedModelPath, coordinatorModel);
    const spec = path.join(cluster.dir, 'custom-net.json');
    await fs.writeFile(
      spec,
      JSON.stringify({
        id: 'custom-net',
        file: 'custom-net.onnx',
        input: { name: 'input', layout: 'NCHW', width: 224, height: 224 },
        normalize: { kind: 'scale_offset', scale: 1 / 127.5, offset: -1 },
        feature: { tensor: 'features', dim: 1280 },
      }),
    );
    // The worker's own model folder holds the same file under the spec's name.
    const workerModels = path.join(cluster.dir, 'worker-models');
    await fs.mkdir(workerModels);
    await fs.copyFile(sharedModelPath, path.join(workerModels, 'custom-net.onnx'));

    const out = path.join(cluster.dir, 'out');
    const coordinator = spawnTracked(['run', input, out, '--engine', 'distributed', '--redis', cluster.redis.url, '--model', coordinatorModel, '--model-spec', spec, '--partition-size', '4', '--quiet']);
    let err = '';
    coordinator.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    const done = collect(coordinator);
    await waitFor('the run to be submitted', () => (/distributed run \S+ on redis/.test(err) ? true : undefined));
    await fs.rm(elsewhere, { recursive: true });

    const worker = startWorker(cluster.redis.url, [], { FRUITS_MODEL_DIR: workerModels });
    cluster.workers.push(worker);
    const r = await done;
    assert.equal(r.code, 0, `${show(r)}\n--- worker\n${worker.output()}`);
    assert.deepEqual(await countRows(path.join(out, 'features')), { rows: 12, paths: 12 });
    const manifest = JSON.parse(await fs.readFile(path.join(out, 'features', '_manifest.json'), 'utf8')) as { config: { model: { id: string } } };
    assert.equal(manifest.config.model.id, 'custom-net');
  });
});
