// The recognition commands: train a classifier bundle on features, evaluate it, predict photos
// with it, and serve it over HTTP.
import { promises as fs, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
// Value imports here are light: the commands load the classifier, the model and the pools when
// they run, so that `fruits --help` and the other commands do not pay for them.
import type { Bundle } from '../classify/bundle.js';
import type { LabelledRows } from '../classify/dataset.js';
import type { Evaluation } from '../classify/evaluate.js';
import type { Classified } from '../classify/image-classifier.js';
import { CLASSIFIER_KINDS, TRAIN_DEFAULTS } from '../classify/train-options.js';
import type { ClassifierKind } from '../classify/classifier.js';
import type { DecodedImage } from '../decode/decode.js';
import { DEFAULT_MAX_PIXELS } from '../decode/limits.js';
import { isHiddenKey, isImageKey } from '../source/listing.js';
import { UserError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { createProgress } from '../util/progress.js';
import { addPoolOptions, DEFAULTS as FEATURIZE_DEFAULTS, memoryUse } from './featurize.js';
import { flag, optionalFlag, parseFlag, poolSize } from './options.js';
import { SERVE_DEFAULTS, serveOptionsOf } from '../serve/options.js';

/** Mistakes shown (with thumbnails) in the evaluation report by default. */
const DEFAULT_CARDS = 60;

const l2Flag = z.union([
  z.literal('auto'),
  z
    .string()
    .trim()
    .regex(/^(\d+(\.\d*)?|\.\d+)(e-?\d+)?$/i, 'a non-negative number or auto')
    .transform(Number),
]);
const holdoutFlag = z.string().trim().regex(/^(0(\.\d+)?|\.\d+)$/, 'a number from 0 to below 1').transform(Number).pipe(z.number().min(0).lt(1));
const classifierFlag = z.enum(CLASSIFIER_KINDS as [ClassifierKind, ...ClassifierKind[]]);

function pct(v: number): string {
  return `${(v * 100).toFixed(2)} %`;
}

// ---------------------------------------------------------------- train

function registerTrain(program: Command, log: () => Logger): void {
  program
    .command('train')
    .description('train a fruit classifier on a features (or reduced) dataset and save it as a bundle folder')
    .argument('<dataset>', 'a features dataset (fruits featurize), a reduced dataset (fruits transform) or a fruits run folder')
    .argument('<bundle-out>', 'bundle folder or s3:// prefix to write (bundle.json, weights.bin, pca.json)')
    .option('--classifier <logreg|knn>', `multinomial logistic regression (L2, L-BFGS) or k-nearest neighbours (cosine) (default ${TRAIN_DEFAULTS.classifier})`)
    .option('--pca <model.json>', 'reduce raw features with this PCA model first (from fruits fit / fruits run)')
    .option('--pca-k <n>', 'fit a PCA with n components on the training features first and keep it in the bundle')
    .option('--l2 <lambda|auto>', `L2 penalty λ of the logistic regression; auto picks it from ${TRAIN_DEFAULTS.l2Grid.join(', ')} on the held-out slice (default ${TRAIN_DEFAULTS.l2})`)
    .option('--k <n>', `neighbours for k-NN (default ${TRAIN_DEFAULTS.knnK})`)
    .option('--holdout <ratio>', `share of each class (its last images in path order) held out to measure the fit, then refitted on all; 0 for none (default ${TRAIN_DEFAULTS.holdout})`)
    .option('--max-iterations <n>', `L-BFGS iterations at most (default ${TRAIN_DEFAULTS.maxIterations})`)
    .option('--overwrite', 'replace an existing bundle')
    .option('--json', 'print the training summary as JSON')
    .option('--quiet', 'no progress display')
    .addHelpText(
      'after',
      `
Examples:
  $ fruits train out/train-features out/bundle
  $ fruits train out/train-features out/bundle --pca-k 200 --l2 auto
  $ fruits train out/run out/bundle            # a fruits run: its reduced dataset and PCA
  $ fruits train out/train-features out/knn --classifier knn --k 5`,
    )
    .action(async (dataset: string, bundleOut: string, o: Record<string, unknown>) => {
      const classifier = parseFlag(classifierFlag, o.classifier ?? TRAIN_DEFAULTS.classifier, '--classifier');
      const l2 = parseFlag(l2Flag, o.l2 ?? String(TRAIN_DEFAULTS.l2), '--l2');
      const knnK = parseFlag(flag.positiveInt, o.k ?? String(TRAIN_DEFAULTS.knnK), '--k');
      const holdout = parseFlag(holdoutFlag, o.holdout ?? String(TRAIN_DEFAULTS.holdout), '--holdout');
      const maxIterations = parseFlag(flag.positiveInt, o.maxIterations ?? String(TRAIN_DEFAULTS.maxIterations), '--max-iterations');
      const pcaK = optionalFlag(flag.positiveInt, o.pcaK, '--pca-k');
      const [{ openStore }, { trainBundle }, { writeBundle }] = await Promise.all([import('../storage/open.js'), import('../classify/train.js'), import('../classify/bundle.js')]);
      const out = openStore(bundleOut);
      if ((await out.exists('bundle.json')) && !o.overwrite) throw new UserError(`${out.root} already holds a bundle; pass --overwrite to replace it`);
      const logger = log();
      const contents = await trainBundle({
        dataset,
        classifier,
        pcaFile: o.pca as string | undefined,
        pcaK,
        l2,
        knnK,
        holdout,
        maxIterations,
        tolerance: TRAIN_DEFAULTS.tolerance,
        log: logger,
        progress: createProgress({ unit: 'iterations', quiet: Boolean(o.quiet) }),
      });
      await writeBundle(bundleOut, contents, { overwrite: Boolean(o.overwrite) });
      const t = contents.training;
      const summary = { bundle: out.root, classifier, labels: contents.labels.length, ...t };
      if (o.json) {
        process.stdout.write(`${JSON.stringify(summary)}\n`);
        return;
      }
      const lines = [
        `trained ${classifier === 'logreg' ? `logistic regression (λ = ${t.l2?.chosen})` : `k-NN (k = ${t.knnK})`} on ${t.rows} rows, ${t.classes} classes, ${t.inputDim} inputs${t.pca ? ` (PCA ${t.featureDim} → ${t.pca.k}, ${pct(t.pca.varianceKept)} of the variance)` : ''} → ${summary.bundle}`,
        `training rows: top-1 ${pct(t.train.top1)}, top-5 ${pct(t.train.top5)}, log-loss ${(t.train.loss ?? 0).toFixed(4)}`,
      ];
      if (t.heldOut) lines.push(`held-out slice (${t.heldOut.rows} rows, last ${Math.round(t.heldOut.fraction * 100)} % of each class): top-1 ${pct(t.heldOut.top1)}, top-5 ${pct(t.heldOut.top5)}`);
      if (t.l2?.candidates) lines.push(`λ grid (held-out top-1): ${t.l2.candidates.map((c) => `${c.l2}: ${pct(c.heldOutTop1)}`).join(', ')}`);
      lines.push(`${t.seconds.total.toFixed(1)} s (fit ${t.seconds.fit.toFixed(1)} s${t.pca?.source === 'fitted' ? `, PCA ${t.seconds.pca.toFixed(1)} s` : ''})`);
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}

// ---------------------------------------------------------------- evaluate

/** Featurizes an image folder (or s3:// prefix) with the bundle's model (local worker pool) and loads the rows; also used by `fruits drift`. */
export async function featurizeForEvaluation(bundle: Pick<Bundle, 'dir' | 'featurizer'>, input: string, o: Record<string, unknown>, logger: Logger): Promise<{ data: LabelledRows; rejects: number }> {
  const [{ resolveBundleModel }, { LocalRunner }, { featurizeJob }, { openStore }, { loadDataset }] = await Promise.all([
    import('../classify/model-file.js'),
    import('../runner/local.js'),
    import('../pipeline/featurize.js'),
    import('../storage/open.js'),
    import('../classify/dataset.js'),
  ]);
  const model = await resolveBundleModel(bundle, o.model as string | undefined, (m) => logger.info(m));
  const pool = poolSize(o.workers, o.threads);
  const keep = o.featuresOut as string | undefined;
  const out = keep ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'fruits-evaluate-')));
  const runner = new LocalRunner({ ...pool });
  try {
    logger.info(`featurizing ${input} with ${model.spec.id} (${pool.workers} workers) into ${keep ?? 'a temporary dataset'}`);
    const summary = await featurizeJob({
      input: openStore(input),
      output: openStore(out),
      model,
      batchSize: parseFlag(flag.positiveInt, o.batchSize ?? String(FEATURIZE_DEFAULTS.batchSize), '--batch-size'),
      partitionSize: FEATURIZE_DEFAULTS.partitionSize,
      maxPixels: parseFlag(flag.positiveInt, o.maxPixels ?? String(DEFAULT_MAX_PIXELS), '--max-pixels'),
      overwrite: false,
      runner,
      progress: createProgress({ unit: 'images', quiet: Boolean(o.quiet) }),
      log: logger,
    });
    logger.info(`featurized ${summary.rows} images (${summary.rejects} rejected) in ${summary.seconds.toFixed(1)} s; peak worker RSS ${Math.max(...memoryUse(runner).workerPeakRss, 0) >> 20} MiB`);
    return { data: await loadDataset(out), rejects: summary.rejects };
  } finally {
    await runner.close();
    if (!keep) await fs.rm(out, { recursive: true, force: true });
  }
}

function printEvaluation(e: Evaluation, reportFile: string | undefined, rejects: number): void {
  const out: string[] = [];
  out.push(`evaluated ${e.rows} rows of ${e.labelsEvaluated} classes: ${e.bundle.dir} (${e.bundle.classifier}, ${e.bundle.classes} classes) on ${e.dataset}`);
  out.push(`trained on ${e.bundle.trainedOn}${e.bundle.trainedOnVersion ? ` (dataset version ${e.bundle.trainedOnVersion})` : ''}${e.datasetVersion ? `; evaluated on dataset version ${e.datasetVersion}` : ''}`);
  if (rejects) out.push(`${rejects} images could not be read and were skipped (see the dataset's _rejects.csv)`);
  for (const x of e.excluded) out.push(`excluded: ${x.label} (${x.rows} rows): not a class of the bundle`);
  out.push(`top-1 ${pct(e.accuracy.top1)}   top-5 ${pct(e.accuracy.top5)}   log-loss ${e.accuracy.loss.toFixed(4)}   misclassified ${e.mistakes.length}`);
  const weak = e.perClass.filter((c) => c.support > 0 && (c.recall ?? 1) < 1).sort((a, b) => (a.recall ?? 0) - (b.recall ?? 0)).slice(0, 8);
  if (weak.length) {
    out.push('lowest recall:');
    const w = Math.max(...weak.map((c) => c.label.length));
    for (const c of weak) out.push(`  ${c.label.padEnd(w)}  recall ${pct(c.recall ?? 0).padStart(8)}  precision ${c.precision === null ? '–' : pct(c.precision).padStart(8)}  (${c.correct}/${c.support})`);
  }
  if (e.pairs.length) {
    out.push('most confused (actual → predicted):');
    for (const p of e.pairs.slice(0, 8)) out.push(`  ${p.actual} → ${p.predicted}: ${p.count} (${pct(p.share)} of ${p.actual})`);
  }
  if (e.novelty) {
    const n = e.novelty;
    out.push(`unknown (novelty > ${n.threshold.toFixed(2)}): ${n.known.unknown} of ${n.known.rows} photos of known classes (${pct(n.known.rate)})${n.excluded ? `, ${n.excluded.unknown} of ${n.excluded.rows} photos of excluded labels (${pct(n.excluded.rate)})` : ''}`);
  } else {
    out.push('unknown rate: n/a (the bundle has no novelty data, or the rows are PCA-reduced)');
  }
  if (e.mistakes.length) {
    out.push('most confident mistakes:');
    for (const m of e.mistakes.slice(0, 5)) out.push(`  ${m.path}: ${m.actual} → ${m.predicted} (${pct(m.score)})`);
  }
  if (reportFile) out.push(`report: ${reportFile}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

function registerEvaluate(program: Command, log: () => Logger): void {
  const cmd = program
    .command('evaluate')
    .description('measure a bundle on a labelled dataset or image folder: accuracy, per-class precision/recall, confusions, mistakes (terminal + HTML report)')
    .argument('<bundle>', 'a bundle folder or s3:// prefix (fruits train)')
    .argument('<data>', 'a features / reduced dataset or fruits run folder, or a folder of <label>/<image> files (featurized first)')
    .option('--report <file.html>', 'where to write the HTML report (default evaluation.html)')
    .option('--no-report', 'no HTML report')
    .option('--thumbnails <n>', `misclassified examples shown with thumbnails in the report (default ${DEFAULT_CARDS})`)
    .option('--features-out <dir>', 'image folder: keep the featurized dataset here (and resume it on a rerun)')
    .option('--model <file.onnx>', "image folder: the bundle's featurizer file, if not in FRUITS_MODEL_DIR or the cache")
    .option('--batch-size <n>', `image folder: images per inference call (default ${FEATURIZE_DEFAULTS.batchSize})`)
    .option('--max-pixels <n>', `image folder: reject images with more pixels than this (default ${DEFAULT_MAX_PIXELS})`)
    .option('--json', 'print the evaluation as JSON')
    .option('--quiet', 'no progress display');
  addPoolOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Examples:
  $ fruits evaluate out/bundle out/test-features
  $ fruits evaluate out/bundle ../shared/data/fruits360-mini/Test --report out/eval.html
  $ fruits evaluate out/bundle out/test-features --json --no-report`,
  );
  cmd.action(async (bundleDir: string, dataArg: string, o: Record<string, unknown>) => {
    const thumbs = parseFlag(flag.nonNegativeInt, o.thumbnails ?? String(DEFAULT_CARDS), '--thumbnails');
    const [{ readBundle }, { datasetsAt, loadDataset, readFeatureSpace }, { BundleMismatchError, checkFeatureSpace }, { evaluateBundle }] = await Promise.all([
      import('../classify/bundle.js'),
      import('../classify/dataset.js'),
      import('../classify/inputs.js'),
      import('../classify/evaluate.js'),
    ]);
    const bundle = await readBundle(bundleDir);
    const logger = log();
    const choice = await datasetsAt(dataArg).catch((err) => {
      // A plain folder of images has no manifest: anything else is a real error.
      if (err instanceof UserError) throw err;
      return undefined;
    });
    let data: LabelledRows;
    let rejects = 0;
    if (choice) {
      // A run offers both: the reduced rows when they match the bundle's PCA, else the features.
      let location = choice.features ?? choice.reduced!;
      if (choice.reduced && bundle.pca) {
        try {
          checkFeatureSpace(bundle, await readFeatureSpace(choice.reduced), choice.reduced);
          location = choice.reduced;
        } catch (err) {
          if (!(err instanceof BundleMismatchError) || !choice.features) throw err;
        }
      }
      // Refused from the manifest, before reading any row.
      checkFeatureSpace(bundle, await readFeatureSpace(location), location);
      data = await loadDataset(location);
    } else {
      if (!existsSync(dataArg)) throw new UserError(`${dataArg}: no such dataset or image folder`);
      ({ data, rejects } = await featurizeForEvaluation(bundle, dataArg, o, logger));
    }
    const evaluation = await evaluateBundle(bundle, data);
    let reportFile: string | undefined;
    if (o.report !== false) {
      reportFile = path.resolve(typeof o.report === 'string' ? o.report : 'evaluation.html');
      // Loaded only when a report is written: the chart compiler is the CLI's heaviest import.
      const [{ renderEvaluationHtml }, { thumbnailsFor }] = await Promise.all([import('../classify/report.js'), import('../classify/thumbnails.js')]);
      const thumbnails = await thumbnailsFor(data.imageRoot, evaluation.mistakes.map((m) => m.path), thumbs);
      const tmp = `${reportFile}.tmp-${process.pid}`;
      await fs.mkdir(path.dirname(reportFile), { recursive: true });
      await fs.writeFile(tmp, renderEvaluationHtml(evaluation, thumbnails, { maxCards: thumbs }));
      await fs.rename(tmp, reportFile);
    }
    if (o.json) process.stdout.write(`${JSON.stringify({ ...evaluation, rejects, report: reportFile ?? null })}\n`);
    else printEvaluation(evaluation, reportFile, rejects);
  });
}

// ---------------------------------------------------------------- predict

/** The image files named by the arguments: files as given, folders searched recursively. */
async function imageFiles(args: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const arg of args) {
    let stat;
    try {
      stat = await fs.stat(arg);
    } catch {
      throw new UserError(`${arg}: no such file or folder`);
    }
    if (stat.isFile()) {
      files.push(arg);
      continue;
    }
    const { openStore } = await import('../storage/open.js');
    const store = openStore(arg);
    const found: string[] = [];
    for await (const obj of store.list('')) if (!isHiddenKey(obj.key) && isImageKey(obj.key)) found.push(path.join(arg, obj.key));
    if (found.length === 0) throw new UserError(`${arg}: no images (.jpg, .jpeg, .png, .webp) in this folder`);
    files.push(...found);
  }
  return files;
}

interface PredictRow extends Partial<Classified> {
  path: string;
  error?: string;
}

function registerPredict(program: Command, log: () => Logger): void {
  program
    .command('predict')
    .description('label photos with a bundle: files or folders, as a table or JSON')
    .argument('<bundle>', 'a bundle folder or s3:// prefix (fruits train)')
    .argument('<images...>', 'image files and/or folders (searched recursively)')
    .option('--top <n>', 'labels per image (default 3)')
    .option('--model <file.onnx>', "the bundle's featurizer file, if not in FRUITS_MODEL_DIR or the cache")
    .option('--threads <n>', 'ONNX Runtime threads (default: all cores)')
    .option('--batch-size <n>', `images per inference call (default ${FEATURIZE_DEFAULTS.batchSize})`)
    .option('--max-pixels <n>', `reject images with more pixels than this (default ${DEFAULT_MAX_PIXELS})`)
    .option('--json', 'print one JSON array: [{ path, predictions: [{ label, score }], novelty, unknown } | { path, error }] (novelty and unknown only for bundles with novelty data)')
    .addHelpText('after', '\nExamples:\n  $ fruits predict out/bundle photo.jpg\n  $ fruits predict out/bundle photos/ --top 5 --json')
    .action(async (bundleDir: string, args: string[], o: Record<string, unknown>) => {
      const top = parseFlag(flag.positiveInt, o.top ?? '3', '--top');
      const threads = optionalFlag(flag.positiveInt, o.threads, '--threads') ?? os.availableParallelism();
      const batchSize = parseFlag(flag.positiveInt, o.batchSize ?? String(FEATURIZE_DEFAULTS.batchSize), '--batch-size');
      const maxPixels = parseFlag(flag.positiveInt, o.maxPixels ?? String(DEFAULT_MAX_PIXELS), '--max-pixels');
      const [{ readBundle }, { ImageClassifier }, { DecodeError }] = await Promise.all([import('../classify/bundle.js'), import('../classify/image-classifier.js'), import('../decode/decode.js')]);
      const bundle = await readBundle(bundleDir);
      const files = await imageFiles(args);
      const logger = log();
      const classifier = await ImageClassifier.load(bundle, { model: o.model as string | undefined, threads, log: (m) => logger.info(m) });
      const rows: PredictRow[] = [];
      try {
        for (let start = 0; start < files.length; start += batchSize) {
          const batch = files.slice(start, start + batchSize);
          const decoded = await Promise.all(
            batch.map(async (file): Promise<DecodedImage | string> => {
              try {
                return await classifier.decode(await fs.readFile(file), maxPixels);
              } catch (err) {
                if (err instanceof DecodeError) return err.reason;
                return `cannot read: ${(err as Error).message}`;
              }
            }),
          );
          const ok = decoded.filter((d): d is DecodedImage => typeof d !== 'string');
          const predictions = await classifier.classify(ok, top);
          let next = 0;
          batch.forEach((file, i) => {
            const d = decoded[i];
            rows.push(typeof d === 'string' ? { path: file, error: d } : { path: file, ...predictions[next++] });
          });
        }
      } finally {
        await classifier.release();
      }
      const failed = rows.filter((r) => r.error);
      if (o.json) {
        process.stdout.write(`${JSON.stringify(rows)}\n`);
      } else {
        const width = Math.min(60, Math.max(4, ...rows.map((r) => r.path.length)));
        const labelWidth = Math.max(5, ...rows.map((r) => r.predictions?.[0]?.label.length ?? 0));
        const lines = [`${'file'.padEnd(width)}  ${'label'.padEnd(labelWidth)}  score   ${top > 1 ? 'next' : ''}`.trimEnd()];
        for (const r of rows) {
          const name = r.path.length > width ? `…${r.path.slice(-(width - 1))}` : r.path.padEnd(width);
          if (!r.predictions) {
            lines.push(`${name}  ERROR: ${r.error}`);
            continue;
          }
          const [best, ...rest] = r.predictions;
          const alternatives = rest.map((p) => `${p.label} ${(p.score * 100).toFixed(1)}%`).join(', ');
          // An unknown photo is not named: the label would only be the nearest wrong fruit.
          if (r.unknown) lines.push(`${name}  ${'UNKNOWN'.padEnd(labelWidth)}  novelty ${r.novelty?.toFixed(2)} (nearest: ${best.label} ${(best.score * 100).toFixed(1)}%)`);
          else lines.push(`${name}  ${best.label.padEnd(labelWidth)}  ${(best.score * 100).toFixed(1).padStart(5)}%  ${alternatives}`.trimEnd());
        }
        process.stdout.write(`${lines.join('\n')}\n`);
      }
      for (const f of failed) process.stderr.write(`fruits: warning: ${f.path}: ${f.error}\n`);
      if (failed.length) process.exitCode = 1;
    });
}

// ---------------------------------------------------------------- serve

function registerServe(program: Command, log: () => Logger): void {
  program
    .command('serve')
    .description('serve a bundle over HTTP: POST /v1/classify, a phone-friendly page at /, health and Prometheus metrics')
    .argument('<bundle>', 'a bundle folder or s3:// prefix (fruits train)')
    .option('--port <n>', `TCP port (default ${SERVE_DEFAULTS.port}, or $PORT)`)
    .option('--host <address>', `address to listen on (default ${SERVE_DEFAULTS.host}, or $HOST)`)
    .option('--model <file.onnx>', "the bundle's featurizer file, if not in FRUITS_MODEL_DIR or the cache")
    .option('--threads <n>', 'ONNX Runtime threads (default: all cores)')
    .option('--max-batch <n>', `images per inference call (default ${SERVE_DEFAULTS.maxBatch})`)
    .option('--max-wait-ms <ms>', `how long the first image of a batch waits for others (default ${SERVE_DEFAULTS.maxWaitMs})`)
    .option('--max-queue <n>', `classify requests handled at once (decoding, waiting, inferring); more are answered 503 at once (default ${SERVE_DEFAULTS.maxQueue})`)
    .option('--max-body <bytes>', `largest upload in bytes (default ${SERVE_DEFAULTS.maxBodyBytes})`)
    .option('--max-pixels <n>', `largest image in pixels, checked from the header before decoding (default ${SERVE_DEFAULTS.maxPixels})`)
    .option('--cors-origin <origins>', 'comma-separated origins allowed to call the API from a browser, or * (default none; or $FRUITS_CORS_ORIGINS)')
    .option('--rate-limit <n>', 'requests per client address per minute on /v1/classify (default off; or $FRUITS_RATE_LIMIT)')
    .option('--decode-size <native|model>', 'native: decode photos at their size and batch same-size ones (resize in ONNX Runtime); model: resize each to the network input in sharp (default native)')
    .option('--body-timeout <ms>', `time for a request's headers and body to arrive, else 408 and the connection closed; also how long a new connection may stay silent (default ${SERVE_DEFAULTS.bodyTimeoutMs})`)
    .option('--keep-alive-timeout <ms>', `how long an idle keep-alive connection stays open (default ${SERVE_DEFAULTS.keepAliveTimeoutMs}; above the load balancer's idle timeout behind one)`)
    .option('--max-client-connections <n>', `open connections per client address, more are answered 429; 0: no bound; off with --trust-proxy (default ${SERVE_DEFAULTS.maxClientConnections})`)
    .option('--drain-timeout <ms>', `on SIGTERM, how long admitted requests may take to finish before connections are cut (default ${SERVE_DEFAULTS.drainTimeoutMs})`)
    .option('--trust-proxy <addresses>', "comma-separated addresses/CIDRs of the proxies in front (a load balancer's subnets, or loopback); from them the client address comes from X-Forwarded-For (default none; or $FRUITS_TRUST_PROXY)")
    .addHelpText('after', '\nExamples:\n  $ fruits serve out/bundle --port 8080\n  $ fruits serve out/bundle --host 0.0.0.0 --cors-origin https://app.example.com --rate-limit 120\n  $ fruits serve s3://bucket/models/current --host 0.0.0.0 --trust-proxy 10.0.0.0/16 --rate-limit 120 --keep-alive-timeout 65000')
    .action(async (bundleDir: string, o: Record<string, unknown>) => {
      const opts = serveOptionsOf(o, process.env);
      const { readBundle } = await import('../classify/bundle.js');
      const bundle = await readBundle(bundleDir);
      const logger = log();
      const { startServer } = await import('../serve/server.js');
      const server = await startServer(bundle, { ...opts, logger });
      const stop = async (signal: string) => {
        logger.info(`${signal}: shutting down`);
        await server.close();
        process.exit(0);
      };
      process.once('SIGINT', () => void stop('SIGINT'));
      process.once('SIGTERM', () => void stop('SIGTERM'));
    });
}

export function registerClassifyCommands(program: Command, log: () => Logger): void {
  registerTrain(program, log);
  registerEvaluate(program, log);
  registerPredict(program, log);
  registerServe(program, log);
}
