// Listing the input: recursive, images by extension in any case, hidden and non-image files
// skipped, label = parent folder (root folder's name at the root), byte-wise key order (S3's),
// --limit; on a real folder tree with awkward names.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isHiddenKey, isImageKey, labelOf, listImages, rootNameOf, type ImageRef } from '../src/source/listing.js';
import { LocalStore } from '../src/storage/local.js';
import { compareBytewise } from '../src/util/byte-order.js';
import { tempDir } from './helpers/paths.js';

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

async function all(it: AsyncIterable<ImageRef>): Promise<ImageRef[]> {
  const out: ImageRef[] = [];
  for await (const x of it) out.push(x);
  return out;
}

// Every file of the tree, with its content length = its index + 1 (so sizes identify files).
const FILES = [
  'a b/x.jpg',
  'a-b/x.jpg',
  'a/x.jpg',
  'a/y.JPG',
  'a/z.Jpeg',
  'a/p.png',
  'a/w.WEBP',
  'a/notes.txt',
  'a/x.jpg.bak',
  'a/anim.gif',
  'a/.hidden.jpg',
  'a/sub/deep.jpg',
  'a/sub/deeper/deepest.png',
  '.ipynb_checkpoints/c.jpg',
  'b/.cache/d.jpg',
  'root.jpg',
  'ROOT2.JPEG',
  'Äpfel süß/grüner Apfel 1.jpg',
  'Zitrone/z 1.jpg',
  '果物/りんご.png',
  'with space/name with space.jpg',
  `odd/quote"and'apostrophe.jpg`,
  'odd/-dash.jpg',
  'odd/comma,semi;.jpg',
];

// What the listing must give, in this exact order (byte-wise: ' ' < '-' < '/' < 'A'-'Z' < 'a'-'z'
// < UTF-8 multi-byte), with labels.
const EXPECTED: [string, string][] = [
  ['ROOT2.JPEG', 'tree'],
  ['Zitrone/z 1.jpg', 'Zitrone'],
  ['a b/x.jpg', 'a b'],
  ['a-b/x.jpg', 'a-b'],
  ['a/p.png', 'a'],
  ['a/sub/deep.jpg', 'sub'],
  ['a/sub/deeper/deepest.png', 'deeper'],
  ['a/w.WEBP', 'a'],
  ['a/x.jpg', 'a'],
  ['a/y.JPG', 'a'],
  ['a/z.Jpeg', 'a'],
  ['odd/-dash.jpg', 'odd'],
  ['odd/comma,semi;.jpg', 'odd'],
  [`odd/quote"and'apostrophe.jpg`, 'odd'],
  ['root.jpg', 'tree'],
  ['with space/name with space.jpg', 'with space'],
  ['Äpfel süß/grüner Apfel 1.jpg', 'Äpfel süß'],
  ['果物/りんご.png', '果物'],
];

describe('listImages on a folder', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let root: string;
  let store: LocalStore;

  before(async () => {
    tmp = await tempDir('listing');
    root = path.join(tmp.dir, 'tree');
    for (const [i, key] of FILES.entries()) {
      const file = path.join(root, ...key.split('/'));
      await fs.mkdir(path.dirname(file), { recursive: true });
      await fs.writeFile(file, Buffer.alloc(i + 1));
    }
    store = new LocalStore(root);
  });
  after(() => tmp.cleanup());

  it('lists images only, recursively, in byte-wise key order, with parent-folder labels', async () => {
    const refs = await all(listImages(store));
    assert.deepEqual(
      refs.map((r) => [r.key, r.label]),
      EXPECTED,
    );
  });

  it('is sorted exactly as S3 sorts keys (byte-wise UTF-8), e.g. "a b/" < "a-b/" < "a/"', async () => {
    const keys = (await all(listImages(store))).map((r) => r.key);
    assert.deepEqual(keys, [...keys].sort(byteOrder));
    const at = (k: string) => keys.indexOf(k);
    assert.ok(at('a b/x.jpg') < at('a-b/x.jpg') && at('a-b/x.jpg') < at('a/p.png'));
    // A localeCompare or case-insensitive sort would put these elsewhere.
    assert.ok(at('Zitrone/z 1.jpg') < at('a b/x.jpg'), 'upper case before lower case');
    assert.ok(at('with space/name with space.jpg') < at('Äpfel süß/grüner Apfel 1.jpg'), 'non-ASCII after ASCII');
  });

  it('gives each image its size in bytes', async () => {
    for (const r of await all(listImages(store))) assert.equal(r.size, FILES.indexOf(r.key) + 1, r.key);
  });

  it('skips hidden files and folders and non-image extensions', async () => {
    const keys = new Set((await all(listImages(store))).map((r) => r.key));
    for (const k of ['a/.hidden.jpg', '.ipynb_checkpoints/c.jpg', 'b/.cache/d.jpg', 'a/notes.txt', 'a/x.jpg.bak', 'a/anim.gif']) {
      assert.ok(!keys.has(k), `${k} must not be listed`);
    }
  });

  it('stops after --limit images, the first ones of the order', async () => {
    const first5 = (await all(listImages(store, { limit: 5 }))).map((r) => r.key);
    assert.deepEqual(first5, EXPECTED.slice(0, 5).map(([k]) => k));
    assert.equal((await all(listImages(store, { limit: 1 }))).length, 1);
    assert.equal((await all(listImages(store, { limit: 1000 }))).length, EXPECTED.length);
  });

  it('lists a sub-folder with keys relative to it, and a root-level image takes the root folder name', async () => {
    const refs = await all(listImages(new LocalStore(path.join(root, 'a'))));
    assert.deepEqual(refs.map((r) => [r.key, r.label]).slice(0, 2), [
      ['p.png', 'a'],
      ['sub/deep.jpg', 'sub'],
    ]);
  });

  it('lists nothing for a folder that does not exist', async () => {
    assert.deepEqual(await all(listImages(new LocalStore(path.join(tmp.dir, 'missing')))), []);
  });

  it('sorts a symlinked folder as a folder ("name/"), like the same tree uploaded to S3', async () => {
    const linked = path.join(tmp.dir, 'linked');
    await fs.mkdir(linked);
    await fs.symlink(path.join(root, 'a'), path.join(linked, 'a'));
    await fs.writeFile(path.join(linked, 'a-b.jpg'), 'x');
    await fs.writeFile(path.join(linked, 'a.jpg'), 'x');
    const keys = (await all(listImages(new LocalStore(linked)))).map((r) => r.key);
    assert.deepEqual(keys.slice(0, 3), ['a-b.jpg', 'a.jpg', 'a/p.png']);
    assert.deepEqual(keys, [...keys].sort(byteOrder));
  });
});

describe('listing rules', () => {
  it('recognises image extensions in any case and nothing else', () => {
    for (const k of ['x.jpg', 'x.JPG', 'x.jpeg', 'x.JpEg', 'x.png', 'x.PNG', 'x.webp', 'x.WebP', 'dir.jpg/x.png']) assert.ok(isImageKey(k), k);
    for (const k of ['x.gif', 'x.tiff', 'x.jpg.txt', 'x.jpgx', 'jpg', 'x.heic', 'x.bmp']) assert.ok(!isImageKey(k), k);
  });

  it('treats any dot-name path component as hidden', () => {
    assert.ok(isHiddenKey('.DS_Store'));
    assert.ok(isHiddenKey('a/.ipynb_checkpoints/x.jpg'));
    assert.ok(isHiddenKey('.a/x.jpg'));
    assert.ok(!isHiddenKey('a/x.jpg'));
    assert.ok(!isHiddenKey('a.b/x.y.jpg'));
  });

  it('labels with the parent folder, or the root name at the root', () => {
    assert.equal(labelOf('Apple Red 1/r_1.jpg', 'Test'), 'Apple Red 1');
    assert.equal(labelOf('x/y/z.jpg', 'Test'), 'y');
    assert.equal(labelOf('z.jpg', 'Test'), 'Test');
  });

  it('names the root after its last path component, for folders and s3:// prefixes', () => {
    assert.equal(rootNameOf('/data/fruits/Test'), 'Test');
    assert.equal(rootNameOf('/data/fruits/Test/'), 'Test');
    assert.equal(rootNameOf('s3://bucket/fruits/Training'), 'Training');
    assert.equal(rootNameOf('s3://bucket'), 'bucket');
  });
});

describe('byte-wise key order', () => {
  it('compareBytewise orders any strings as Buffer.compare does on their UTF-8 bytes', () => {
    // Code units around the cases that differ between UTF-16 and UTF-8 order: ASCII, Latin-1,
    // U+E000–U+FFFF (private use, CJK compatibility, U+FFFD) and surrogate pairs (emoji, U+10000+).
    const alphabet = ['a', 'b', '/', ' ', '-', 'é', 'ß', '中', '\uE000', '\uFB01', '\uFFFD', '\uFFFF', '😀', '𐀀', '\u{10FFFF}'];
    let state = 12345;
    const pick = () => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return state;
    };
    const words = Array.from({ length: 400 }, () => Array.from({ length: pick() % 5 }, () => alphabet[pick() % alphabet.length]).join(''));
    for (const a of words.slice(0, 100)) {
      for (const b of words) assert.equal(Math.sign(compareBytewise(a, b)), Math.sign(byteOrder(a, b)), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    }
  });
});
