/**
 * Maps items through an async function with up to `window` calls in flight, yielding results in
 * input order. While the consumer awaits something else (inference), the window keeps filling:
 * this is what makes reading and decoding overlap inference.
 */
export async function* mapOrdered<T, R>(items: Iterable<T>, window: number, fn: (item: T, index: number) => Promise<R>): AsyncIterable<R> {
  const it = items[Symbol.iterator]();
  const inFlight: Promise<R>[] = [];
  let index = 0;
  const fill = () => {
    while (inFlight.length < window) {
      const next = it.next();
      if (next.done) return;
      const p = fn(next.value, index++);
      p.catch(() => undefined); // observed when its turn comes; avoid an unhandled rejection meanwhile
      inFlight.push(p);
    }
  };
  fill();
  while (inFlight.length > 0) {
    const r = await inFlight.shift()!;
    fill();
    yield r;
  }
}
