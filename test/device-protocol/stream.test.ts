import { readFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { expect } from 'chai';
import protobuf from 'protobufjs';
import {
  decodeSyncStream,
  GroupBodyEncoder,
  digestOf,
  FrameType,
  SyncErrorCode,
  SyncKind,
  SyncStreamDecoder,
  SyncStreamWriter,
  type SyncFrame,
} from '../../device-protocol/index.js';
import { encodeFrame } from '../../device-protocol/frames.js';
import { chunksOf, concatBytes, face, fromHex, hex } from './helpers.js';

// The example of PROTOCOL.md ("Example stream"), byte for byte.
const GOLDEN = {
  header: '13 0a11 0801 120431303137 1880d095ffbc31 2804',
  staff: '1a 1218 0a057374616666 100c 1803 2803 3002 39695f29a204cbe27b',
  staffFaces:
    '45 1a43 0a25 0a06666163652d41 12027531 1a05416c696365 2210 0000003f000000bf0000003f000000bf' +
    ' 0a1a 0a06666163652d42 2210 0000803f000000000000000000000000',
  visitors: '1f 121d 0a0876697369746f7273 100f 1809 2007 2802 3002 3933a5fe73f4737bd3',
  visitorFaces: '1e 1a1c 0a1a 0a06666163652d43 2210 000000009a99193fcdcc4c3f00000000',
  removed: '0a 2208 0a06666163652d44',
  trailer: '0d 2a0b 0802 1003 1801 255d39b27c',
};

function writeExample(): Record<keyof typeof GOLDEN, Uint8Array> {
  const w = new SyncStreamWriter();
  return {
    header: w.header({ searchModel: '1017', serverTimeMs: 1_700_000_000_000, featureEncoding: 'float32', featureDim: 4 }),
    staff: w.groupResult({
      groupName: 'staff', groupId: 12, cloudVersion: 3, localVersion: 0, kind: SyncKind.Full,
      faceCount: 2, tokenDigest: digestOf(['face-A', 'face-B']),
    }),
    staffFaces: w.faces([
      { faceToken: 'face-A', userId: 'u1', userInfo: 'Alice', feature: new Float32Array([0.5, -0.5, 0.5, -0.5]) },
      { faceToken: 'face-B', feature: new Float32Array([1, 0, 0, 0]) },
    ]),
    visitors: w.groupResult({
      groupName: 'visitors', groupId: 15, cloudVersion: 9, localVersion: 7, kind: SyncKind.Delta,
      faceCount: 2, tokenDigest: digestOf(['face-C', 'face-E']),
    }),
    visitorFaces: w.faces([{ faceToken: 'face-C', feature: new Float32Array([0, 0.6, 0.8, 0]) }]),
    removed: w.removed(['face-D']),
    trailer: w.finish(),
  };
}

const goldenStream = (): Uint8Array => fromHex(Object.values(GOLDEN).join(''));

function decodeAll(bytes: Uint8Array, options?: ConstructorParameters<typeof SyncStreamDecoder>[0]): SyncFrame[] {
  const decoder = new SyncStreamDecoder(options);
  const frames = decoder.push(bytes);
  decoder.end();
  return frames;
}

const frame = (f: Parameters<typeof encodeFrame>[0]): Uint8Array => encodeFrame(f);
const header = frame({ type: FrameType.Header, header: { protocolVersion: 1, searchModel: 'm', serverTimeMs: 1, featureEncoding: 'float32', featureDim: 1 } });
const fullGroup = frame({ type: FrameType.Group, group: { groupName: 'g', groupId: 1, cloudVersion: 1, localVersion: 0, kind: SyncKind.Full, faceCount: 0, tokenDigest: 0n } });

/** A trailer that is right for `before` (CRC over it), with the given counts. */
function trailerFor(before: Uint8Array, counts = { groupCount: 0, faceCount: 0, removedCount: 0 }): Uint8Array {
  return frame({ type: FrameType.Trailer, trailer: { ...counts, crc32: crc32(before) } });
}

const expectCode = (fn: () => unknown, code: string) => expect(fn).to.throw().with.property('code', code);

describe('SyncStreamWriter', () => {
  it('writes the golden example stream byte for byte', () => {
    const written = writeExample();
    for (const key of Object.keys(GOLDEN) as (keyof typeof GOLDEN)[]) {
      expect(hex(written[key]), key).to.equal(GOLDEN[key].replace(/\s+/g, ''));
    }
  });

  it('writes frames that a decoder built from sync.proto reads (wire matches the .proto)', () => {
    const root = protobuf.parse(readFileSync(new URL('../../device-protocol/sync.proto', import.meta.url), 'utf8')).root;
    root.resolveAll();
    const Frame = root.lookupType('facepass.sync.v1.Frame');
    const reader = protobuf.Reader.create(goldenStream());
    const kinds: string[] = [];
    while (reader.pos < reader.len) kinds.push((Frame.decodeDelimited(reader) as unknown as { kind: string }).kind);
    expect(kinds).to.deep.equal(['header', 'group', 'faces', 'group', 'faces', 'removed', 'trailer']);
  });

  it('keeps counts and bytes written', () => {
    const w = new SyncStreamWriter();
    const total = Object.values(writeExample()).reduce((n, b) => n + b.length, 0);
    expect(total).to.equal(goldenStream().length);
    w.header({ searchModel: 'm', serverTimeMs: 0, featureEncoding: 'int8', featureDim: 8 });
    w.groupResult({ groupName: 'g', groupId: 1, cloudVersion: 1, localVersion: 0, kind: SyncKind.Full, faceCount: 2, tokenDigest: 0n });
    w.faces([face('a'), face('b')]);
    expect(w.counts).to.deep.equal({ groupCount: 1, faceCount: 2, removedCount: 0 });
  });

  it('cuts large pages into frames below the target size', () => {
    const w = new SyncStreamWriter({ targetFrameBytes: 4096 });
    const parts = [
      w.header({ searchModel: 'm', serverTimeMs: 0, featureEncoding: 'float32', featureDim: 128 }),
      w.groupResult({ groupName: 'g', groupId: 1, cloudVersion: 1, localVersion: 0, kind: SyncKind.Full, faceCount: 100, tokenDigest: 0n }),
      w.faces(Array.from({ length: 100 }, (_, i) => face(`t${i}`, {}, 128))),
      w.finish(),
    ];
    const decoder = new SyncStreamDecoder({ maxFrameBytes: 4096 });
    const frames = decoder.push(concatBytes(...parts));
    const batches = frames.filter((f) => f.type === FrameType.Faces);
    expect(batches.length).to.be.greaterThan(1);
    expect(batches.reduce((n, f) => n + (f.type === FrameType.Faces ? f.faces.length : 0), 0)).to.equal(100);
  });

  it('refuses frames out of order, leaving its state unchanged', () => {
    const w = new SyncStreamWriter();
    expectCode(() => w.faces([face('a')]), SyncErrorCode.BadOrder);
    w.header({ searchModel: 'm', serverTimeMs: 0, featureEncoding: 'float32', featureDim: 8 });
    w.groupResult({ groupName: 'g', groupId: 1, cloudVersion: 1, localVersion: 1, kind: SyncKind.Unchanged, faceCount: 0, tokenDigest: 0n });
    expectCode(() => w.faces([face('a')]), SyncErrorCode.BadOrder);
    expectCode(() => w.removed(['a']), SyncErrorCode.BadOrder);
    expectCode(
      () => w.groupResult({ groupName: 'h', groupId: 2, cloudVersion: 1, localVersion: 0, kind: SyncKind.Delta, faceCount: 0, tokenDigest: 0n, snapshot: { url: '/s', etag: '', byteLength: 1 } }),
      SyncErrorCode.BadOrder,
    );
    expect(w.counts.faceCount).to.equal(0);
    w.finish();
    expectCode(() => w.finish(), SyncErrorCode.BadOrder);
  });

  it('refuses a record that cannot fit a frame, and features of the wrong dimension', () => {
    const w = new SyncStreamWriter({ maxFrameBytes: 1024 });
    w.header({ searchModel: 'm', serverTimeMs: 0, featureEncoding: 'float32', featureDim: 8 });
    w.groupResult({ groupName: 'g', groupId: 1, cloudVersion: 1, localVersion: 0, kind: SyncKind.Full, faceCount: 1, tokenDigest: 0n });
    expectCode(() => w.faces([face('a', { userInfo: 'x'.repeat(2000) })]), SyncErrorCode.FrameTooLarge);
    expectCode(() => w.faces([face('a', {}, 4)]), SyncErrorCode.BadFeature);
    expect(w.counts.faceCount).to.equal(0);
  });

  describe('pre-encoded group bodies', () => {
    const layout = { featureEncoding: 'int8', featureDim: 128 } as const;
    const header = { searchModel: 'm', serverTimeMs: 5, ...layout };
    const delta = { groupName: 'g', groupId: 1, cloudVersion: 9, localVersion: 4, kind: SyncKind.Delta, faceCount: 300, tokenDigest: 7n };
    const upserts = Array.from({ length: 300 }, (_, i) => face(`t${i}`, { userId: `u${i}` }, 128));
    const removals = Array.from({ length: 50 }, (_, i) => `gone-${i}`);

    it('splices into a stream byte for byte as if faces() and removed() had written it', () => {
      const direct = new SyncStreamWriter({ targetFrameBytes: 8192 });
      const expected = concatBytes(
        direct.header(header), direct.groupResult(delta), direct.faces(upserts.slice(0, 120)), direct.faces(upserts.slice(120)),
        direct.removed(removals), direct.finish(),
      );
      const body = new GroupBodyEncoder(layout, { targetFrameBytes: 8192 }).faces(upserts.slice(0, 120)).faces(upserts.slice(120)).removed(removals).finish();
      expect([body.faceCount, body.removedCount]).to.deep.equal([300, 50]);
      // Two streams share one body; each has its own CRC and counts.
      for (let i = 0; i < 2; i++) {
        const w = new SyncStreamWriter({ targetFrameBytes: 8192 });
        const bytes = concatBytes(w.header(header), w.groupResult(delta), w.body(body), w.finish());
        expect(hex(bytes)).to.equal(hex(expected));
        expect(decodeAll(bytes).filter((f) => f.type === FrameType.Faces).length).to.be.greaterThan(1);
      }
    });

    it('is refused where its frames may not stand or its encoding differs, leaving the stream unchanged', () => {
      const body = new GroupBodyEncoder(layout).faces(upserts.slice(0, 3)).removed(['x']).finish();
      const w = new SyncStreamWriter();
      w.header(header);
      w.groupResult({ ...delta, kind: SyncKind.Full, localVersion: 0 });
      // FULL takes faces but no removals: nothing of the body may be recorded.
      expectCode(() => w.body(body), SyncErrorCode.BadOrder);
      expect(w.counts).to.deep.include({ faceCount: 0, removedCount: 0 });
      const float32 = new GroupBodyEncoder({ featureEncoding: 'float32', featureDim: 128 }).faces(upserts.slice(0, 1)).finish();
      expectCode(() => w.body(float32), SyncErrorCode.BadFeature);
      const bytesBefore = w.bytesWritten;
      w.body(new GroupBodyEncoder(layout).faces(upserts.slice(0, 2)).finish());
      expect(w.counts.faceCount).to.equal(2);
      expect(w.bytesWritten).to.be.greaterThan(bytesBefore);
    });

    it('keeps the running CRC across an empty body, whatever memory backs it', () => {
      // zlib's crc32 restarts from 0 on an empty view of a buffer-less ArrayBuffer: see crc.ts.
      const empties = [
        new GroupBodyEncoder(layout).finish(),
        { ...layout, faceCount: 0, removedCount: 0, bytes: new Uint8Array(new ArrayBuffer(0)) },
      ];
      for (const body of empties) {
        const w = new SyncStreamWriter();
        const bytes = concatBytes(w.header(header), w.groupResult({ ...delta, faceCount: 0 }), w.body(body), w.finish());
        expect(() => decodeAll(bytes)).to.not.throw();
      }
    });

    it('keeps faces before removals and cannot be extended once finished', () => {
      const encoder = new GroupBodyEncoder(layout).removed(['a']);
      expectCode(() => encoder.faces(upserts.slice(0, 1)), SyncErrorCode.BadOrder);
      encoder.finish();
      expectCode(() => encoder.removed(['b']), SyncErrorCode.BadOrder);
    });
  });

  it('ends a failed stream with an error frame that the decoder reports', () => {
    const w = new SyncStreamWriter();
    const bytes = concatBytes(w.header({ searchModel: 'm', serverTimeMs: 0, featureEncoding: 'float32', featureDim: 8 }), w.abort('STORE_FAILED', 'disk'));
    expectCode(() => decodeAll(bytes), SyncErrorCode.Server);
  });
});

describe('SyncStreamDecoder', () => {
  it('decodes the golden stream into typed frames', () => {
    const frames = decodeAll(goldenStream());
    expect(frames.map((f) => f.type)).to.deep.equal([1, 2, 3, 2, 3, 4, 5]);
    const [h, staff, faces, , , removed, trailer] = frames;
    expect(h).to.deep.equal({ type: FrameType.Header, header: { protocolVersion: 1, searchModel: '1017', serverTimeMs: 1_700_000_000_000, featureEncoding: 'float32', featureDim: 4 } });
    expect(staff?.type === FrameType.Group && staff.group.tokenDigest).to.equal(0x7be2cb04a2295f69n);
    expect(faces?.type === FrameType.Faces && faces.faces.map((f) => ({ ...f, feature: [...f.feature] }))).to.deep.equal([
      { faceToken: 'face-A', userId: 'u1', userInfo: 'Alice', feature: [0.5, -0.5, 0.5, -0.5] },
      { faceToken: 'face-B', feature: [1, 0, 0, 0] },
    ]);
    expect(removed).to.deep.equal({ type: FrameType.Removed, faceTokens: ['face-D'] });
    expect(trailer).to.deep.equal({ type: FrameType.Trailer, trailer: { groupCount: 2, faceCount: 3, removedCount: 1, crc32: 0x7cb2395d } });
  });

  it('decodes the same frames however the stream is split in two, at every byte offset', () => {
    const bytes = goldenStream();
    const whole = JSON.stringify(decodeAll(bytes), (_, v) => (typeof v === 'bigint' ? v.toString() : v instanceof Float32Array ? [...v] : v));
    for (let cut = 0; cut <= bytes.length; cut++) {
      const decoder = new SyncStreamDecoder();
      const frames = [...decoder.push(bytes.subarray(0, cut)), ...decoder.push(bytes.subarray(cut))];
      decoder.end();
      expect(JSON.stringify(frames, (_, v) => (typeof v === 'bigint' ? v.toString() : v instanceof Float32Array ? [...v] : v)), `cut at ${cut}`).to.equal(whole);
    }
  });

  it('decodes a stream fed one byte at a time', async () => {
    const bytes = goldenStream();
    const frames: SyncFrame[] = [];
    for await (const f of decodeSyncStream(chunksOf(...Array.from(bytes, (b) => new Uint8Array([b]))))) frames.push(f);
    expect(frames).to.have.length(7);
  });

  it('decodes Node Buffer chunks (as an http response delivers them)', () => {
    const bytes = Buffer.from(goldenStream());
    const decoder = new SyncStreamDecoder();
    const frames = [...decoder.push(bytes.subarray(0, 100)), ...decoder.push(bytes.subarray(100))];
    decoder.end();
    const faces = frames.find((f) => f.type === FrameType.Faces);
    expect(faces?.type === FrameType.Faces && [...faces.faces[0]!.feature]).to.deep.equal([0.5, -0.5, 0.5, -0.5]);
  });

  it('reads every feature encoding', () => {
    for (const featureEncoding of ['float32', 'float16', 'int8'] as const) {
      const w = new SyncStreamWriter();
      const bytes = concatBytes(
        w.header({ searchModel: 'm', serverTimeMs: 0, featureEncoding, featureDim: 4 }),
        w.groupResult({ groupName: 'g', groupId: 1, cloudVersion: 1, localVersion: 0, kind: SyncKind.Full, faceCount: 1, tokenDigest: 0n }),
        w.faces([{ faceToken: 'a', feature: new Float32Array([0.5, -0.25, 0.1, -1]) }]),
        w.finish(),
      );
      const faces = decodeAll(bytes).find((f) => f.type === FrameType.Faces);
      const got = faces?.type === FrameType.Faces ? [...faces.faces[0]!.feature] : [];
      [0.5, -0.25, 0.1, -1].forEach((x, i) => expect(got[i]).to.be.closeTo(x, 0.005, featureEncoding));
    }
  });

  it('rejects a frame above the size limit from its length prefix alone', () => {
    const decoder = new SyncStreamDecoder({ maxFrameBytes: 1024 });
    // 0x81 0x08 = 1025: rejected before any body byte arrives.
    expectCode(() => decoder.push(new Uint8Array([0x81, 0x08])), SyncErrorCode.FrameTooLarge);
    // With the default 1 MiB limit, a prefix announcing 1 MiB + 1 is rejected while still incomplete.
    const big = new SyncStreamDecoder();
    expectCode(() => big.push(new Uint8Array([0x81, 0x80, 0xc0])), SyncErrorCode.FrameTooLarge);
  });

  it('rejects over-long and non-canonical length prefixes', () => {
    expectCode(() => new SyncStreamDecoder({ maxFrameBytes: 2 ** 40 }).push(new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x80, 0x01])), SyncErrorCode.BadVarint);
    expectCode(() => new SyncStreamDecoder().push(new Uint8Array([0x81, 0x00])), SyncErrorCode.BadVarint);
  });

  it('reports a stream without trailer as truncated, wherever it stops', () => {
    const bytes = goldenStream();
    for (const cut of [0, 1, 5, 20, bytes.length - 15, bytes.length - 14, bytes.length - 1]) {
      const decoder = new SyncStreamDecoder();
      decoder.push(bytes.subarray(0, cut));
      expectCode(() => decoder.end(), SyncErrorCode.Truncated);
    }
  });

  it('detects a flipped bit through the trailer CRC', () => {
    const bytes = goldenStream();
    // inside face-A's feature: still valid protobuf, only the CRC can tell
    const i = hex(bytes).indexOf('0000003f000000bf') / 2;
    bytes[i] = bytes[i]! ^ 0x01;
    expectCode(() => decodeAll(bytes), SyncErrorCode.CrcMismatch);
  });

  it('detects trailer counts that differ from the frames', () => {
    const before = concatBytes(header, fullGroup);
    expectCode(() => decodeAll(concatBytes(before, trailerFor(before, { groupCount: 2, faceCount: 0, removedCount: 0 }))), SyncErrorCode.CountMismatch);
    expect(decodeAll(concatBytes(before, trailerFor(before, { groupCount: 1, faceCount: 0, removedCount: 0 })))).to.have.length(3);
  });

  it('rejects frames out of order', () => {
    const faces = frame({ type: FrameType.Faces, faces: [{ faceToken: 'a', feature: new Uint8Array(4) }] });
    const removed = frame({ type: FrameType.Removed, faceTokens: ['a'] });
    expectCode(() => new SyncStreamDecoder().push(fullGroup), SyncErrorCode.BadOrder); // no header first
    expectCode(() => new SyncStreamDecoder().push(concatBytes(header, header)), SyncErrorCode.BadOrder);
    expectCode(() => new SyncStreamDecoder().push(concatBytes(header, faces)), SyncErrorCode.BadOrder); // no group yet
    expectCode(() => new SyncStreamDecoder().push(concatBytes(header, fullGroup, removed)), SyncErrorCode.BadOrder); // removal in FULL
    // swapping two frames of the golden stream: the removal before the delta's records
    const g = GOLDEN;
    const swapped = fromHex([g.header, g.staff, g.staffFaces, g.visitors, g.removed, g.visitorFaces, g.trailer].join(''));
    expectCode(() => decodeAll(swapped), SyncErrorCode.BadOrder);
  });

  it('rejects anything after the trailer', () => {
    const bytes = goldenStream();
    expectCode(() => decodeAll(concatBytes(bytes, header)), SyncErrorCode.TrailingData);
    expectCode(() => decodeAll(concatBytes(bytes, new Uint8Array([0x05]))), SyncErrorCode.TrailingData);
    const decoder = new SyncStreamDecoder();
    decoder.push(bytes);
    expectCode(() => decoder.push(new Uint8Array([0])), SyncErrorCode.TrailingData);
  });

  it('rejects unknown critical frame types and skips unknown ancillary ones', () => {
    // field 7 (critical, unknown): 0x3a = (7 << 3) | 2
    expectCode(() => new SyncStreamDecoder().push(concatBytes(header, fromHex('02 3a00'))), SyncErrorCode.UnknownFrame);
    // field 64 (ancillary): tag varint 0x82 0x04 = (64 << 3) | 2; skipped but covered by the CRC
    const before = concatBytes(header, fromHex('04 820401ff'), fullGroup);
    expect(decodeAll(concatBytes(before, trailerFor(before, { groupCount: 1, faceCount: 0, removedCount: 0 }))).map((f) => f.type)).to.deep.equal([1, 2, 5]);
  });

  it('rejects empty frames, garbage, and frames with two types', () => {
    expectCode(() => new SyncStreamDecoder().push(fromHex('00')), SyncErrorCode.BadFrame);
    expectCode(() => new SyncStreamDecoder().push(fromHex('03 0a05ff')), SyncErrorCode.BadFrame);
    // header member followed by a group member in one frame
    expectCode(() => new SyncStreamDecoder().push(fromHex('04 0a001200')), SyncErrorCode.BadFrame);
    // a group result with an unknown kind
    expectCode(() => new SyncStreamDecoder().push(concatBytes(header, fromHex('06 1204 0a016728 09'))), SyncErrorCode.BadFrame);
  });

  it('rejects a protocol version it does not speak', () => {
    const v2 = frame({ type: FrameType.Header, header: { protocolVersion: 2, searchModel: 'm', serverTimeMs: 1, featureEncoding: 'float32', featureDim: 1 } });
    expectCode(() => new SyncStreamDecoder().push(v2), SyncErrorCode.ProtocolVersion);
    expect(new SyncStreamDecoder({ maxProtocolVersion: 2 }).push(v2)).to.have.length(1);
  });

  it('rejects a feature whose length does not match the header', () => {
    const faces = frame({ type: FrameType.Faces, faces: [{ faceToken: 'a', feature: new Uint8Array(3) }] });
    expectCode(() => new SyncStreamDecoder().push(concatBytes(header, fullGroup, faces)), SyncErrorCode.BadFeature);
  });
});
