// What the fast JPEG decoder needs to know before it may take a photo: the frame (coding, precision,
// size, components) and the two things that would make libvips' output differ from the plain
// decoded pixels — an EXIF orientation other than 1, and an embedded ICC profile (which sharp
// applies on the way to sRGB). Read from the marker segments in front of the scan, no decoding.

export interface JpegHeader {
  /** Start-of-frame marker: 0xc0 baseline, 0xc1 extended sequential, 0xc2 progressive (Huffman). */
  sof: number;
  precision: number;
  width: number;
  height: number;
  components: number;
  /** Sampling factors per component, H << 4 | V (0x22 0x11 0x11 is 4:2:0). */
  sampling: number[];
  /** EXIF orientation (1 when there is no EXIF or no orientation tag). */
  orientation: number;
  /** An APP2 ICC_PROFILE segment is present. */
  icc: boolean;
}

const SOF_MARKERS = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);
const SOS = 0xda;

/** The header of a JPEG, or undefined when the bytes are not a JPEG whose header reads cleanly. */
export function readJpegHeader(bytes: Uint8Array): JpegHeader | undefined {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let frame: Pick<JpegHeader, 'sof' | 'precision' | 'width' | 'height' | 'components' | 'sampling'> | undefined;
  let orientation: number | undefined;
  let icc = false;
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) return undefined;
    const marker = bytes[at + 1];
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    // Markers without a length (TEM, RSTn) do not belong before the scan: leave such files to libvips.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd9)) return undefined;
    const length = view.getUint16(at + 2);
    const start = at + 4;
    const end = at + 2 + length;
    if (length < 2 || end > bytes.length) return undefined;
    if (marker === SOS) {
      if (!frame || orientation === 0) return undefined;
      return { ...frame, orientation: orientation ?? 1, icc };
    }
    if (SOF_MARKERS.has(marker)) {
      const components = bytes[start + 5];
      if (frame || length < 8 + 3 * components) return undefined;
      const sampling = Array.from({ length: components }, (_, i) => bytes[start + 7 + 3 * i]);
      frame = { sof: marker, precision: bytes[start], height: view.getUint16(start + 1), width: view.getUint16(start + 3), components, sampling };
    } else if (marker === 0xe1 && hasPrefix(bytes, start, end, 'Exif\0\0')) {
      // A second EXIF block, or one we cannot read, is recorded as orientation 0: unknown.
      orientation = orientation === undefined ? (exifOrientation(view, start + 6, end) ?? 0) : 0;
    } else if (marker === 0xe2 && hasPrefix(bytes, start, end, 'ICC_PROFILE\0')) {
      icc = true;
    }
    at = end;
  }
  return undefined;
}

function hasPrefix(bytes: Uint8Array, start: number, end: number, prefix: string): boolean {
  if (end - start < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[start + i] !== prefix.charCodeAt(i)) return false;
  return true;
}

/** The orientation tag (0x0112) of IFD0 of a TIFF structure at [tiff, end); 1 when absent. */
function exifOrientation(view: DataView, tiff: number, end: number): number | undefined {
  if (end - tiff < 8) return undefined;
  const order = view.getUint16(tiff);
  if (order !== 0x4949 && order !== 0x4d4d) return undefined;
  const le = order === 0x4949;
  if (view.getUint16(tiff + 2, le) !== 42) return undefined;
  const ifd = tiff + view.getUint32(tiff + 4, le);
  if (ifd + 2 > end) return undefined;
  const count = view.getUint16(ifd, le);
  if (ifd + 2 + count * 12 > end) return undefined;
  for (let i = 0; i < count; i++) {
    const entry = ifd + 2 + i * 12;
    if (view.getUint16(entry, le) !== 0x0112) continue;
    // SHORT, one value, stored in the first two bytes of the value field.
    if (view.getUint16(entry + 2, le) !== 3) return undefined;
    return view.getUint16(entry + 8, le);
  }
  return 1;
}
