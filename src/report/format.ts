// Number formatting for the reports' text, in one place so the header, tables and chart labels
// agree, and for the commands' terminal summaries. Fixed locale: a report must read the same
// wherever it is rendered.

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1, minimumFractionDigits: 1 });

export function formatCount(n: number): string {
  return integer.format(n);
}

export function formatPercent(ratio: number): string {
  return `${(ratio * 100).toFixed(ratio >= 0.1 ? 1 : 2)}%`;
}

/** A ratio as a percentage with a fixed number of decimals, for terminal lines ("97.14 %"). */
export function percentText(ratio: number, digits = 2): string {
  return `${(ratio * 100).toFixed(digits)} %`;
}

/** Seconds with a precision that suits their size; minutes past 100 s. */
export function formatSeconds(s: number): string {
  if (s < 1) return `${s.toFixed(2)} s`;
  if (s < 100) return `${s.toFixed(1)} s`;
  const whole = Math.round(s);
  return `${Math.floor(whole / 60)} min ${whole % 60} s`;
}

export function formatRate(perSecond: number): string {
  return perSecond >= 100 ? integer.format(perSecond) : decimal.format(perSecond);
}
