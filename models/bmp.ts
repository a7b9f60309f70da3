// Minimal BMP reader. sharp/libvips has no BMP loader (only through
// ImageMagick, which the prebuilt sharp lacks), and terminals may upload BMP.
// Supported: uncompressed 24-bit (BI_RGB) and 32-bit (BI_RGB or BI_BITFIELDS
// with 8-bit channel masks), bottom-up or top-down rows. Alpha is ignored
// (32-bit BI_RGB rarely carries real alpha). Palettes, RLE and 16-bit are
// rejected as unsupported. Every offset is bounds-checked against the buffer.

export interface BmpHeader {
  width: number;
  height: number;
  topDown: boolean;
  bitCount: 24 | 32;
  dataOffset: number;
  rowStride: number;
  /** Byte index of R, G, B within a pixel. */
  order: [r: number, g: number, b: number];
}

export class BmpError extends Error {
  override name = 'BmpError';
}

const BI_RGB = 0;
const BI_BITFIELDS = 3;
const BI_ALPHABITFIELDS = 6;

export function isBmp(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x42 && bytes[1] === 0x4d;
}

/** Byte index of an 8-bit channel mask within a little-endian 32-bit pixel. */
function maskByte(mask: number): number {
  for (let k = 0; k < 4; k++) if (mask === (0xff << (8 * k)) >>> 0) return k;
  throw new BmpError(`unsupported BMP channel mask 0x${mask.toString(16)}`);
}

/** Parses and validates the headers only (no pixel data is read). */
export function readBmpHeader(bytes: Uint8Array): BmpHeader {
  if (!isBmp(bytes)) throw new BmpError('not a BMP file');
  if (bytes.length < 26) throw new BmpError('truncated BMP header');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dataOffset = view.getUint32(10, true);
  const dibSize = view.getUint32(14, true);
  // 40 = BITMAPINFOHEADER; 52/56 = its bitfield variants; 108/124 = V4/V5.
  if (![40, 52, 56, 108, 124].includes(dibSize)) throw new BmpError(`unsupported BMP header size ${dibSize}`);
  if (bytes.length < 14 + dibSize) throw new BmpError('truncated BMP header');
  const width = view.getInt32(18, true);
  const rawHeight = view.getInt32(22, true);
  const planes = view.getUint16(26, true);
  const bitCount = view.getUint16(28, true);
  const compression = view.getUint32(30, true);
  if (width <= 0 || rawHeight === 0 || rawHeight === -0x80000000 || planes !== 1) throw new BmpError('invalid BMP dimensions');
  if (bitCount !== 24 && bitCount !== 32) throw new BmpError(`unsupported BMP bit depth ${bitCount}`);

  let order: [number, number, number] = [2, 1, 0]; // BGR(X) in memory
  if (compression === BI_BITFIELDS || compression === BI_ALPHABITFIELDS) {
    if (bitCount !== 32) throw new BmpError('BMP bitfields are only supported at 32 bits');
    // The masks follow a 40-byte header, or sit inside the larger ones at the same offset.
    if (bytes.length < 66) throw new BmpError('truncated BMP header');
    order = [maskByte(view.getUint32(54, true)), maskByte(view.getUint32(58, true)), maskByte(view.getUint32(62, true))];
  } else if (compression !== BI_RGB) {
    throw new BmpError(`unsupported BMP compression ${compression}`);
  }

  const height = Math.abs(rawHeight);
  const rowStride = Math.floor((bitCount * width + 31) / 32) * 4;
  if (dataOffset < 14 + dibSize) throw new BmpError('invalid BMP pixel data offset');
  return { width, height, topDown: rawHeight < 0, bitCount, dataOffset, rowStride, order };
}

/** Decodes the pixels of a validated header into packed RGB. */
export function decodeBmp(bytes: Uint8Array, header: BmpHeader = readBmpHeader(bytes)): Uint8Array {
  const { width, height, topDown, dataOffset, rowStride, order } = header;
  if (dataOffset + rowStride * height > bytes.length) throw new BmpError('truncated BMP pixel data');
  const bpp = header.bitCount / 8;
  const [ri, gi, bi] = order;
  const out = new Uint8Array(width * height * 3);
  let o = 0;
  for (let y = 0; y < height; y++) {
    let p = dataOffset + (topDown ? y : height - 1 - y) * rowStride;
    for (let x = 0; x < width; x++, p += bpp) {
      out[o++] = bytes[p + ri]!;
      out[o++] = bytes[p + gi]!;
      out[o++] = bytes[p + bi]!;
    }
  }
  return out;
}
