// evaluation.html: one self-contained page (styles, data, compiled Vega specs, the Vega runtime
// and thumbnails inlined, a CSP that forbids any fetch), built from an Evaluation. It reuses the
// run report's stylesheet, escaping, number formats and chart boot script.
import { escapeHtml } from '../report/escape.js';
import { formatCount, formatPercent, formatSeconds } from '../report/format.js';
import { REPORT_CSS } from '../report/style.js';
import type { Evaluation, Mistake } from './evaluate.js';
import type { TopLevelSpec } from 'vega-lite';
import { chartCompiler } from '../report/charts.js';
import { CHART_COLORS } from '../report/chart-theme.js';
import { chartScripts, pageHead } from '../report/html.js';
import { SOFTWARE } from '../version.js';

export const MAX_PAIRS = 25;

const { accent: ACCENT, mark: WRONG } = CHART_COLORS;

const EXTRA_CSS = `
.mistakes { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 12px; list-style: none; margin: 0; padding: 0; }
.mistake { display: grid; grid-template-columns: 72px minmax(0, 1fr); gap: 10px; border: 1px solid var(--line); border-radius: 8px; padding: 8px; align-items: start; }
.mistake img, .mistake .noimg { width: 72px; height: 72px; object-fit: contain; border-radius: 6px; background: #f8fafc; }
.mistake .noimg { display: flex; align-items: center; justify-content: center; color: var(--muted); font-size: 0.7rem; text-align: center; }
.mistake .was { font-weight: 600; font-size: 0.88rem; }
.mistake .as { color: ${WRONG}; font-size: 0.88rem; }
.mistake .path { font-family: var(--mono); font-size: 0.72rem; color: var(--muted); overflow-wrap: anywhere; }
.mistake .alts { font-size: 0.75rem; color: #334155; margin: 2px 0 0; }
.excluded { background: #fffbeb; border: 1px solid #fde68a; border-radius: 8px; padding: 8px 12px; font-size: 0.9rem; margin: 0 0 18px; }
td.low { color: ${WRONG}; font-weight: 600; }
`;

export function evaluationChartSpecs(e: Evaluation): { specs: Record<string, object>; warnings: string[] } {
  const warnings: string[] = [];
  const build = chartCompiler(warnings);
  const classes = e.perClass.filter((c) => c.support > 0 || c.predicted > 0);
  const points = classes.map((c) => ({ label: c.label, precision: c.precision ?? 0, recall: c.recall ?? 0, support: c.support, predicted: c.predicted }));
  const worst = [...classes].filter((c) => c.support > 0).sort((a, b) => (a.recall ?? 0) - (b.recall ?? 0) || (a.label < b.label ? -1 : 1)).slice(0, 20);
  const { labels } = e.confusion;
  const cells = e.confusion.cells.map(([a, p, count]) => ({ actual: labels[a], predicted: labels[p], a, p, count, kind: a === p ? 'correct' : 'confused' }));
  const binName = (b: { from: number; to: number }) => `${Math.round(b.from * 100)}–${Math.round(b.to * 100)}%`;
  const confidence = e.confidence.flatMap((b) => [
    { bin: binName(b), outcome: 'correct', count: b.correct },
    { bin: binName(b), outcome: 'wrong', count: b.wrong },
  ]);
  const specs: Record<string, object> = {
    recall: build({
      width: 'container',
      height: Math.max(120, worst.length * 18),
      data: { values: worst.map((c) => ({ label: c.label, recall: c.recall, support: c.support, correct: c.correct })) },
      mark: { type: 'bar', color: ACCENT, cornerRadiusEnd: 2 },
      encoding: {
        y: { field: 'label', type: 'nominal', sort: { field: 'recall', order: 'ascending' }, title: null, axis: { labelLimit: 160 } },
        x: { field: 'recall', type: 'quantitative', scale: { domain: [0, 1] }, axis: { format: '.0%' }, title: 'Recall' },
        tooltip: [
          { field: 'label', title: 'Class' },
          { field: 'recall', format: '.1%', title: 'Recall' },
          { field: 'correct', title: 'Correct' },
          { field: 'support', title: 'Rows' },
        ],
      },
    } as TopLevelSpec),
    precisionRecall: build({
      width: 'container',
      height: 260,
      data: { values: points },
      mark: { type: 'circle', size: 60, opacity: 0.7, color: ACCENT },
      encoding: {
        x: { field: 'recall', type: 'quantitative', title: 'Recall', axis: { format: '.0%' }, scale: { zero: false, padding: 8 } },
        y: { field: 'precision', type: 'quantitative', title: 'Precision', axis: { format: '.0%' }, scale: { zero: false, padding: 8 } },
        tooltip: [
          { field: 'label', title: 'Class' },
          { field: 'precision', format: '.1%', title: 'Precision' },
          { field: 'recall', format: '.1%', title: 'Recall' },
          { field: 'support', title: 'Rows' },
          { field: 'predicted', title: 'Predicted' },
        ],
      },
    } as TopLevelSpec),
    confusion: build({
      width: 'container',
      height: 420,
      data: { values: cells },
      transform: [
        { calculate: 'datum.p - 0.5', as: 'p0' },
        { calculate: 'datum.p + 0.5', as: 'p1' },
        { calculate: 'datum.a - 0.5', as: 'a0' },
        { calculate: 'datum.a + 0.5', as: 'a1' },
      ],
      mark: { type: 'rect' },
      encoding: {
        // Class indices, not names: 100+ names on an axis are unreadable; the tooltip names them.
        x: { field: 'p0', type: 'quantitative', title: 'Predicted class (index)', scale: { domain: [-0.5, labels.length - 0.5], nice: false } },
        x2: { field: 'p1' },
        y: { field: 'a0', type: 'quantitative', title: 'Actual class (index)', scale: { domain: [labels.length - 0.5, -0.5], nice: false } },
        y2: { field: 'a1' },
        color: {
          field: 'kind',
          type: 'nominal',
          scale: { domain: ['correct', 'confused'], range: ['#bfdbfe', WRONG] },
          legend: { title: null, orient: 'top' },
        },
        tooltip: [
          { field: 'actual', title: 'Actual' },
          { field: 'predicted', title: 'Predicted' },
          { field: 'count', title: 'Rows' },
        ],
      },
    } as TopLevelSpec),
    confidence: build({
      width: 'container',
      height: 200,
      data: { values: confidence },
      mark: { type: 'bar' },
      encoding: {
        // Side by side, not stacked: on a log scale a stack misdraws the smaller part.
        x: { field: 'bin', type: 'ordinal', title: 'Score of the predicted class', axis: { labelAngle: 0 } },
        xOffset: { field: 'outcome', type: 'nominal', sort: ['correct', 'wrong'] },
        y: { field: 'count', type: 'quantitative', title: 'Rows (log scale)', scale: { type: 'symlog' }, axis: { values: decadeTicks(Math.max(...confidence.map((c) => c.count))) } },
        color: { field: 'outcome', type: 'nominal', scale: { domain: ['correct', 'wrong'], range: [ACCENT, WRONG] }, legend: { title: null, orient: 'top' } },
        tooltip: [
          { field: 'bin', title: 'Score' },
          { field: 'outcome', title: 'Outcome' },
          { field: 'count', title: 'Rows' },
        ],
      },
    } as TopLevelSpec),
  };
  return { specs, warnings };
}

/** 0, 1, 10, 100… up to the maximum: readable ticks on a symlog axis. */
function decadeTicks(max: number): number[] {
  const ticks = [0];
  for (let t = 1; t <= Math.max(1, max); t *= 10) ticks.push(t);
  return ticks;
}

export function figure(value: string, name: string, tone?: string): string {
  return `<div class="figure${tone ? ` ${tone}` : ''}"><span class="value">${escapeHtml(value)}</span><span class="name">${escapeHtml(name)}</span></div>`;
}

export function card(id: string, heading: string, body: string): string {
  return `<section class="card" id="${id}" aria-labelledby="${id}-h">\n  <h2 id="${id}-h">${escapeHtml(heading)}</h2>\n  ${body}\n</section>`;
}

const pct = (v: number | null) => (v === null ? '–' : formatPercent(v));

function mistakeCard(m: Mistake, thumb: string | undefined): string {
  const img = thumb
    ? `<img src="${thumb}" alt="${escapeHtml(m.path)}">`
    : '<span class="noimg">no image</span>';
  const alts = m.top
    .slice(0, 3)
    .map((t) => `${escapeHtml(t.label)} ${formatPercent(t.score)}`)
    .join(' · ');
  return `<li class="mistake">${img}<div><div class="was">${escapeHtml(m.actual)}</div><div class="as">→ ${escapeHtml(m.predicted)} (${formatPercent(m.score)})</div><p class="alts">true class: rank ${m.actualRank + 1}, ${formatPercent(m.actualScore)}<br>${alts}</p><div class="path">${escapeHtml(m.path)}</div></div></li>`;
}

export interface RenderOptions {
  /** Mistakes shown as cards (the JSON output lists them all); default 60. */
  maxCards?: number;
  generatedAt?: Date;
}

export function renderEvaluationHtml(e: Evaluation, thumbnails: Map<string, string>, opts: RenderOptions = {}): string {
  const generatedAt = opts.generatedAt ?? new Date();
  const { specs } = evaluationChartSpecs(e);
  const title = `Evaluation · ${e.bundle.dir.split('/').pop()}`;
  const excludedRows = e.excluded.reduce((a, x) => a + x.rows, 0);
  const figures = [
    figure(formatPercent(e.accuracy.top1), 'top-1 accuracy'),
    figure(formatPercent(e.accuracy.top5), 'top-5 accuracy'),
    figure(formatCount(e.rows), 'rows evaluated'),
    figure(formatCount(e.labelsEvaluated), 'classes evaluated'),
    figure(formatCount(e.mistakes.length), 'misclassified', e.mistakes.length ? 'warn' : undefined),
    figure(e.accuracy.loss.toFixed(3), 'log-loss'),
  ].join('\n  ');
  const excludedNote = e.excluded.length
    ? `<p class="excluded"><strong>${formatCount(excludedRows)} rows excluded</strong>: ${e.excluded.length === 1 ? 'the class' : 'the classes'} ${e.excluded
        .map((x) => `<strong>${escapeHtml(x.label)}</strong> (${formatCount(x.rows)})`)
        .join(', ')} ${e.excluded.length === 1 ? 'is' : 'are'} not among the bundle's ${formatCount(e.bundle.classes)} classes, so the model can never predict ${e.excluded.length === 1 ? 'it' : 'them'}.</p>`
    : '';
  const meta: [string, string][] = [
    ['Bundle', `<code>${escapeHtml(e.bundle.dir)}</code>`],
    ['Classifier', `${escapeHtml(e.bundle.classifier === 'logreg' ? 'logistic regression' : 'k-nearest neighbours (cosine)')} · ${formatCount(e.bundle.classes)} classes`],
    ['Features', `${escapeHtml(e.bundle.featurizer)}${e.bundle.pcaK ? ` → PCA ${e.bundle.pcaK}` : ''}`],
    ['Dataset', `<code>${escapeHtml(e.dataset)}</code>`],
    ['Scoring time', formatSeconds(e.seconds)],
  ];
  const sortedClasses = [...e.perClass].filter((c) => c.support > 0 || c.predicted > 0).sort((a, b) => (a.f1 ?? -1) - (b.f1 ?? -1) || (a.label < b.label ? -1 : 1));
  const classRows = sortedClasses
    .map(
      (c) =>
        `<tr><td>${escapeHtml(c.label)}</td><td class="num">${formatCount(c.support)}</td><td class="num">${formatCount(c.predicted)}</td><td class="num${c.precision !== null && c.precision < 0.9 ? ' low' : ''}">${pct(c.precision)}</td><td class="num${c.recall !== null && c.recall < 0.9 ? ' low' : ''}">${pct(c.recall)}</td><td class="num">${pct(c.f1)}</td></tr>`,
    )
    .join('\n');
  const pairRows = e.pairs
    .slice(0, MAX_PAIRS)
    .map((p) => `<tr><td>${escapeHtml(p.actual)}</td><td>${escapeHtml(p.predicted)}</td><td class="num">${formatCount(p.count)}</td><td class="num">${formatPercent(p.share)}</td></tr>`)
    .join('\n');
  const shown = e.mistakes.slice(0, opts.maxCards ?? 60);
  const mistakesBody = e.mistakes.length
    ? `<p class="note">${shown.length < e.mistakes.length ? `The ${formatCount(shown.length)} most confident of <strong>${formatCount(e.mistakes.length)}</strong> mistakes` : `All <strong>${formatCount(e.mistakes.length)}</strong> mistakes`}, most confident first${thumbnails.size ? '' : ' (the images were not reachable: no thumbnails)'}.</p>
  <ul class="mistakes">
${shown.map((m) => mistakeCard(m, thumbnails.get(m.path))).join('\n')}
  </ul>`
    : '<p class="empty ok">No mistakes: every row was classified correctly.</p>';
  return `${pageHead(title, REPORT_CSS + EXTRA_CSS, SOFTWARE.version)}
<body>
<header class="top">
  <div class="wrap">
    <h1>Classifier evaluation</h1>
    <p class="sub">${escapeHtml(e.bundle.dir)} on ${escapeHtml(e.dataset)} · ${escapeHtml(generatedAt.toISOString().slice(0, 19).replace('T', ' '))} UTC</p>
  </div>
</header>
<main class="wrap">
<section class="figures" aria-label="Key figures">
  ${figures}
</section>
${excludedNote}
${card('setup', 'Setup', `<dl class="meta">${meta.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl>`)}
${card(
  'classes',
  'Per-class precision and recall',
  `<div class="chart-grid">
    <figure><figcaption>Lowest recall (up to 20 classes)</figcaption><div class="chart" data-chart="recall"></div></figure>
    <figure><figcaption>Precision vs recall, one point per class</figcaption><div class="chart" data-chart="precisionRecall"></div></figure>
  </div>
  <h3>All classes, worst F1 first</h3>
  <div class="table-scroll"><table class="classes">
    <thead><tr><th scope="col">Class</th><th scope="col" class="num">Rows</th><th scope="col" class="num">Predicted</th><th scope="col" class="num">Precision</th><th scope="col" class="num">Recall</th><th scope="col" class="num">F1</th></tr></thead>
    <tbody>
${classRows}
    </tbody>
  </table></div>`,
)}
${card(
  'confusion',
  'Confusion matrix',
  `<p class="note">Rows are actual classes, columns predicted ones (class indices in the bundle's label order; hover a cell for names). Blue: correct, red: confused.</p>
  <div class="chart" data-chart="confusion"></div>
  <h3>Most confused pairs</h3>
  ${
    e.pairs.length
      ? `<div class="table-scroll"><table class="pairs">
    <thead><tr><th scope="col">Actual</th><th scope="col">Predicted as</th><th scope="col" class="num">Rows</th><th scope="col" class="num">Share of actual</th></tr></thead>
    <tbody>
${pairRows}
    </tbody>
  </table></div>`
      : '<p class="empty ok">No class was confused with another.</p>'
  }`,
)}
${card('confidence-card', 'Confidence', '<p class="note">How sure the model was of its top answer, for right and wrong answers (log scale).</p>\n  <div class="chart" data-chart="confidence"></div>')}
${card('mistakes', 'Misclassified examples', mistakesBody)}
</main>
${chartScripts(specs)}
</body>
</html>
`;
}
