// Two separate marks on an error, read by different parts of the system:
// - UserError: "show this message to the user" — the CLI prints it as one line and exits non-zero,
//   without a stack trace;
// - retryable or not: whether running the same task again could succeed — the runners retry a
//   task (with backoff) only then, and fail the run at once otherwise (BullMQ's UnrecoverableError).
// A UserError is about the data or the options, so it is not retryable unless it says so (a
// download that may work later); a PermanentError is an internal failure no retry can mend (a
// damaged bookkeeping file) that is not phrased for the user; anything else is retried.
export class UserError extends Error {
  /** The process exit code when this error ends a command. */
  readonly exitCode: number = 1;
  readonly retryable: boolean;
  constructor(message: string, options?: { cause?: unknown; retryable?: boolean }) {
    super(message, options);
    this.name = 'UserError';
    this.retryable = options?.retryable ?? false;
  }
}

export class PermanentError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentError';
  }
}

/** Whether running the task that threw `err` again could succeed. */
export function isRetryable(err: unknown): boolean {
  if (err instanceof UserError) return err.retryable;
  return !(err instanceof PermanentError);
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
