// A pino logger whose lines are kept in memory, parsed, for tests that check what was logged.
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

export interface LogLine {
  level: number;
  msg: string;
  err?: unknown;
  stack?: unknown;
}

export function captureLogs(): { logger: Logger; logs: LogLine[] } {
  const logs: LogLine[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(line));
        done();
      },
    }),
  );
  return { logger, logs };
}
