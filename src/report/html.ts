// report.html: one self-contained file (styles, data, compiled chart specs and the Vega runtime
// inlined) that opens from disk, an S3 console download or a mail attachment with no network.
import { vegaBrowserBuild } from './assets.js';
import { buildChartSpecs, MAX_LEGEND_LABELS } from './charts.js';
import { escapeHtml, jsonForScript, scriptSafe } from './escape.js';
import { formatCount, formatPercent, formatRate, formatSeconds } from './format.js';
import { bootCharts } from './page.js';
import { parseRunReport, REPORT_STAGES, varianceKept, type RunReport } from './types.js';
import { REPORT_CSS } from './style.js';

// The page needs nothing from outside: this makes that a guarantee the browser enforces, not a
// promise. Vega compiles its expressions with Function, hence 'unsafe-eval'.
const CSP = "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data:";

/**
 * The whole report page. The report is validated again here: the rendering relies on its
 * cross-field invariants (k within the spectrum, totals that match), and a clear error beats a
 * page with holes when a caller built one by hand.
 */
export function renderReportHtml(input: RunReport): string {
  const report = parseRunReport(input);
  const { specs } = buildChartSpecs(report);
  const title = `${report.title} · ${report.runId}`;
  return `${pageHead(title, REPORT_CSS, report.softwareVersion)}
<body>
<header class="top">
  <div class="wrap">
    <h1>${escapeHtml(report.title)}</h1>
    <p class="sub">Run <code>${escapeHtml(report.runId)}</code> · finished ${timeTag(report.generatedAt)} · fruits ${escapeHtml(report.softwareVersion)}</p>
  </div>
</header>
<main class="wrap">
${keyFigures(report)}
${runSection(report)}
${varianceSection(report)}
${scatterSection(report)}
${labelsSection(report)}
${rejectsSection(report)}
${timingsSection(report)}
${versionsSection(report)}
</main>
${chartScripts(specs)}
</body>
</html>
`;
}

function keyFigures(r: RunReport): string {
  const perSecond = r.durationSeconds > 0 ? formatRate(r.totals.images / r.durationSeconds) : '–';
  const figures: [string, string, string?][] = [
    [formatCount(r.totals.images), 'images'],
    [formatCount(r.totals.rejects), 'rejects', r.totals.rejects > 0 ? 'warn' : undefined],
    [formatCount(r.totals.labels), 'labels'],
    [`k = ${r.pca.k}`, 'components kept'],
    [formatPercent(varianceKept(r)), r.pca.variance === undefined ? 'variance kept' : `variance kept (target ${formatPercent(r.pca.variance)})`],
    [formatSeconds(r.durationSeconds), 'total time'],
    [perSecond, 'images / s, end to end'],
  ];
  const items = figures
    .map(([value, name, tone]) => `<div class="figure${tone ? ` ${tone}` : ''}"><span class="value">${escapeHtml(value)}</span><span class="name">${escapeHtml(name)}</span></div>`)
    .join('\n  ');
  return `<section class="figures" aria-label="Key figures">\n  ${items}\n</section>`;
}

function runSection(r: RunReport): string {
  const rows: [string, string][] = [
    ['Input', `<code>${escapeHtml(r.input)}</code>`],
    ['Output', `<code>${escapeHtml(r.output)}</code>`],
    ['Model', `${escapeHtml(r.model.id)}`],
    ['Model SHA-256', `<code class="hash">${escapeHtml(r.model.sha256)}</code>`],
    ['Scaling', escapeHtml(SCALE_NAMES[r.pca.scale])],
    ['Features', `${formatCount(r.pca.inputDim)} → ${formatCount(r.pca.k)} after PCA`],
    ['Rows written', formatCount(r.totals.rows)],
  ];
  return card('run', 'Run', `<dl class="meta">${rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl>`);
}

const SCALE_NAMES: Record<RunReport['pca']['scale'], string> = {
  standard: 'standardised (zero mean, unit variance)',
  minmax: 'min–max scaled to [0, 1]',
  none: 'none (raw features)',
};

function varianceSection(r: RunReport): string {
  const { k, variance, explainedVarianceRatio: evr, inputDim } = r.pca;
  const target = variance === undefined ? '' : ` (target ${formatPercent(variance)})`;
  const spectrum = evr.length === inputDim ? `all ${formatCount(evr.length)} components` : `the first ${formatCount(evr.length)} of ${formatCount(inputDim)} components`;
  const body = `<p class="note">The first <strong>k = ${k}</strong> components keep <strong>${formatPercent(varianceKept(r))}</strong> of the variance${target}. Charts show ${spectrum}; hover for values.</p>
  <div class="chart-grid">
    <figure><figcaption>Explained variance per component</figcaption><div class="chart" data-chart="scree"></div></figure>
    <figure><figcaption>Cumulative explained variance</figcaption><div class="chart" data-chart="cumulative"></div></figure>
  </div>`;
  return card('variance', 'Explained variance', body);
}

function scatterSection(r: RunReport): string {
  const shown = r.scatter.points.length;
  const labels = new Set(r.scatter.points.map((p) => p.label)).size;
  const sample =
    shown < r.scatter.total
      ? `<strong>${formatCount(shown)} of ${formatCount(r.scatter.total)}</strong> points shown (sampled)`
      : `All <strong>${formatCount(shown)}</strong> points shown`;
  const colours =
    labels > MAX_LEGEND_LABELS
      ? ` Colours repeat across ${formatCount(labels)} labels: hover a point for its label and path, or highlight one label.`
      : ' Hover a point for its label and path.';
  const body = `<p class="note">${sample}.${colours} Drag to pan, scroll to zoom, double-click to reset.</p>
  <div class="chart chart-scatter" data-chart="scatter"></div>`;
  return card('scatter', 'PC1 / PC2', body);
}

function labelsSection(r: RunReport): string {
  if (r.rowsPerLabel.length === 0) return card('labels', 'Rows per label', '<p class="empty">No labelled rows.</p>');
  const sorted = [...r.rowsPerLabel].sort((a, b) => b.count - a.count || a.label.localeCompare(b.label));
  const counts = sorted.map((l) => l.count);
  const max = counts[0];
  const min = counts[counts.length - 1];
  const median = counts[Math.floor((counts.length - 1) / 2)];
  const imbalance = min > 0 ? ` · largest / smallest ${(max / min).toFixed(1)}×` : '';
  const items = sorted
    .map((l) => {
      const width = max > 0 ? ((l.count / max) * 100).toFixed(1) : '0';
      return `<li><span class="lname" title="${escapeHtml(l.label)}">${escapeHtml(l.label)}</span><span class="lbar"><span style="width:${width}%"></span></span><span class="lcount">${formatCount(l.count)}</span></li>`;
    })
    .join('\n');
  const body = `<p class="note">${formatCount(sorted.length)} labels, sorted by rows · min ${formatCount(min)} · median ${formatCount(median)} · max ${formatCount(max)}${imbalance}</p>
  <ol class="label-bars">
${items}
  </ol>`;
  return card('labels', 'Rows per label', body);
}

function rejectsSection(r: RunReport): string {
  const { total, items } = r.rejects;
  if (total === 0) return card('rejects', 'Rejects', '<p class="empty ok">No rejects: every image was decoded and featurized.</p>');
  const note =
    items.length < total
      ? `<p class="note">Showing the first ${formatCount(items.length)} of <strong>${formatCount(total)}</strong> rejects; the run's output lists them all.</p>`
      : `<p class="note"><strong>${formatCount(total)}</strong> ${total === 1 ? 'image was' : 'images were'} rejected and left out of the output.</p>`;
  const rows = items.map((x) => `<tr><td class="path">${escapeHtml(x.path)}</td><td>${escapeHtml(x.reason)}</td></tr>`).join('\n');
  const body = `${note}
  <div class="table-scroll"><table class="rejects">
    <thead><tr><th scope="col">Path</th><th scope="col">Reason</th></tr></thead>
    <tbody>
${rows}
    </tbody>
  </table></div>`;
  return card('rejects', 'Rejects', body);
}

function timingsSection(r: RunReport): string {
  // Pipeline order, whatever order the caller listed them in.
  const timings = [...r.timings].sort((a, b) => REPORT_STAGES.indexOf(a.stage) - REPORT_STAGES.indexOf(b.stage));
  const longest = Math.max(r.durationSeconds, ...timings.map((t) => t.seconds));
  const rows = timings
    .map((t) => {
      const share = longest > 0 ? ((t.seconds / longest) * 100).toFixed(1) : '0';
      return `<tr><th scope="row">${escapeHtml(t.stage)}</th><td class="num">${formatSeconds(t.seconds)}</td><td class="num">${formatCount(t.items)}</td><td class="num">${formatRate(t.itemsPerSecond)}</td><td class="share"><span class="lbar"><span style="width:${share}%"></span></span></td></tr>`;
    })
    .join('\n');
  const endToEnd = r.durationSeconds > 0 ? formatRate(r.totals.images / r.durationSeconds) : '–';
  const body = `<p class="note">Stages may overlap (decoding runs alongside inference), so their times need not add up to the run's.</p>
  <div class="table-scroll"><table class="timings">
    <thead><tr><th scope="col">Stage</th><th scope="col" class="num">Time</th><th scope="col" class="num">Items</th><th scope="col" class="num">Items / s</th><th scope="col" class="share">Share of run</th></tr></thead>
    <tbody>
${rows || '<tr><td colspan="5" class="empty">No stage timings recorded.</td></tr>'}
    </tbody>
    <tfoot><tr><th scope="row">Whole run</th><td class="num">${formatSeconds(r.durationSeconds)}</td><td class="num">${formatCount(r.totals.images)}</td><td class="num">${endToEnd}</td><td class="share"></td></tr></tfoot>
  </table></div>`;
  return card('timings', 'Stage timings', body);
}

/** The features dataset's version history, this run's version first in mind. */
function versionsSection(r: RunReport): string {
  const d = r.dataset;
  if (!d) return '';
  const rows = [...d.versions]
    .reverse()
    .map(
      (v) =>
        `<tr${v.version === d.version ? ' class="current"' : ''}><th scope="row">${v.version}</th><td>${timeTag(v.time)}</td><td>${escapeHtml(v.kind)}</td><td class="num">+${formatCount(v.added)}</td><td class="num">${formatCount(v.changed)}</td><td class="num">−${formatCount(v.removed)}</td><td class="num">+${v.partsAdded} / −${v.partsRemoved}</td><td class="num">${formatCount(v.rows)}</td></tr>`,
    )
    .join('\n');
  const note = d.changed ? `This run made version ${d.version}.` : `Nothing new, changed or removed: version ${d.version} was kept.`;
  const body = `<p class="note">${escapeHtml(note)}</p>
  <div class="table-scroll"><table class="versions">
    <thead><tr><th scope="col">Version</th><th scope="col">Time</th><th scope="col">Kind</th><th scope="col" class="num">Photos added</th><th scope="col" class="num">Changed</th><th scope="col" class="num">Removed</th><th scope="col" class="num">Parts</th><th scope="col" class="num">Rows</th></tr></thead>
    <tbody>
${rows}
    </tbody>
  </table></div>`;
  return card('versions', 'Dataset versions', body);
}

function card(id: string, heading: string, body: string): string {
  return `<section class="card" id="${id}" aria-labelledby="${id}-h">
  <h2 id="${id}-h">${escapeHtml(heading)}</h2>
  ${body}
</section>`;
}

/** A timestamp shown in UTC, so the report reads the same in every time zone. */
function timeTag(iso: string): string {
  const utc = new Date(iso).toISOString();
  return `<time datetime="${escapeHtml(utc)}">${escapeHtml(`${utc.slice(0, 10)} ${utc.slice(11, 16)} UTC`)}</time>`;
}

/**
 * The start of a report page, up to </head>: a CSP that lets nothing be fetched (the page is
 * self-contained) — shared by the run report and the evaluation report.
 */
export function pageHead(title: string, css: string, softwareVersion?: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
${softwareVersion === undefined ? '' : `<meta name="generator" content="fruits ${escapeHtml(softwareVersion)}">\n`}<title>${escapeHtml(title)}</title>
<style>${css}</style>
</head>`;
}

/**
 * The end of a report page: the tooltip, the compiled chart specs, Vega inlined and the boot
 * script that renders every `[data-chart]` — shared by the run report and the evaluation report.
 */
export function chartScripts(specs: unknown): string {
  return `<div id="chart-tooltip" class="tooltip" role="tooltip" hidden></div>
<script type="application/json" id="report-charts">${jsonForScript(specs)}</script>
<script>${scriptSafe(vegaBrowserBuild())}</script>
<script>(${scriptSafe(bootCharts.toString())})();</script>`;
}

/**
 * Renders a small report and throws the page away: the first render in a process took ~0.1 s
 * against ~30 ms for the next (Vega-Lite's compiler and the report's schema run cold), and a run
 * renders its report last, after every stage; its coordinator idles while workers featurize.
 */
export function warmUpReport(): void {
  const labels = ['a', 'b', 'c'];
  const evr = [0.5, 0.3, 0.2];
  renderReportHtml({
    title: 'warm-up',
    runId: 'warm-up',
    generatedAt: new Date(0).toISOString(),
    input: 'in',
    output: 'out',
    softwareVersion: '0',
    durationSeconds: 1,
    model: { id: 'warm-up', sha256: '0'.repeat(64) },
    totals: { images: 3, rows: 3, rejects: 0, labels: 3 },
    rowsPerLabel: labels.map((label) => ({ label, count: 1 })),
    rejects: { total: 0, items: [] },
    timings: REPORT_STAGES.map((stage) => ({ stage, seconds: 1, items: 3, itemsPerSecond: 3 })),
    pca: { k: 2, variance: 0.8, scale: 'standard', inputDim: 3, explainedVarianceRatio: evr, cumulative: [0.5, 0.8, 1] },
    scatter: { total: 3, points: labels.map((label, i) => ({ pc1: i, pc2: -i, label, path: `${label}/${i}.jpg` })) },
    dataset: { version: 2, changed: true, versions: [1, 2].map((version) => ({ version, time: new Date(0).toISOString(), kind: 'update', added: 1, changed: 0, removed: 0, partsAdded: 1, partsRemoved: 0, rows: 3 })) },
  });
}
