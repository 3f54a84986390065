// An error meant for the user: the CLI prints its message as one line and exits non-zero,
// without a stack trace.
export class UserError extends Error {
  /** The process exit code when this error ends a command. */
  readonly exitCode: number = 1;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UserError';
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
