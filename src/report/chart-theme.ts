// The look of every chart in the HTML reports (run, evaluation, drift): one Vega-Lite config and
// palette, so the reports read as one product.
export const CHART_COLORS = {
  accent: '#2563eb',
  muted: '#94a3b8',
  /** Marks what went wrong or what was chosen (k, a misclassification). */
  mark: '#dc2626',
  target: '#059669',
  /** A second series drawn against the accent one (the batch against the reference). */
  contrast: '#f97316',
} as const;

export const CHART_CONFIG = {
  font: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
  background: 'transparent',
  view: { stroke: null },
  axis: {
    labelColor: '#475569',
    titleColor: '#334155',
    titleFontWeight: 600,
    titleFontSize: 12,
    labelFontSize: 11,
    gridColor: '#e2e8f0',
    domainColor: '#94a3b8',
    tickColor: '#94a3b8',
  },
  legend: { labelColor: '#334155', titleColor: '#334155', labelFontSize: 11, titleFontSize: 12 },
} as const;
