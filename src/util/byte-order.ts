// The byte-wise order of UTF-8 keys: S3's listing order, the local walk's, the dataset index's.
//
// Compared on UTF-16 code units without encoding: that order equals code point order (= UTF-8
// byte order) except where a surrogate meets a unit in U+E000–U+FFFF, fixed up below. Encoding
// both keys into Buffers for every comparison was ~30 % of listing 20,000 photos.

/** < 0, 0 or > 0 as `a` sorts before, with or after `b` byte-wise in UTF-8. */
export function compareBytewise(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // A surrogate (half of a code point above U+FFFF) sorts after every BMP code unit.
    if (x >= 0xd800 && y >= 0xd800) {
      if (x < 0xe000) x += 0x10000;
      if (y < 0xe000) y += 0x10000;
    }
    return x < y ? -1 : 1;
  }
  return a.length < b.length ? -1 : 1;
}
