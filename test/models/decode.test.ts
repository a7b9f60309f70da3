import { expect } from 'chai';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { decodeImage } from '../../models/decode.js';
import type { DecodeLimits, DecodedImage } from '../../models/engine.js';
import { ErrorCode, FaceError } from '../../server/core/errors.js';
import { LIMITS, scene } from './fixtures.js';

async function decodeError(bytes: Uint8Array, limits: DecodeLimits = LIMITS): Promise<FaceError> {
  const result = await decodeImage(bytes, limits).then(() => undefined, (err: unknown) => err);
  expect(result, 'decode should fail').to.be.instanceOf(FaceError);
  return result as FaceError;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body) >>> 0);
  return Buffer.concat([length, body, crc]);
}

/** A small PNG whose header claims width x height (8-bit RGB) but which holds only one row of pixels. */
function pngHeader(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(Buffer.alloc(1 + width * 3))),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A BMP of packed RGB pixels: 24-bit bottom-up, or 32-bit BGRX top-down. */
function bmp(width: number, height: number, rgb: Uint8Array, bits: 24 | 32 = 24): Buffer {
  const bpp = bits / 8;
  const stride = Math.floor((bits * width + 31) / 32) * 4;
  const out = Buffer.alloc(54 + stride * height);
  out.write('BM', 0, 'latin1');
  out.writeUInt32LE(out.length, 2);
  out.writeUInt32LE(54, 10);
  out.writeUInt32LE(40, 14);
  out.writeInt32LE(width, 18);
  out.writeInt32LE(bits === 32 ? -height : height, 22);
  out.writeUInt16LE(1, 26);
  out.writeUInt16LE(bits, 28);
  for (let y = 0; y < height; y++) {
    const row = 54 + (bits === 32 ? y : height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const s = (y * width + x) * 3, d = row + x * bpp;
      out[d] = rgb[s + 2]!; out[d + 1] = rgb[s + 1]!; out[d + 2] = rgb[s]!;
    }
  }
  return out;
}

const pixel = (img: DecodedImage, x: number, y: number) => [...img.rgb.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3)];

describe('decodeImage', () => {
  const jpeg = scene('bbt2.jpg');
  const png = scene('face-rectangular.png');

  it('decodes JPEG and PNG to packed RGB, grayscale expanded to three channels', async () => {
    const j = await decodeImage(jpeg, LIMITS);
    expect([j.format, j.width, j.height, j.rgb.length]).to.deep.equal(['jpeg', 675, 469, 675 * 469 * 3]);
    const p = await decodeImage(png, LIMITS);
    expect([p.format, p.width, p.height]).to.deep.equal(['png', 122, 178]);
    const gray = await sharp({ create: { width: 20, height: 20, channels: 3, background: '#404040' } }).toColourspace('b-w').png().toBuffer();
    expect(pixel(await decodeImage(gray, LIMITS), 5, 5)).to.deep.equal([64, 64, 64]);
  });

  it('applies the EXIF orientation', async () => {
    const rotated = await sharp({ create: { width: 40, height: 20, channels: 3, background: '#ff0000' } }).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const img = await decodeImage(rotated, LIMITS);
    expect([img.width, img.height]).to.deep.equal([20, 40]);
  });

  it('puts transparent PNG pixels on white and reads 16-bit PNG as 8-bit', async () => {
    const clear = await sharp({ create: { width: 20, height: 20, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
    expect(pixel(await decodeImage(clear, LIMITS), 3, 3)).to.deep.equal([255, 255, 255]);
    const deep = await sharp({ create: { width: 20, height: 20, channels: 3, background: '#ff8000' } }).toColourspace('rgb16').png().toBuffer();
    expect(pixel(await decodeImage(deep, LIMITS), 3, 3)).to.deep.equal([255, 128, 0]);
  });

  it('decodes 24-bit and 32-bit BMP to the same pixels as the PNG', async () => {
    const p = await decodeImage(png, LIMITS);
    for (const bits of [24, 32] as const) {
      const b = await decodeImage(bmp(p.width, p.height, p.rgb, bits), LIMITS);
      expect([b.format, b.width, b.height]).to.deep.equal(['bmp', p.width, p.height]);
      expect(Buffer.from(b.rgb).equals(Buffer.from(p.rgb)), `${bits}-bit`).to.equal(true);
    }
  });

  it('rejects BMP when the limits do not list it', async () => {
    const err = await decodeError(bmp(20, 20, new Uint8Array(1200)), { ...LIMITS, formats: ['jpeg', 'png'] });
    expect(err.code).to.equal(ErrorCode.UnsupportedImageFormat);
  });

  it('rejects zero bytes, GIF, WebP, TIFF, SVG and unknown bytes as unsupported', async () => {
    const base = sharp({ create: { width: 20, height: 20, channels: 3, background: '#00ff00' } });
    const inputs: Record<string, Uint8Array> = {
      empty: new Uint8Array(0),
      gif: await base.clone().gif().toBuffer(),
      webp: await base.clone().webp().toBuffer(),
      tiff: await base.clone().tiff().toBuffer(),
      svg: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20"><rect width="20" height="20"/></svg>'),
      text: Buffer.from('hello, this is not an image'),
    };
    for (const [name, bytes] of Object.entries(inputs)) {
      expect((await decodeError(bytes)).code, name).to.equal(ErrorCode.UnsupportedImageFormat);
    }
  });

  it('rejects truncated JPEG, PNG and BMP instead of returning partial pixels', async () => {
    const b = bmp(30, 30, new Uint8Array(2700));
    for (const [name, bytes] of [['jpeg', jpeg], ['png', png], ['bmp', b]] as const) {
      for (const keep of [0.98, 0.6, 0.1]) {
        const err = await decodeError(bytes.subarray(0, Math.floor(bytes.length * keep)));
        expect(err.code, `${name} ${keep}`).to.equal(ErrorCode.UnsupportedImageFormat);
      }
    }
    expect((await decodeError(jpeg.subarray(0, 3))).code).to.equal(ErrorCode.UnsupportedImageFormat);
  });

  it('rejects corrupt JPEG data and a PNG with a damaged chunk', async () => {
    const badJpeg = Buffer.from(jpeg);
    for (let i = 5000; i < 9000; i++) badJpeg[i] = (i * 7) & 0xff;
    expect((await decodeError(badJpeg)).code).to.equal(ErrorCode.UnsupportedImageFormat);
    const badPng = Buffer.from(png);
    for (let i = 200; i < 400; i++) badPng[i] = 0xff - badPng[i]!;
    expect((await decodeError(badPng)).code).to.equal(ErrorCode.UnsupportedImageFormat);
  });

  it('rejects a file over the byte limit before looking at it', async () => {
    const err = await decodeError(jpeg, { ...LIMITS, maxBytes: jpeg.length - 1 });
    expect(err.code).to.equal(ErrorCode.ImageFileTooLarge);
  });

  it('rejects too many pixels from the header alone (a 5000x5000 PNG header, a huge BMP header)', async () => {
    const header = pngHeader(5000, 5000);
    expect(header.length).to.be.lessThan(200);
    const err = await decodeError(header, { ...LIMITS, maxPixels: 4_000_000 });
    expect(err.code).to.equal(ErrorCode.ImageResolutionTooLarge);
    const hugeBmp = bmp(2, 2, new Uint8Array(12));
    hugeBmp.writeInt32LE(100_000, 18);
    hugeBmp.writeInt32LE(100_000, 22);
    expect((await decodeError(hugeBmp)).code).to.equal(ErrorCode.ImageResolutionTooLarge);
  });

  it('rejects images with a side under the minimum', async () => {
    const tiny = await sharp({ create: { width: 8, height: 40, channels: 3, background: '#000' } }).png().toBuffer();
    expect((await decodeError(tiny)).code).to.equal(ErrorCode.ImageResolutionTooSmall);
  });

  it('names the size as displayed (after an EXIF quarter turn) when refusing it from the header', async () => {
    const turned = await sharp({ create: { width: 120, height: 68, channels: 3, background: '#000' } }).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const err = await decodeError(turned, { ...LIMITS, minSide: 100 });
    expect(err.code).to.equal(ErrorCode.ImageResolutionTooSmall);
    expect(err.details).to.deep.include({ width: 68, height: 120 });
  });

  it('only ever fails with a FaceError on randomly damaged files', async () => {
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const small = await sharp(jpeg).resize(120).jpeg().toBuffer();
    for (const original of [small, png]) {
      for (let round = 0; round < 25; round++) {
        const bytes = Buffer.from(original);
        const edits = 1 + Math.floor(random() * 20);
        for (let e = 0; e < edits; e++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
        const cut = random() < 0.3 ? bytes.subarray(0, Math.floor(bytes.length * random())) : bytes;
        const outcome = await decodeImage(cut, LIMITS).then((img) => img, (err: unknown) => err);
        if (!(outcome instanceof FaceError)) {
          const img = outcome as DecodedImage;
          expect(img.rgb.length).to.equal(img.width * img.height * 3);
        }
      }
    }
  });
});
