// `fruits export`: a bundle as one ONNX file, photo in, probabilities out, for phones and
// browsers (ONNX Runtime Mobile, onnxruntime-web) where there is no `fruits serve`.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { writeFileAtomic } from '../util/atomic-file.js';
import { UserError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { z } from 'zod';
import { optionalFlag, UsageError } from '../util/flags.js';
import { featurizerFileOption } from './flag-groups.js';

export function registerExport(program: Command, log: () => Logger): void {
  program
    .command('export')
    .description('write a bundle as one ONNX model from photo to probabilities (input image uint8 [N,H,W,3], output probabilities [N,classes])')
    .argument('<bundle>', 'a bundle folder or s3:// prefix (fruits train)')
    .argument('<file.onnx>', 'the model file to write (local)')
    .addOption(featurizerFileOption())
    .option('--quantize <int8>', 'int8 weights (per output channel, float32 activations): a file ~4× smaller; see docs/recognition.md for its measured accuracy')
    .option('--overwrite', 'replace an existing file')
    .option('--json', 'print a summary as JSON')
    .addHelpText(
      'after',
      `
The class names are in the model's metadata_props under fruits.labels (a JSON array, index =
column of probabilities), with the featurizer's sha256, the training dataset and the bundle's date.

Examples:
  $ fruits export out/bundle fruits.onnx
  $ fruits export s3://models/bundle-7 app/assets/fruits.onnx --overwrite`,
    )
    .action(async (bundleDir: string, file: string, o: Record<string, unknown>) => {
      const quantize = optionalFlag(z.enum(['int8']), o.quantize, '--quantize');
      if (!/\.onnx$/i.test(file)) throw new UsageError(`${file}: the output file must end in .onnx`);
      if (existsSync(file) && !o.overwrite) throw new UserError(`${file} already exists; pass --overwrite to replace it`);
      const [{ readBundle }, { exportBundle }] = await Promise.all([import('../classify/bundle.js'), import('../classify/export-model.js')]);
      const bundle = await readBundle(bundleDir);
      const logger = log();
      const t0 = performance.now();
      const exported = await exportBundle(bundle, o.model as string | undefined, (m) => logger.info(m), { quantize });
      // Never a half-written model under the name an app loads.
      await writeFileAtomic(file, exported.bytes);
      const summary = {
        file: path.resolve(file),
        bytes: exported.bytes.length,
        classes: bundle.labels.length,
        classifier: bundle.classifier.kind,
        pcaK: bundle.pca?.model.k ?? null,
        novelty: bundle.novelty !== undefined,
        quantize: quantize ?? null,
        seconds: (performance.now() - t0) / 1000,
      };
      if (o.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
      else
        process.stdout.write(
          `${file}: ${(summary.bytes / 2 ** 20).toFixed(1)} MiB, ${summary.classes} classes (${summary.classifier}${summary.pcaK ? `, PCA k = ${summary.pcaK}` : ''}); input image uint8 [N,H,W,3], output probabilities [N,${summary.classes}]${summary.novelty ? ', novelty [N]' : '; no novelty output (this bundle has no novelty score)'}\n`,
        );
    });
}
