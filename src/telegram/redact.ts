// Keeps the bot token (and the webhook secret) out of every line the process writes. The Bot API
// puts the token in every URL (`/bot<token>/getUpdates`, `/file/bot<token>/…`), and HTTP errors
// carry their URL: fetch errors in grammY's `error` field, its debug output (DEBUG=grammy*).
// So error messages are redacted where they are described, and stdout/stderr are filtered as a
// last line of defence for whatever else prints.

const REDACTED = '<redacted>';
// Anything shaped like a bot token, even one that is not ours (a token in a proxy's error page).
const TOKEN_LIKE = /\d{3,20}:[A-Za-z0-9_-]{30,60}/g;

export class Redactor {
  private readonly secrets: string[];

  constructor(secrets: (string | undefined)[]) {
    // Longest first, so that a secret containing another is replaced whole.
    this.secrets = secrets.filter((s): s is string => !!s && s.length >= 8).sort((a, b) => b.length - a.length);
  }

  text(s: string): string {
    let out = s;
    for (const secret of this.secrets) out = out.split(secret).join(REDACTED);
    // URL-encoded forms (a colon becomes %3A in some error texts).
    for (const secret of this.secrets) out = out.split(encodeURIComponent(secret)).join(REDACTED);
    return out.replace(TOKEN_LIKE, REDACTED);
  }

  /** An error as one line: its message and the messages of its causes (grammY's HttpError keeps the fetch error in `error`). */
  describe(err: unknown): string {
    const parts: string[] = [];
    const seen = new Set<unknown>();
    let e: unknown = err;
    while (e !== undefined && e !== null && !seen.has(e) && parts.length < 4) {
      seen.add(e);
      parts.push(e instanceof Error ? e.message : String(e));
      const inner = e as { error?: unknown; cause?: unknown };
      e = inner.error instanceof Error ? inner.error : inner.cause;
    }
    return this.text(parts.filter(Boolean).join(': '));
  }
}

type Write = typeof process.stdout.write;

/** Filters every write to stdout and stderr through the redactor; returns the undo. */
export function guardOutput(redactor: Redactor): () => void {
  const restores = [process.stdout, process.stderr].map((stream) => {
    const original = stream.write;
    const write = original.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      if (typeof chunk === 'string') return write(redactor.text(chunk), ...rest);
      if (chunk instanceof Uint8Array) return write(Buffer.from(redactor.text(Buffer.from(chunk).toString('utf8'))), ...rest);
      return write(chunk, ...rest);
    }) as Write;
    return () => {
      stream.write = original;
    };
  });
  return () => restores.forEach((r) => r());
}
