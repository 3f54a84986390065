// drift.html: the verdict and its reasons, novelty histograms (reference held-out rows vs batch),
// a PC1/PC2 overlay, per-class shift and per-component shift — one self-contained page built with
// the evaluation report's pieces (styles, figures, cards, compiled Vega specs inlined, no fetch).
import { card, figure } from '../classify/report.js';
import { CHART_COLORS } from '../report/chart-theme.js';
import type { TopLevelSpec } from 'vega-lite';
import { chartCompiler } from '../report/charts.js';
import { escapeHtml } from '../report/escape.js';
import { formatCount, formatPercent } from '../report/format.js';
import { chartScripts, pageHead } from '../report/html.js';
import { REPORT_CSS } from '../report/style.js';
import { SOFTWARE } from '../version.js';
import type { DriftResult } from './drift.js';

const COLORS = { domain: ['reference', 'batch'], range: [CHART_COLORS.accent, CHART_COLORS.contrast] };

export function driftChartSpecs(r: DriftResult): Record<string, object> {
  const build = chartCompiler([]);
  const h = r.plots.novelty;
  const total = (c: number[]) => Math.max(1, c.reduce((a, v) => a + v, 0));
  const bins = (side: 'reference' | 'batch', counts: number[]) => counts.map((c, i) => ({ side, from: h.from + i * h.width, to: h.from + (i + 1) * h.width, share: c / total(counts) }));
  const compared = r.classes.filter((c) => c.auc !== null).slice(0, 30);
  return {
    novelty: build({
      width: 'container',
      height: 200,
      data: { values: [...bins('reference', h.reference), ...bins('batch', h.batch)] },
      layer: [
        { mark: { type: 'bar', opacity: 0.55 }, encoding: { x: { field: 'from', type: 'quantitative', bin: { binned: true, step: h.width }, title: 'Novelty' }, x2: { field: 'to' }, y: { field: 'share', type: 'quantitative', stack: null, axis: { format: '.0%' }, title: 'Share of photos' }, color: { field: 'side', type: 'nominal', scale: COLORS, title: null } } },
        { data: { values: [{ t: r.reference.threshold }] }, mark: { type: 'rule', color: CHART_COLORS.mark, strokeDash: [4, 3] }, encoding: { x: { field: 't', type: 'quantitative' } } },
      ],
    } as TopLevelSpec),
    scatter: build({
      width: 'container',
      height: 320,
      data: { values: r.plots.scatter },
      mark: { type: 'circle', size: 18, opacity: 0.6 },
      encoding: {
        x: { field: 'pc1', type: 'quantitative', title: 'PC1', scale: { zero: false } },
        y: { field: 'pc2', type: 'quantitative', title: 'PC2', scale: { zero: false } },
        color: { field: 'side', type: 'nominal', scale: COLORS, title: null },
        tooltip: [{ field: 'side' }, { field: 'label' }],
      },
    }),
    classes: build({
      width: 'container',
      height: Math.max(120, compared.length * 18),
      data: { values: compared },
      mark: { type: 'bar', cornerRadiusEnd: 2 },
      encoding: {
        y: { field: 'label', type: 'nominal', sort: { field: 'auc', order: 'descending' }, title: null, axis: { labelLimit: 160 } },
        x: { field: 'auc', type: 'quantitative', scale: { domain: [0, 1] }, title: 'Domain classifier AUC (0.5 = same distribution)' },
        color: { condition: { test: `datum.auc >= ${r.domainAuc.limit}`, value: CHART_COLORS.mark }, value: CHART_COLORS.accent },
        tooltip: [{ field: 'label' }, { field: 'auc', format: '.2f' }, { field: 'shift', format: '.2f' }, { field: 'batchRows' }, { field: 'referenceRows' }],
      },
    }),
    components: build({
      width: 'container',
      height: 160,
      data: { values: r.componentShift.map((v, i) => ({ component: i + 1, shift: v })) },
      mark: { type: 'bar', color: '#64748b' },
      encoding: { x: { field: 'component', type: 'ordinal', title: 'PCA component' }, y: { field: 'shift', type: 'quantitative', title: 'Mean offset (within-class sd)' } },
    }),
  };
}

export function renderDriftHtml(r: DriftResult, generatedAt = new Date()): string {
  const figures = [
    figure(r.verdict === 'ok' ? 'ok' : 'drift', 'verdict', r.verdict === 'ok' ? undefined : 'warn'),
    figure(formatPercent(r.unknown.share), 'unknown photos'),
    figure(r.domainAuc.value === null ? '–' : r.domainAuc.value.toFixed(2), 'domain AUC'),
    figure(r.varianceKept.ratio.toFixed(2), 'variance kept ratio'),
    figure(formatCount(r.batch.rows), 'batch photos'),
    ...(r.accuracy ? [figure(formatPercent(r.accuracy.top1), 'accuracy (labelled)')] : []),
  ].join('\n  ');
  const reasons = r.reasons.length ? `<ul>${r.reasons.map((x) => `<li>${escapeHtml(x)}</li>`).join('')}</ul>` : '<p class="empty ok">Every measure is within its limit.</p>';
  const rows = r.classes
    .map((c) => `<tr><td>${escapeHtml(c.label)}</td><td class="num">${c.batchRows}</td><td class="num">${c.referenceRows}</td><td class="num">${formatPercent(c.unknownShare)}</td><td class="num">${c.auc === null ? '–' : c.auc.toFixed(2)}</td><td class="num">${c.shift === null ? '–' : c.shift.toFixed(2)}</td><td class="num">${c.accuracy === null ? '–' : formatPercent(c.accuracy)}</td></tr>`)
    .join('\n');
  const mix = r.labelMix.slice(0, 40).map((m) => `<tr><td>${escapeHtml(m.label)}</td><td class="num">${m.predicted}</td><td class="num">${m.labelled}</td></tr>`).join('\n');
  return `${pageHead('Drift report', REPORT_CSS, SOFTWARE.version)}
<body>
<header class="top"><div class="wrap"><h1>Drift report</h1><p class="sub">${escapeHtml(r.batch.location)} against ${escapeHtml(r.reference.kind)} ${escapeHtml(r.reference.location)} · ${escapeHtml(generatedAt.toISOString().slice(0, 19).replace('T', ' '))} UTC</p></div></header>
<main class="wrap">
<section class="figures" aria-label="Key figures">
  ${figures}
</section>
${card('verdict', 'Verdict', reasons)}
${card('novelty-card', 'Novelty', '<p class="note">Reference: its held-out training rows; batch: every photo. The red line is the unknown threshold.</p><div class="chart" data-chart="novelty"></div>')}
${card('scatter-card', 'PC1 / PC2', '<p class="note">The reference rows the model keeps and (a sample of) the batch, on the first two components of its novelty space.</p><div class="chart" data-chart="scatter"></div>')}
${card('classes-card', 'Per class', `<p class="note">Each class the batch's photos were predicted as, compared with the reference rows of that class only: a change of label mix is not drift.</p><div class="chart" data-chart="classes"></div>
  <div class="table-scroll"><table><thead><tr><th scope="col">Class</th><th scope="col" class="num">Batch</th><th scope="col" class="num">Reference</th><th scope="col" class="num">Unknown</th><th scope="col" class="num">AUC</th><th scope="col" class="num">Shift (sd)</th><th scope="col" class="num">Accuracy</th></tr></thead><tbody>
${rows}
  </tbody></table></div>`)}
${card('components-card', 'Per component', '<div class="chart" data-chart="components"></div>')}
${card('mix', 'Label mix', `<div class="table-scroll"><table><thead><tr><th scope="col">Label</th><th scope="col" class="num">Predicted</th><th scope="col" class="num">Labelled</th></tr></thead><tbody>\n${mix}\n</tbody></table></div>`)}
</main>
${chartScripts(driftChartSpecs(r))}
</body>
</html>
`;
}
