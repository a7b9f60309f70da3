// Image decoding with typed errors. Order matters for untrusted uploads:
// byte size, then the container's magic bytes, then the header's pixel
// count (image-header.ts reads only the header), and only then the full
// decode, so a 50000x50000 PNG bomb costs a header read, not gigabytes.
import sharp from 'sharp';
import { ErrorCode, FaceError } from './errors.js';
import type { DecodeLimits, DecodedImage, ImageFormat } from './engine.js';
import { BmpError, decodeBmp, readBmpHeader } from './bmp.js';
import { storedSize } from './image-header.js';

/** Container formats recognised from their first bytes (for clear rejections, not only accepted ones). */
export function sniffFormat(bytes: Uint8Array): string | undefined {
  const b = (i: number) => bytes[i];
  const ascii = (start: number, text: string) =>
    bytes.length >= start + text.length && [...text].every((ch, i) => bytes[start + i] === ch.charCodeAt(0));
  if (b(0) === 0xff && b(1) === 0xd8 && b(2) === 0xff) return 'jpeg';
  if (b(0) === 0x89 && ascii(1, 'PNG\r\n\x1a\n')) return 'png';
  if (ascii(0, 'BM')) return 'bmp';
  if (ascii(0, 'GIF8')) return 'gif';
  if (ascii(0, 'RIFF') && ascii(8, 'WEBP')) return 'webp';
  if (ascii(0, 'II*\0') || ascii(0, 'MM\0*')) return 'tiff';
  if (ascii(4, 'ftyp')) return 'heif/avif';
  if (b(0) === 0xff && b(1) === 0x0a) return 'jxl';
  const head = new TextDecoder().decode(bytes.subarray(0, 256)).trimStart().toLowerCase();
  if (head.startsWith('<svg') || (head.startsWith('<?xml') && head.includes('<svg'))) return 'svg';
  return undefined;
}

const unsupported = (message: string, cause?: unknown) =>
  new FaceError(ErrorCode.UnsupportedImageFormat, message, {}, cause === undefined ? undefined : { cause });

/** Why an image of this size is refused, or undefined; the same answer whichever side is the width. */
function sizeProblem(width: number, height: number, limits: DecodeLimits): FaceError | undefined {
  if (width * height > limits.maxPixels) {
    return new FaceError(ErrorCode.ImageResolutionTooLarge, `image is ${width}x${height}, more than ${limits.maxPixels} pixels`, { width, height });
  }
  if (Math.min(width, height) < limits.minSide) {
    return new FaceError(ErrorCode.ImageResolutionTooSmall, `image is ${width}x${height}, a side is under ${limits.minSide} px`, { width, height });
  }
  // Checked from the header too: a 16,777,216 x 1 strip is inside any pixel
  // budget but no photo of a face, and plans detector work for its length.
  const ratio = limits.maxAspectRatio ?? DEFAULT_MAX_ASPECT_RATIO;
  if (Math.max(width, height) > ratio * Math.min(width, height)) {
    return new FaceError(ErrorCode.ImageResolutionTooSmall, `image is ${width}x${height}, more than ${ratio}:1`, { width, height });
  }
  return undefined;
}

function checkSize(width: number, height: number, limits: DecodeLimits): void {
  const problem = sizeProblem(width, height, limits);
  if (problem) throw problem;
}

/** Longest side over shortest side accepted when the limits do not say: panoramas are about 4:1. */
export const DEFAULT_MAX_ASPECT_RATIO = 16;

/** Converts sharp's raw output (1-4 channels) to packed RGB. */
function toRgb(data: Uint8Array, width: number, height: number, channels: number): Uint8Array {
  if (channels === 3) return data;
  const out = new Uint8Array(width * height * 3);
  const n = width * height;
  for (let i = 0, s = 0, o = 0; i < n; i++, s += channels, o += 3) {
    if (channels < 3) {
      out[o] = out[o + 1] = out[o + 2] = data[s]!;
    } else {
      out[o] = data[s]!; out[o + 1] = data[s + 1]!; out[o + 2] = data[s + 2]!;
    }
  }
  return out;
}

/** The refusal of a size from the header, naming the size as displayed: EXIF orientations 5-8 swap the sides (only sharp reads EXIF). */
async function displayedSizeError(bytes: Uint8Array, width: number, height: number, limits: DecodeLimits): Promise<FaceError> {
  const orientation = await sharp(bytes, { limitInputPixels: false }).metadata().then((meta) => meta.orientation ?? 1, () => 1);
  return orientation >= 5 ? sizeProblem(height, width, limits)! : sizeProblem(width, height, limits)!;
}

async function decodeWithSharp(bytes: Uint8Array, format: 'jpeg' | 'png', limits: DecodeLimits): Promise<DecodedImage> {
  const size = storedSize(bytes, format);
  if (!size) throw unsupported(`corrupt ${format} header`);
  if (sizeProblem(size.width, size.height, limits)) throw await displayedSizeError(bytes, size.width, size.height, limits);

  try {
    // failOn 'warning' (the strictest level) rejects truncated files and
    // corrupt entropy-coded data, which lower levels decode into grey or
    // garbage pixels that would be enrolled as a face. Transparent pixels
    // keep arbitrary colour; flatten puts them on white like a viewer
    // would (sharp flattens only an image with an alpha channel).
    const pipeline = sharp(bytes, { failOn: 'warning', limitInputPixels: limits.maxPixels, sequentialRead: true })
      .rotate().flatten({ background: '#ffffff' });
    const { data, info } = await pipeline.toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    const pixels = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    return { format, width: info.width, height: info.height, rgb: toRgb(pixels, info.width, info.height, info.channels) };
  } catch (err) {
    throw unsupported(`corrupt or truncated ${format} image: ${(err as Error).message}`, err);
  }
}

function decodeBmpImage(bytes: Uint8Array, limits: DecodeLimits): DecodedImage {
  try {
    const header = readBmpHeader(bytes);
    checkSize(header.width, header.height, limits);
    return { format: 'bmp', width: header.width, height: header.height, rgb: decodeBmp(bytes, header) };
  } catch (err) {
    if (err instanceof BmpError) throw unsupported(err.message, err);
    throw err;
  }
}

export async function decodeImage(bytes: Uint8Array, limits: DecodeLimits): Promise<DecodedImage> {
  if (bytes.length === 0) throw unsupported('empty image');
  if (bytes.length > limits.maxBytes) {
    throw new FaceError(ErrorCode.ImageFileTooLarge, `image has ${bytes.length} bytes, more than ${limits.maxBytes}`, { bytes: bytes.length });
  }
  const sniffed = sniffFormat(bytes);
  if (sniffed === undefined) throw unsupported('unrecognised image format');
  if (!(limits.formats as readonly string[]).includes(sniffed)) throw unsupported(`image format ${sniffed} is not accepted`);
  const format = sniffed as ImageFormat;
  return format === 'bmp' ? decodeBmpImage(bytes, limits) : decodeWithSharp(bytes, format, limits);
}
