// The report's stylesheet: readable on a laptop and a phone, printable, no web fonts (the page
// must not fetch anything).
export const REPORT_CSS = `
:root {
  color-scheme: light;
  --bg: #f1f5f9; --card: #ffffff; --ink: #0f172a; --muted: #64748b; --line: #e2e8f0;
  --accent: #2563eb; --accent-soft: #dbeafe; --warn: #b45309; --ok: #047857;
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
.wrap { max-width: 1180px; margin: 0 auto; padding: 0 20px; }
header.top { background: #0f172a; color: #f8fafc; padding: 22px 0 18px; }
header.top h1 { margin: 0; font-size: 1.6rem; font-weight: 650; letter-spacing: -0.01em; }
header.top .sub { margin: 4px 0 0; color: #cbd5e1; font-size: 0.9rem; }
header.top code { color: #f8fafc; background: rgba(255,255,255,0.1); }
code { font-family: var(--mono); font-size: 0.88em; background: #f1f5f9; padding: 1px 5px; border-radius: 4px; overflow-wrap: anywhere; }
code.hash { font-size: 0.8em; }
main { padding: 18px 0 40px; }
.figures {
  display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr)); gap: 12px; margin-bottom: 18px;
}
.figure { background: var(--card); border-radius: 10px; padding: 10px 12px; box-shadow: 0 1px 2px rgba(15,23,42,0.08); border-top: 3px solid var(--accent); }
.figure.warn { border-top-color: var(--warn); }
.figure .value { display: block; font-size: 1.25rem; line-height: 1.3; font-weight: 650; font-variant-numeric: tabular-nums; white-space: nowrap; }
.figure .name { display: block; color: var(--muted); font-size: 0.8rem; line-height: 1.3; }
.card { background: var(--card); border-radius: 10px; padding: 16px 20px 20px; margin-bottom: 18px; box-shadow: 0 1px 2px rgba(15,23,42,0.08); }
.card h2 { margin: 0 0 8px; font-size: 1.15rem; font-weight: 650; }
.note { margin: 0 0 12px; color: var(--muted); font-size: 0.9rem; }
.note strong { color: var(--ink); }
.empty { color: var(--muted); font-style: italic; margin: 0; }
.empty.ok { color: var(--ok); font-style: normal; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 6px 18px; margin: 0; }
dl.meta dt { color: var(--muted); font-size: 0.88rem; }
dl.meta dd { margin: 0; min-width: 0; overflow-wrap: anywhere; }
.chart-grid { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 20px; }
figure { margin: 0; min-width: 0; }
figcaption { font-size: 0.85rem; font-weight: 600; color: #334155; margin-bottom: 4px; }
.chart { width: 100%; min-width: 0; }
.chart svg { display: block; max-width: 100%; }
.chart-failed { color: #b91c1c; font-size: 0.9rem; padding: 12px; background: #fef2f2; border-radius: 6px; }
.vega-bindings { margin: 0 0 8px; font-size: 0.88rem; }
.vega-bind label { display: flex; align-items: center; gap: 6px; flex-wrap: wrap; }
.vega-bind-name { color: var(--muted); }
.vega-bind select { font: inherit; padding: 3px 6px; border: 1px solid #cbd5e1; border-radius: 6px; background: #fff; max-width: 100%; }
ol.label-bars { list-style: none; margin: 0; padding: 0; columns: 250px; column-gap: 20px; }
ol.label-bars li {
  display: grid; grid-template-columns: minmax(0, 1fr) 40px 40px; align-items: center; gap: 8px;
  break-inside: avoid; font-size: 0.84rem; line-height: 1.25; padding: 2px 0; border-bottom: 1px solid #f1f5f9;
}
.lname { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.lcount { text-align: right; font-variant-numeric: tabular-nums; color: #334155; }
.lbar { display: block; height: 8px; background: #f1f5f9; border-radius: 4px; overflow: hidden; }
.lbar > span { display: block; height: 100%; background: var(--accent); border-radius: 4px; min-width: 1px; }
.table-scroll { overflow: auto; max-height: 460px; border: 1px solid var(--line); border-radius: 8px; }
table { border-collapse: collapse; width: 100%; font-size: 0.88rem; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
thead th { position: sticky; top: 0; background: #f8fafc; font-weight: 600; color: #334155; z-index: 1; }
tfoot th, tfoot td { font-weight: 600; background: #f8fafc; border-bottom: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.path { font-family: var(--mono); font-size: 0.82rem; overflow-wrap: anywhere; min-width: 16ch; }
table.timings th[scope="row"] { font-weight: 600; }
table.timings tbody th[scope="row"] { text-transform: capitalize; }
td.share { width: 30%; min-width: 90px; vertical-align: middle; }
.tooltip {
  position: fixed; z-index: 10; max-width: min(440px, calc(100vw - 16px)); pointer-events: none;
  background: #0f172a; color: #f8fafc; font-size: 0.8rem; line-height: 1.4; padding: 6px 9px;
  border-radius: 6px; box-shadow: 0 4px 14px rgba(15,23,42,0.25); overflow-wrap: anywhere;
}
.tooltip .tip-key { color: #94a3b8; }
@media (max-width: 860px) {
  .chart-grid { grid-template-columns: minmax(0, 1fr); }
}
@media (max-width: 560px) {
  body { font-size: 14px; }
  .wrap { padding: 0 12px; }
  .card { padding: 12px 12px 16px; }
  .figures { grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 8px; }
  .figure .value { font-size: 1.2rem; }
  dl.meta { grid-template-columns: 1fr; gap: 0; }
  dl.meta dd { margin-bottom: 6px; }
  table { font-size: 0.82rem; }
  th, td { padding: 5px 6px; }
  table.timings .share { display: none; }
  /* 120 labels in one column would be most of the page: scroll them in place instead. */
  ol.label-bars { max-height: 60vh; overflow-y: auto; border: 1px solid var(--line); border-radius: 8px; padding: 4px 8px; }
}
@media print {
  body { background: #fff; }
  .card, .figure { box-shadow: none; border: 1px solid var(--line); break-inside: avoid; }
  .table-scroll { max-height: none; overflow: visible; }
}
`;
