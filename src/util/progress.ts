// Progress a person can watch: a bar with rate and ETA on a terminal, a plain line every few
// seconds otherwise (CI logs, files, `| tee`).
import cliProgress from 'cli-progress';

export interface Progress {
  /** The total, once known (it may be counted while the work already runs). */
  setTotal(total: number): void;
  tick(items: number): void;
  /** Switches to a new stage (featurize → statistics → …) and resets the counters. */
  stage(name: string, total?: number, unit?: string): void;
  stop(): void;
}

function fmtEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 60) return `${Math.round(seconds)}s`;
  const m = Math.floor(seconds / 60);
  return m < 60 ? `${m}m${String(Math.round(seconds % 60)).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export function createProgress(opts: { unit: string; tty?: boolean; intervalMs?: number; write?: (line: string) => void; quiet?: boolean }): Progress {
  const tty = opts.tty ?? Boolean(process.stderr.isTTY);
  const write = opts.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  let name = '';
  let unit = opts.unit;
  let done = 0;
  let total: number | undefined;
  let start = performance.now();
  let lastLine = 0;
  const rate = () => done / Math.max(1e-3, (performance.now() - start) / 1000);

  if (opts.quiet) return { setTotal() {}, tick() {}, stage() {}, stop() {} };

  if (tty) {
    const bar = new cliProgress.SingleBar(
      {
        format: '{stage} |{bar}| {value}/{total} {unit} | {rate}/s | ETA {eta_h}',
        hideCursor: true,
        clearOnComplete: false,
        stream: process.stderr,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    const payload = () => ({ stage: name.padEnd(10), unit, rate: rate().toFixed(1), eta_h: total ? fmtEta((total - done) / rate()) : '?' });
    return {
      setTotal(t) {
        total = t;
        if (started) bar.setTotal(t);
      },
      tick(n) {
        done += n;
        if (!started) {
          bar.start(total ?? 0, done, payload());
          started = true;
        } else bar.update(done, payload());
      },
      stage(s, t, u) {
        if (started) bar.stop();
        started = false;
        name = s;
        unit = u ?? opts.unit;
        done = 0;
        total = t;
        start = performance.now();
        bar.start(total ?? 0, 0, payload());
        started = true;
      },
      stop() {
        if (started) bar.stop();
        started = false;
      },
    };
  }
  const interval = opts.intervalMs ?? 5000;
  const line = () => {
    const pct = total ? ` (${((100 * done) / total).toFixed(0)}%)` : '';
    const eta = total ? `, ETA ${fmtEta((total - done) / rate())}` : '';
    write(`${name}: ${done}${total ? `/${total}` : ''} ${unit}${pct}, ${rate().toFixed(1)} ${unit}/s${eta}`);
  };
  return {
    setTotal(t) {
      total = t;
    },
    tick(n) {
      done += n;
      const now = performance.now();
      if (now - lastLine >= interval) {
        lastLine = now;
        line();
      }
    },
    stage(s, t, u) {
      name = s;
      unit = u ?? opts.unit;
      done = 0;
      total = t;
      start = performance.now();
      lastLine = performance.now();
    },
    stop() {
      if (done > 0) line();
    },
  };
}
