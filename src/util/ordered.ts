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

/** mapOrdered for an async source (a listing): the next items are pulled while earlier calls run. */
export async function* mapOrderedAsync<T, R>(items: AsyncIterable<T>, window: number, fn: (item: T) => Promise<R>): AsyncIterable<R> {
  const it = items[Symbol.asyncIterator]();
  const inFlight: Promise<R>[] = [];
  let done = false;
  for (;;) {
    while (!done && inFlight.length < window) {
      const next = await it.next();
      if (next.done) done = true;
      else {
        const p = fn(next.value);
        p.catch(() => undefined);
        inFlight.push(p);
      }
    }
    if (inFlight.length === 0) return;
    yield await inFlight.shift()!;
  }
}
