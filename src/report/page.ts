// The script that runs inside report.html. It is written here as a real, type-checked function
// and embedded with Function.prototype.toString, so it must not refer to anything outside its
// own body except browser globals and the inlined `vega`.

/** The slice of the Vega runtime API the page uses. */
interface VegaView {
  runAsync(): Promise<VegaView>;
}
type TooltipHandler = (handler: unknown, event: MouseEvent, item: unknown, value: unknown) => void;
declare const vega: {
  parse(spec: unknown): unknown;
  View: new (
    runtime: unknown,
    options: { renderer: 'svg' | 'canvas'; container: Element; hover: boolean; tooltip: TooltipHandler },
  ) => VegaView;
};

/**
 * Renders every `[data-chart]` element from the compiled specs in `#report-charts`, then marks
 * the body `data-charts-ready="true"`, or `data-charts-error` (with the reasons) if any failed.
 */
export async function bootCharts(): Promise<void> {
  const body = document.body;
  const failures: string[] = [];
  const tooltip = document.getElementById('chart-tooltip') as HTMLElement;

  // Vega's default tooltip is the native title attribute, which is slow to appear and cannot
  // show a long path legibly; this one follows the pointer and is set with textContent only.
  const showTooltip: TooltipHandler = (_handler, event, _item, value) => {
    if (value === null || value === undefined || value === '') {
      tooltip.hidden = true;
      return;
    }
    tooltip.replaceChildren();
    const entries = typeof value === 'object' ? Object.entries(value as Record<string, unknown>) : [['', value]];
    for (const [key, val] of entries) {
      const row = document.createElement('div');
      if (key) {
        const name = document.createElement('span');
        name.className = 'tip-key';
        name.textContent = `${key}: `;
        row.append(name);
      }
      row.append(String(val));
      tooltip.append(row);
    }
    tooltip.hidden = false;
    const pad = 14;
    const { innerWidth, innerHeight } = window;
    const box = tooltip.getBoundingClientRect();
    const left = event.clientX + pad + box.width > innerWidth ? event.clientX - pad - box.width : event.clientX + pad;
    const top = event.clientY + pad + box.height > innerHeight ? event.clientY - pad - box.height : event.clientY + pad;
    tooltip.style.left = `${Math.max(4, left)}px`;
    tooltip.style.top = `${Math.max(4, top)}px`;
  };

  try {
    const specsEl = document.getElementById('report-charts');
    if (!specsEl?.textContent) throw new Error('chart specs are missing from the page');
    if (typeof vega === 'undefined') throw new Error('the Vega runtime did not load');
    const specs = JSON.parse(specsEl.textContent) as Record<string, unknown>;
    await Promise.all(
      Object.entries(specs).map(async ([id, spec]) => {
        const container = document.querySelector<HTMLElement>(`[data-chart="${id}"]`);
        if (!container) {
          failures.push(`${id}: no container`);
          return;
        }
        try {
          const view = new vega.View(vega.parse(spec), { renderer: 'svg', container, hover: true, tooltip: showTooltip });
          await view.runAsync();
          container.dataset.rendered = 'true';
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err);
          failures.push(`${id}: ${message}`);
          container.textContent = `This chart could not be drawn: ${message}`;
          container.classList.add('chart-failed');
        }
      }),
    );
  } catch (err) {
    failures.push(err instanceof Error ? err.message : String(err));
  }
  if (failures.length > 0) body.dataset.chartsError = failures.join('; ');
  else body.dataset.chartsReady = 'true';
}
