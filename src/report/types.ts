// The data a finished run hands to the report. It may travel through a JSON file (a report can
// be re-rendered later, or on another machine), so it is validated at this boundary with zod and
// the TypeScript type is inferred from the schema: one definition, no drift.
import { z } from 'zod';
import { UserError } from '../util/errors.js';
import { SCALE_MODES } from '../pca/scaling.js';

/** Bounds that keep report.html small and fast to open whatever the size of the dataset. */
export const REPORT_LIMITS = {
  /** PC1/PC2 points embedded in the page; the caller samples down to this. */
  scatterPoints: 5000,
  /** Rejects listed by path; the total is reported separately. */
  rejects: 1000,
  /** Dataset versions listed (the latest). */
  versions: 50,
} as const;

export const REPORT_STAGES = ['featurize', 'statistics', 'fit', 'transform'] as const;

const count = z.int().nonnegative();
const seconds = z.number().nonnegative();
const ratio = z.number().min(0).max(1);
const text = z.string().min(1);

const LabelCount = z.object({ label: text, count });
const Reject = z.object({ path: text, reason: text });
const StageTiming = z.object({
  stage: z.enum(REPORT_STAGES),
  seconds,
  items: count,
  itemsPerSecond: z.number().nonnegative(),
});
const DatasetVersion = z.object({
  version: z.int().positive(),
  time: text,
  kind: text,
  added: count,
  changed: count,
  removed: count,
  partsAdded: count,
  partsRemoved: count,
  rows: count,
});
const ScatterPoint = z.object({ pc1: z.number(), pc2: z.number(), label: text, path: text });

// Float sums of up to a few thousand ratios computed by the caller (possibly in float32).
const CUMULATIVE_TOLERANCE = 1e-4;

export const RunReportSchema = z
  .object({
    title: text,
    runId: text,
    /** ISO 8601 timestamp of when the run finished. */
    generatedAt: z.iso.datetime({ offset: true }),
    /** Input and output locations as the user gave them (folder or s3:// URI). */
    input: text,
    output: text,
    softwareVersion: text,
    /** Wall-clock seconds of the whole run (stages overlap, so this is not their sum). */
    durationSeconds: seconds,
    model: z.object({
      id: text,
      sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits'),
    }),
    totals: z.object({
      /** Images found in the input. */
      images: count,
      /** Feature rows written (images minus rejects). */
      rows: count,
      rejects: count,
      labels: count,
    }),
    rowsPerLabel: z.array(LabelCount),
    rejects: z.object({
      /** Every reject of the run, even those not listed. */
      total: count,
      /** The first rejects, capped at REPORT_LIMITS.rejects. */
      items: z.array(Reject).max(REPORT_LIMITS.rejects),
    }),
    timings: z.array(StageTiming),
    pca: z.object({
      k: z.int().positive(),
      /** Explained-variance target that chose k, when k was chosen that way. */
      variance: z.number().gt(0).max(1).optional(),
      scale: z.enum(SCALE_MODES),
      /** Feature dimension before PCA (1280 for MobileNetV2). */
      inputDim: z.int().positive(),
      /** Explained-variance ratio of components 1..N (N ≥ k; the full spectrum if available). */
      explainedVarianceRatio: z.array(ratio).min(1),
      /** Running sum of explainedVarianceRatio, same length. */
      cumulative: z.array(z.number().min(0).max(1 + CUMULATIVE_TOLERANCE)),
    }),
    scatter: z.object({
      /** Rows the sample was drawn from. */
      total: count,
      points: z.array(ScatterPoint).max(REPORT_LIMITS.scatterPoints),
    }),
    /** The features dataset's versions (the latest ones), and the one this run made or found. */
    dataset: z
      .object({
        version: z.int().positive(),
        /** False when this run found nothing new, changed or removed. */
        changed: z.boolean(),
        versions: z.array(DatasetVersion).max(REPORT_LIMITS.versions),
      })
      .optional(),
  })
  .superRefine((r, ctx) => {
    const issue = (path: (string | number)[], message: string) =>
      ctx.addIssue({ code: 'custom', path, message });

    if (r.totals.rejects !== r.rejects.total)
      issue(['totals', 'rejects'], `is ${r.totals.rejects} but rejects.total is ${r.rejects.total}`);
    if (r.rejects.items.length > r.rejects.total)
      issue(['rejects', 'items'], `lists ${r.rejects.items.length} rejects but rejects.total is ${r.rejects.total}`);
    if (r.totals.labels !== r.rowsPerLabel.length)
      issue(['totals', 'labels'], `is ${r.totals.labels} but rowsPerLabel has ${r.rowsPerLabel.length} entries`);
    const labelled = r.rowsPerLabel.reduce((sum, l) => sum + l.count, 0);
    if (labelled !== r.totals.rows)
      issue(['totals', 'rows'], `is ${r.totals.rows} but rowsPerLabel sums to ${labelled}`);
    const labels = new Set<string>();
    r.rowsPerLabel.forEach((l, i) => {
      if (labels.has(l.label)) issue(['rowsPerLabel', i, 'label'], `duplicate label "${l.label}"`);
      labels.add(l.label);
    });
    const stages = new Set<string>();
    r.timings.forEach((t, i) => {
      if (stages.has(t.stage)) issue(['timings', i, 'stage'], `duplicate stage "${t.stage}"`);
      stages.add(t.stage);
    });
    if (r.scatter.points.length > r.scatter.total)
      issue(['scatter', 'total'], `is ${r.scatter.total} but ${r.scatter.points.length} points were given`);

    const { k, inputDim, explainedVarianceRatio: evr, cumulative } = r.pca;
    if (k > inputDim) issue(['pca', 'k'], `is ${k}, more than pca.inputDim (${inputDim})`);
    if (evr.length > inputDim)
      issue(['pca', 'explainedVarianceRatio'], `has ${evr.length} components, more than pca.inputDim (${inputDim})`);
    if (evr.length < k)
      issue(['pca', 'explainedVarianceRatio'], `has ${evr.length} components; at least k = ${k} are needed`);
    if (cumulative.length !== evr.length) {
      issue(['pca', 'cumulative'], `has ${cumulative.length} values but explainedVarianceRatio has ${evr.length}`);
    } else {
      let sum = 0;
      for (let i = 0; i < evr.length; i++) {
        sum += evr[i];
        if (Math.abs(cumulative[i] - sum) > CUMULATIVE_TOLERANCE) {
          issue(['pca', 'cumulative', i], `is ${cumulative[i]} but the running sum of ratios is ${sum}`);
          break;
        }
      }
    }
  });

export type RunReport = z.infer<typeof RunReportSchema>;
export type LabelCount = z.infer<typeof LabelCount>;
export type Reject = z.infer<typeof Reject>;
export type StageTiming = z.infer<typeof StageTiming>;
export type ScatterPoint = z.infer<typeof ScatterPoint>;

const MAX_LISTED_ISSUES = 5;

/** Validates a run report (e.g. read back from JSON); throws one readable line per problem. */
export function parseRunReport(input: unknown): RunReport {
  const result = RunReportSchema.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  const issues = result.error.issues;
  const listed = issues
    .slice(0, MAX_LISTED_ISSUES)
    .map((i) => `${formatPath(i.path)}: ${i.code === 'invalid_type' && i.input === undefined ? 'missing' : i.message}`);
  if (issues.length > MAX_LISTED_ISSUES) listed.push(`(and ${issues.length - MAX_LISTED_ISSUES} more)`);
  throw new UserError(`invalid run report: ${listed.join('; ')}`);
}

/** The variance kept by the chosen k components. */
export function varianceKept(report: RunReport): number {
  return report.pca.cumulative[report.pca.k - 1];
}

function formatPath(path: PropertyKey[]): string {
  if (path.length === 0) return '(report)';
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`))
    .join('');
}
