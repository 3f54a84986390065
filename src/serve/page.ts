// The web page at `/`: take or pick a photo, see the top-5 labels with confidence bars and the
// time taken. Mobile first (one column, large touch targets), no framework, no web fonts, and
// every asset is served by the server itself (the CSP forbids anything else).
import { escapeHtml } from '../report/escape.js';
import { clientApp } from './client.js';

// 'wasm-unsafe-eval', worker-src and manifest-src: the on-device mode's WebAssembly runtime, service worker and app manifest.
export const PAGE_CSP = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; worker-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export interface PageInfo {
  modelId: string;
  classes: number;
  classifier: string;
  pcaK: number | null;
}

export function renderPage(info: PageInfo): string {
  const what = `${info.classes} kinds of fruit and vegetable · ${info.classifier === 'logreg' ? 'logistic regression' : 'k-NN'} on ${info.modelId}${info.pcaK ? ` + PCA ${info.pcaK}` : ''} features`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<meta name="theme-color" content="#14532d">
<title>Fruits! — what fruit is this?</title>
<link rel="icon" href="favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="assets/app.css">
<script src="assets/app.js" defer></script>
<link rel="manifest" href="manifest.webmanifest">
<link rel="stylesheet" href="assets/on-device.css">
<script src="assets/on-device.js" defer></script>
</head>
<body data-state="idle">
<header class="topbar">
  <div class="topbar-inner">
  <svg class="logo" viewBox="0 0 32 32" aria-hidden="true"><circle cx="16" cy="19" r="11" fill="#f97316"/><path d="M16 8c0-3 2-5 5-6" stroke="#14532d" stroke-width="2.5" fill="none" stroke-linecap="round"/><path d="M16 8c3-3 8-2 9 1-3 2-7 2-9-1z" fill="#22c55e"/></svg>
  <div>
    <h1>What fruit is this?</h1>
    <p class="sub">${escapeHtml(what)}</p>
  </div>
  </div>
</header>
<main>
  <div class="capture">
  <section id="drop" class="drop" aria-label="Photo">
    <img id="preview" alt="Your photo" hidden>
    <p class="hint">Take a photo of one fruit on a plain background, or pick one from your library.</p>
  </section>
  <div class="actions">
    <label class="button primary"><input id="camera" type="file" accept="image/*" capture="environment"><span>Take a photo</span></label>
    <label class="button"><input id="library" type="file" accept="image/*"><span>Choose a photo</span></label>
  </div>
  <p id="status" class="status" role="status" aria-live="polite" hidden></p>
  </div>
  <section id="results" class="results" aria-label="Results" hidden>
    <h2 id="results-title">Best guesses</h2>
    <p id="unknown" class="unknown" hidden><strong>I don't recognise this photo.</strong> It does not look like any of the fruit and vegetables I was trained on, so I won't guess a name.</p>
    <ol id="predictions" class="predictions"></ol>
    <p id="timing" class="timing"></p>
  </section>
</main>
<footer class="foot">Photos are classified on this server, or on this device in on-device mode, and not kept.</footer>
</body>
</html>
`;
}

export const PAGE_JS = `(${clientApp.toString()})();\n`;

export const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><circle cx="16" cy="19" r="11" fill="#f97316"/><path d="M16 8c0-3 2-5 5-6" stroke="#14532d" stroke-width="2.5" fill="none" stroke-linecap="round"/><path d="M16 8c3-3 8-2 9 1-3 2-7 2-9-1z" fill="#22c55e"/></svg>\n`;

export const PAGE_CSS = `
:root {
  color-scheme: light;
  --ink: #0f172a; --muted: #64748b; --line: #e2e8f0; --bg: #f8fafc; --card: #fff;
  --green: #15803d; --green-dark: #14532d; --orange: #f97316; --error: #b91c1c;
}
* { box-sizing: border-box; }
/* The hidden attribute must win over the display rules below (e.g. the empty preview). */
[hidden] { display: none !important; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; min-height: 100vh; background: var(--bg); color: var(--ink);
  font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  display: flex; flex-direction: column;
}
.topbar { padding: 14px 16px; padding-top: max(14px, env(safe-area-inset-top)); background: var(--green-dark); color: #f0fdf4; }
.topbar-inner { display: flex; align-items: center; gap: 12px; max-width: 528px; margin: 0 auto; }
.logo { width: 40px; height: 40px; flex: none; background: #f0fdf4; border-radius: 50%; padding: 4px; }
h1 { margin: 0; font-size: 1.25rem; line-height: 1.2; font-weight: 700; }
.sub { margin: 2px 0 0; font-size: 0.8rem; color: #bbf7d0; }
main { width: 100%; max-width: 560px; margin: 0 auto; padding: 16px; flex: 1; }
.drop {
  position: relative; background: var(--card); border: 2px dashed #cbd5e1; border-radius: 16px;
  min-height: 220px; display: flex; align-items: center; justify-content: center; overflow: hidden;
}
.drop.has-photo { border-style: solid; border-color: var(--line); }
.drop.dragging { border-color: var(--green); background: #f0fdf4; }
.drop img { display: block; width: 100%; max-height: 46vh; object-fit: contain; background: #fff; }
.drop .hint { margin: 0; padding: 24px; text-align: center; color: var(--muted); }
.drop.has-photo .hint { display: none; }
body[data-state="busy"] .drop::after {
  content: ""; position: absolute; inset: 0; margin: auto; width: 44px; height: 44px;
  border: 4px solid rgba(21,128,61,0.25); border-top-color: var(--green); border-radius: 50%;
  animation: spin 0.8s linear infinite;
}
@keyframes spin { to { transform: rotate(360deg); } }
.actions { display: grid; grid-template-columns: 1fr 1fr; gap: 10px; margin-top: 14px; }
.button {
  position: relative; display: flex; align-items: center; justify-content: center; min-height: 52px;
  padding: 10px 14px; border-radius: 12px; border: 1.5px solid var(--green); color: var(--green);
  background: var(--card); font-weight: 650; text-align: center; cursor: pointer; user-select: none;
}
.button.primary { background: var(--green); color: #fff; }
.button:active { transform: translateY(1px); }
.button:focus-within { outline: 3px solid #86efac; outline-offset: 2px; }
.button input { position: absolute; inset: 0; width: 100%; height: 100%; opacity: 0; cursor: pointer; }
.status { margin: 14px 0 0; padding: 10px 12px; border-radius: 10px; background: #ecfdf5; color: var(--green-dark); font-weight: 600; }
.status.error { background: #fef2f2; color: var(--error); }
.results { margin-top: 16px; background: var(--card); border-radius: 16px; padding: 14px 16px 12px; box-shadow: 0 1px 3px rgba(15,23,42,0.08); }
.results h2 { margin: 0 0 8px; font-size: 0.85rem; text-transform: uppercase; letter-spacing: 0.06em; color: var(--muted); }
.predictions { list-style: none; margin: 0; padding: 0; }
.unknown { margin: 4px 0 10px; font-size: 1.05rem; line-height: 1.4; }
.prediction {
  display: grid; grid-template-columns: minmax(0, 1fr) auto; grid-template-areas: "label score" "bar bar";
  gap: 4px 10px; padding: 8px 0; border-bottom: 1px solid var(--line);
}
.prediction:last-child { border-bottom: 0; }
.prediction .label { grid-area: label; overflow-wrap: anywhere; }
.prediction .score { grid-area: score; font-variant-numeric: tabular-nums; color: var(--muted); }
.prediction .bar { grid-area: bar; height: 8px; background: #f1f5f9; border-radius: 4px; overflow: hidden; }
.prediction .bar > span { display: block; height: 100%; background: #94a3b8; border-radius: 4px; }
.prediction.best .label { font-size: 1.35rem; font-weight: 750; }
.prediction.best .score { font-size: 1.1rem; font-weight: 700; color: var(--green); align-self: center; }
.prediction.best .bar { height: 12px; }
.prediction.best .bar > span { background: var(--green); }
.timing { margin: 10px 0 0; font-size: 0.78rem; color: var(--muted); }
.foot { text-align: center; color: var(--muted); font-size: 0.75rem; padding: 12px 16px max(16px, env(safe-area-inset-bottom)); }
@media (max-width: 380px) {
  .button { font-size: 0.95rem; padding: 10px 8px; }
}
@media (min-width: 700px) {
  main { padding-top: 28px; }
  .drop { min-height: 300px; }
}
/* Wide screens: the photo and its answer side by side. */
@media (min-width: 960px) {
  main { max-width: 1000px; display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 28px; align-items: start; }
  .topbar-inner { max-width: 968px; }
  .results { margin-top: 0; }
  .drop img { max-height: 60vh; }
}
`;
