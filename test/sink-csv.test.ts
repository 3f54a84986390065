import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCsv, toCsv } from '../src/sink/csv.js';

describe('sink/csv', () => {
  it('reads back what toCsv wrote: commas, quotes and line breaks inside fields', () => {
    const rows = [
      ['Apple/a,b.jpg', 'Apple', 'decode: "bad" header'],
      ['Pear/line\nbreak.jpg', 'Pear', 'too large: 9000x9000'],
      ['Kiwi/plain.jpg', 'Kiwi', ''],
    ];
    assert.deepEqual(parseCsv(toCsv(['path', 'label', 'reason'], rows)), [['path', 'label', 'reason'], ...rows]);
  });

  it('skips blank lines and accepts CRLF line ends', () => {
    assert.deepEqual(parseCsv('a,b\r\n\r\n1,"2\r\n3"\r\n'), [['a', 'b'], ['1', '2\r\n3']]);
    assert.deepEqual(parseCsv(''), []);
    assert.deepEqual(parseCsv('path,label,reason\n'), [['path', 'label', 'reason']]);
  });
});
