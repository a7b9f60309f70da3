import { expect } from 'chai';
import sharp from 'sharp';
import { storedSize } from '../../models/image-header.js';

const solid = (width: number, height: number) => sharp({ create: { width, height, channels: 3, background: '#3a7' } });

/** A JPEG's bytes with `segment` (a whole marker segment) put right after SOI. */
const withSegmentAfterSoi = (jpeg: Buffer, segment: number[]) => Buffer.concat([jpeg.subarray(0, 2), Buffer.from(segment), jpeg.subarray(2)]);

describe('storedSize (the size limits read from the header)', () => {
  it('reads PNG sizes of every colour type, as sharp reads them', async () => {
    const cases = [
      await solid(37, 5).png().toBuffer(),
      await solid(5, 37).greyscale().png().toBuffer(),
      await solid(640, 480).ensureAlpha(0.5).png().toBuffer(),
      await solid(33, 31).png({ palette: true }).toBuffer(),
      await solid(17, 9).png().toColourspace('rgb16').toBuffer(),
    ];
    for (const png of cases) {
      const meta = await sharp(png).metadata();
      expect(storedSize(png, 'png')).to.deep.equal({ width: meta.width, height: meta.height });
    }
  });

  it('refuses a PNG header that libpng would: damaged CRC, another first chunk, impossible depth, too short', async () => {
    const png = await solid(37, 5).png().toBuffer();
    const damaged = Buffer.from(png);
    damaged[20] = 0x7f; // height's top byte: the CRC no longer matches
    expect(storedSize(damaged, 'png')).to.equal(undefined);
    const renamed = Buffer.from(png);
    renamed.write('IHDX', 12, 'latin1');
    expect(storedSize(renamed, 'png')).to.equal(undefined);
    expect(storedSize(png.subarray(0, 30), 'png')).to.equal(undefined);
    // Depth 3 for RGB, with a CRC that matches: still not a PNG header.
    const { crc32 } = await import('node:zlib');
    const odd = Buffer.from(png);
    odd[24] = 3;
    odd.writeUInt32BE(crc32(odd.subarray(12, 29)) >>> 0, 29);
    expect(storedSize(odd, 'png')).to.equal(undefined);
  });

  it('reads baseline, progressive and greyscale JPEG sizes, past APP segments and fill bytes', async () => {
    const baseline = await solid(301, 77).jpeg().toBuffer();
    const progressive = await solid(64, 1000).jpeg({ progressive: true }).toBuffer();
    const grey = await solid(9, 13).greyscale().jpeg().toBuffer();
    const exif = await solid(120, 68).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    expect(storedSize(baseline, 'jpeg')).to.deep.equal({ width: 301, height: 77 });
    expect(storedSize(progressive, 'jpeg')).to.deep.equal({ width: 64, height: 1000 });
    expect(storedSize(grey, 'jpeg')).to.deep.equal({ width: 9, height: 13 });
    // The stored sides, not the EXIF-turned ones (the limits are the same either way).
    expect(storedSize(exif, 'jpeg')).to.deep.equal({ width: 120, height: 68 });
    // A comment segment and 0xFF fill bytes before a marker change nothing.
    const padded = withSegmentAfterSoi(baseline, [0xff, 0xfe, 0x00, 0x05, 0x61, 0x62, 0x63, 0xff, 0xff]);
    expect(storedSize(padded, 'jpeg')).to.deep.equal({ width: 301, height: 77 });
    expect((await sharp(padded).metadata()).width).to.equal(301);
  });

  it('refuses a JPEG header without a readable frame: truncated, scan first, bad length, zero height', async () => {
    const jpeg = await solid(301, 77).jpeg().toBuffer();
    const sof = jpeg.indexOf(Buffer.from([0xff, 0xc0]));
    expect(sof).to.be.greaterThan(2);
    expect(storedSize(jpeg.subarray(0, sof + 6), 'jpeg')).to.equal(undefined);
    expect(storedSize(withSegmentAfterSoi(jpeg, [0xff, 0xda, 0x00, 0x08]), 'jpeg')).to.equal(undefined);
    expect(storedSize(withSegmentAfterSoi(jpeg, [0xff, 0xe1, 0x00, 0x01]), 'jpeg')).to.equal(undefined);
    const noHeight = Buffer.from(jpeg);
    noHeight.writeUInt16BE(0, sof + 5);
    expect(storedSize(noHeight, 'jpeg')).to.equal(undefined);
    // Not a marker where one must be.
    const junk = Buffer.from(jpeg);
    junk[2] = 0x00;
    expect(storedSize(junk, 'jpeg')).to.equal(undefined);
  });
});
