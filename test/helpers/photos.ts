// Shared photos made ready for FacePass enrolment.
import sharp from 'sharp';
import { readPersonPhoto } from './paths.js';

export const WHITE = { r: 255, g: 255, b: 255 };

/**
 * People photos whose largest face passes every admission check once
 * prepared by enrollablePhoto, with margin (yaw, pitch and roll within 17°
 * by the landmark pose; see models/README.md for every photo's pose). No
 * bernadette photo qualifies: each is turned or tilted more than 20°.
 */
export const ENROLLABLE: ReadonlyArray<readonly [person: string, n: number]> = [
  ['amy', 2], ['howard', 4], ['leonard', 2], ['penny', 2], ['raj', 4], ['sheldon', 1], ['stuart', 2], ['penny', 4],
];

/**
 * The shared 150x150 crops are tight; upscaled 2x and framed by a 200 px
 * white border (700x700), the face is well over FaceMin (100 px) and smaller
 * than the image, so the face crop of /image/query is a real crop.
 */
export async function enrollablePhoto(person: string, n: number): Promise<Buffer> {
  const face = await sharp(readPersonPhoto(person, n)).resize(300, 300).toBuffer();
  return sharp(face).extend({ top: 200, bottom: 200, left: 200, right: 200, background: WHITE }).png().toBuffer();
}
