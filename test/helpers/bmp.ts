// A 24-bit bottom-up BMP writer for tests: sharp writes no BMP, and
// terminals may upload one.
import sharp from 'sharp';

export async function toBmp(image: Uint8Array): Promise<Buffer> {
  const { data, info } = await sharp(image).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const { width, height } = info;
  const stride = Math.floor((24 * width + 31) / 32) * 4;
  const out = Buffer.alloc(54 + stride * height);
  out.write('BM', 0, 'latin1');
  out.writeUInt32LE(out.length, 2);
  out.writeUInt32LE(54, 10);
  out.writeUInt32LE(40, 14);
  out.writeInt32LE(width, 18);
  out.writeInt32LE(height, 22);
  out.writeUInt16LE(1, 26);
  out.writeUInt16LE(24, 28);
  for (let y = 0; y < height; y++) {
    const row = 54 + (height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const s = (y * width + x) * 3;
      const d = row + x * 3;
      out[d] = data[s + 2]!;
      out[d + 1] = data[s + 1]!;
      out[d + 2] = data[s]!;
    }
  }
  return out;
}
