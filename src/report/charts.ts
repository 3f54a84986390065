// The report's charts as Vega-Lite specs, compiled to Vega at render time: the page then only
// needs the Vega runtime, and a spec mistake fails here, in Node, rather than in a reader's
// browser.
import { compile, type TopLevelSpec } from 'vega-lite';
import { formatPercent } from './format.js';
import { varianceKept, type RunReport } from './types.js';
import { CHART_COLORS, CHART_CONFIG } from './chart-theme.js';

export type ChartId = 'scree' | 'cumulative' | 'scatter';

/** Compiled Vega specs, ready for `vega.parse` in the page. */
export type ChartSpecs = Record<ChartId, object>;

/** Above this many labels a colour legend is unreadable; the tooltip and picker name points. */
export const MAX_LEGEND_LABELS = 20;

const { accent: ACCENT, muted: MUTED, mark: MARK, target: TARGET } = CHART_COLORS;

export interface CompiledCharts {
  specs: ChartSpecs;
  /** Vega-Lite compile warnings: none are expected, the tests assert so. */
  warnings: string[];
}

export function buildChartSpecs(report: RunReport): CompiledCharts {
  const warnings: string[] = [];
  const build = chartCompiler(warnings);
  return {
    specs: {
      scree: build(screeSpec(report)),
      cumulative: build(cumulativeSpec(report)),
      scatter: build(scatterSpec(report)),
    },
    warnings,
  };
}

interface ComponentRow {
  component: number;
  ratio: number;
  cumulative: number;
}

function componentRows(report: RunReport): ComponentRow[] {
  const { explainedVarianceRatio: evr, cumulative } = report.pca;
  return evr.map((ratio, i) => ({ component: i + 1, ratio, cumulative: cumulative[i] }));
}

const componentTooltip = [
  { field: 'component', type: 'quantitative', title: 'Component' },
  { field: 'ratio', type: 'quantitative', title: 'Explained variance', format: '.3~%' },
  { field: 'cumulative', type: 'quantitative', title: 'Cumulative', format: '.2~%' },
] as const;

/** The x axis of the two spectrum charts: the same domain, so they line up. */
function componentX(report: RunReport) {
  return {
    field: 'component',
    type: 'quantitative',
    title: 'Principal component',
    scale: { domain: [1, report.pca.explainedVarianceRatio.length], nice: false },
    axis: { format: 'd', tickMinStep: 1 },
  } as const;
}

/**
 * A dashed rule at the chosen k, labelled, for both spectrum charts: at the top of the scree
 * chart, at the bottom of the cumulative one (whose curve runs along the top), and on the left of
 * the rule when k is far to the right, so that the label stays inside the chart.
 */
function kRuleLayers(report: RunReport, text: string, at: 'top' | 'bottom') {
  const { k } = report.pca;
  const right = k > 0.7 * report.pca.explainedVarianceRatio.length;
  const place = at === 'top' ? { baseline: 'top', y: 4 } : { baseline: 'bottom', y: { expr: 'height - 4' } };
  return [
    {
      data: { values: [{ k }] },
      mark: { type: 'rule', color: MARK, strokeDash: [4, 3], strokeWidth: 1.5 },
      encoding: { x: { field: 'k', type: 'quantitative' } },
    },
    {
      data: { values: [{ k, text }] },
      mark: { type: 'text', color: MARK, align: right ? 'right' : 'left', dx: right ? -4 : 4, ...place, fontWeight: 600 },
      encoding: { x: { field: 'k', type: 'quantitative' }, text: { field: 'text' } },
    },
  ];
}

/** Hover anywhere over a spectrum chart: the nearest component is marked and described. */
function hoverLayer(report: RunReport, color: string, yField: 'ratio' | 'cumulative') {
  return {
    params: [
      {
        name: `hover_${yField}`,
        select: { type: 'point', on: 'pointermove', nearest: true, clear: 'pointerout', fields: ['component'] },
      },
    ],
    transform: yField === 'ratio' ? [{ filter: 'datum.ratio > 0' }] : [],
    mark: { type: 'circle', color, size: 50 },
    encoding: {
      x: componentX(report),
      y: { field: yField, type: 'quantitative' },
      opacity: { condition: { param: `hover_${yField}`, empty: false, value: 1 }, value: 0 },
      tooltip: componentTooltip,
    },
  };
}

/** Powers of ten spanning the positive values, for a readable log axis. */
function decades(values: number[]): number[] {
  const positive = values.filter((v) => v > 0);
  if (positive.length === 0) return [];
  const lo = Math.floor(Math.log10(Math.min(...positive)));
  const hi = Math.ceil(Math.log10(Math.max(...positive)));
  return Array.from({ length: hi - lo + 1 }, (_, i) => 10 ** (lo + i));
}

function screeSpec(report: RunReport): TopLevelSpec {
  return {
    width: 'container',
    height: 240,
    data: { values: componentRows(report) },
    layer: [
      {
        // Log scale: a decaying spectrum of 1280 ratios is otherwise a spike and a flat line.
        transform: [{ filter: 'datum.ratio > 0' }],
        mark: { type: 'line', color: MUTED, strokeWidth: 1.5 },
        encoding: {
          x: componentX(report),
          y: {
            field: 'ratio',
            type: 'quantitative',
            title: 'Explained variance (log)',
            scale: { type: 'log' },
            // Decades only: Vega's default log ticks crowd the axis with 2…9 multiples.
            axis: { values: decades(report.pca.explainedVarianceRatio), format: '.2~p' },
          },
        },
      },
      {
        transform: [{ filter: `datum.ratio > 0 && datum.component <= ${report.pca.k}` }],
        mark: { type: 'line', color: ACCENT, strokeWidth: 2 },
        encoding: { x: componentX(report), y: { field: 'ratio', type: 'quantitative' } },
      },
      ...kRuleLayers(report, `k = ${report.pca.k}`, 'top'),
      hoverLayer(report, ACCENT, 'ratio'),
    ],
  } as TopLevelSpec;
}

function cumulativeSpec(report: RunReport): TopLevelSpec {
  const { k, variance } = report.pca;
  const kept = varianceKept(report);
  const targetLayers =
    variance === undefined
      ? []
      : [
          {
            data: { values: [{ target: variance }] },
            mark: { type: 'rule', color: TARGET, strokeDash: [6, 3], strokeWidth: 1.5 },
            encoding: { y: { field: 'target', type: 'quantitative' } },
          },
          {
            data: { values: [{ target: variance, text: `target ${formatPercent(variance)}` }] },
            mark: { type: 'text', color: TARGET, align: 'right', baseline: 'top', dy: 4, x: 'width', dx: -4, fontWeight: 600 },
            encoding: { y: { field: 'target', type: 'quantitative' }, text: { field: 'text' } },
          },
        ];
  return {
    width: 'container',
    height: 240,
    data: { values: componentRows(report) },
    layer: [
      {
        mark: { type: 'area', color: ACCENT, opacity: 0.12, line: { color: ACCENT, strokeWidth: 2 } },
        encoding: {
          x: componentX(report),
          y: {
            field: 'cumulative',
            type: 'quantitative',
            title: 'Cumulative explained variance',
            scale: { domain: [0, 1] },
            axis: { format: '.0%' },
          },
        },
      },
      ...targetLayers,
      ...kRuleLayers(report, `k = ${k} · ${formatPercent(kept)} kept`, 'bottom'),
      {
        data: { values: [{ k, kept }] },
        mark: { type: 'circle', color: MARK, size: 60, opacity: 1 },
        encoding: { x: { field: 'k', type: 'quantitative' }, y: { field: 'kept', type: 'quantitative' } },
      },
      hoverLayer(report, ACCENT, 'cumulative'),
    ],
  } as TopLevelSpec;
}

function scatterSpec(report: RunReport): TopLevelSpec {
  const labels = [...new Set(report.scatter.points.map((p) => p.label))].sort();
  const [pc1, pc2] = report.pca.explainedVarianceRatio;
  const showLegend = labels.length <= MAX_LEGEND_LABELS;
  return {
    width: 'container',
    height: 420,
    data: { values: report.scatter.points },
    params: [
      {
        // One label at a time stands out from the rest: with 120 labels the palette repeats.
        name: 'pick',
        select: { type: 'point', fields: ['label'] },
        bind: {
          input: 'select',
          name: 'Highlight label ',
          options: [null, ...labels],
          labels: ['(all labels)', ...labels],
        },
      },
      { name: 'zoom', select: { type: 'interval' }, bind: 'scales' },
    ],
    mark: { type: 'circle', size: 18, stroke: null },
    encoding: {
      x: { field: 'pc1', type: 'quantitative', title: `PC1 (${formatPercent(pc1)} of variance)`, scale: { zero: false } },
      y: {
        field: 'pc2',
        type: 'quantitative',
        title: pc2 === undefined ? 'PC2' : `PC2 (${formatPercent(pc2)} of variance)`,
        scale: { zero: false },
      },
      color: {
        condition: {
          param: 'pick',
          field: 'label',
          type: 'nominal',
          scale: { scheme: 'tableau20', domain: labels },
          legend: showLegend ? { orient: 'bottom', columns: 4, title: 'Label', labelLimit: 180 } : null,
        },
        value: '#cbd5e1',
      },
      opacity: { condition: { param: 'pick', value: 0.75 }, value: 0.15 },
      tooltip: [
        { field: 'label', type: 'nominal', title: 'Label' },
        { field: 'path', type: 'nominal', title: 'Path' },
        { field: 'pc1', type: 'quantitative', title: 'PC1', format: '.3f' },
        { field: 'pc2', type: 'quantitative', title: 'PC2', format: '.3f' },
      ],
    },
  } as TopLevelSpec;
}

/** Vega's logger interface, collecting warnings instead of printing them mid-run. */
/** Compiles the reports' Vega-Lite specs with the one chart theme; compile warnings go to `warnings`. */
export function chartCompiler(warnings: string[]): (spec: TopLevelSpec) => object {
  const logger = new CollectingLogger(warnings);
  return (spec) => compile({ ...spec, config: CHART_CONFIG } as TopLevelSpec, { logger }).spec;
}

class CollectingLogger {
  private lvl = 2;
  constructor(private readonly warnings: string[]) {}
  level(l?: number): number | this {
    if (l === undefined) return this.lvl;
    this.lvl = l;
    return this;
  }
  error(...args: unknown[]): this {
    throw new Error(`Vega-Lite: ${args.map(String).join(' ')}`);
  }
  warn(...args: unknown[]): this {
    this.warnings.push(args.map(String).join(' '));
    return this;
  }
  info(): this {
    return this;
  }
  debug(): this {
    return this;
  }
}
