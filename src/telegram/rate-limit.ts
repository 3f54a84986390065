// Per-chat rate limiting: a token bucket per chat (`perMinute` messages, refilled evenly), so one
// chat sending an album of 50 photos cannot take the model from everyone else. A limited chat is
// told once per empty bucket, then ignored until it has tokens again. The table is bounded: the
// chats idle longest are forgotten first (a forgotten chat simply starts with a full bucket).

export type RateDecision = { allowed: true } | { allowed: false; retrySeconds: number; notify: boolean };

interface Bucket {
  tokens: number;
  at: number;
  notified: boolean;
}

export class ChatRateLimiter {
  private readonly buckets = new Map<number, Bucket>();
  private readonly perMs: number;

  constructor(
    private readonly perMinute: number,
    private readonly maxChats = 10_000,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(perMinute >= 1)) throw new RangeError('rate limit: at least 1 message per minute');
    this.perMs = perMinute / 60_000;
  }

  take(chatId: number): RateDecision {
    const now = this.now();
    let b = this.buckets.get(chatId);
    if (b) {
      this.buckets.delete(chatId); // re-inserted below: the Map's order is least recently used first
      b.tokens = Math.min(this.perMinute, b.tokens + (now - b.at) * this.perMs);
      b.at = now;
    } else {
      b = { tokens: this.perMinute, at: now, notified: false };
      if (this.buckets.size >= this.maxChats) this.buckets.delete(this.buckets.keys().next().value!);
    }
    this.buckets.set(chatId, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      b.notified = false;
      return { allowed: true };
    }
    const notify = !b.notified;
    b.notified = true;
    return { allowed: false, retrySeconds: Math.max(1, Math.ceil((1 - b.tokens) / this.perMs / 1000)), notify };
  }

  get size(): number {
    return this.buckets.size;
  }
}
