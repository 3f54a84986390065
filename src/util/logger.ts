// The project's logger: pino, written to stderr as readable lines (or as JSON with
// FRUITS_LOG_FORMAT=json, for log collectors). stdout stays for results.
import { pino, type Logger } from 'pino';

export type { Logger };

const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

function humanLine(line: string): string {
  try {
    const { level, time, msg, pid: _pid, hostname: _host, ...rest } = JSON.parse(line) as Record<string, unknown>;
    const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
    const ts = new Date(Number(time)).toISOString().slice(11, 19);
    return `${ts} ${LEVEL_NAMES[Number(level)] ?? level} ${msg ?? ''}${extra}\n`;
  } catch {
    return line;
  }
}

export function createLogger(opts: { level?: string; format?: 'json' | 'text' } = {}): Logger {
  const level = opts.level ?? process.env.FRUITS_LOG_LEVEL ?? 'info';
  const format = opts.format ?? (process.env.FRUITS_LOG_FORMAT === 'json' ? 'json' : 'text');
  const dest = format === 'json' ? process.stderr : { write: (line: string) => process.stderr.write(humanLine(line)) };
  return pino({ level, base: undefined }, dest);
}
