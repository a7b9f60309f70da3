// Keeps PROTOCOL.md honest: its hex examples must be exactly what the code writes.
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import {
  digestOf,
  encodeFeature,
  encodePushFrame,
  PushFrameType,
  SyncKind,
  SyncStreamWriter,
} from '../../device-protocol/index.js';
import { concatBytes, hex } from './helpers.js';

const doc = readFileSync(new URL('../../device-protocol/PROTOCOL.md', import.meta.url), 'utf8');

/** The code block that follows `heading`. */
function block(heading: string): string[] {
  const start = doc.indexOf(heading);
  expect(start, heading).to.be.greaterThan(-1);
  const open = doc.indexOf('```\n', start) + 4;
  return doc.slice(open, doc.indexOf('```', open)).split('\n');
}

/** The hex tokens each line starts with (annotations follow them). */
function leadingHex(lines: string[]): string {
  return lines
    .map((line) => {
      const tokens = line.trim().split(/\s+/);
      const hexTokens: string[] = [];
      for (const t of tokens) {
        if (!/^([0-9a-f]{2})+$/.test(t)) break;
        hexTokens.push(t);
      }
      return hexTokens.join('');
    })
    .join('');
}

describe('PROTOCOL.md', () => {
  it('shows the example stream exactly as the writer writes it', () => {
    const w = new SyncStreamWriter();
    const written = concatBytes(
      w.header({ searchModel: '1017', serverTimeMs: 1_700_000_000_000, featureEncoding: 'float32', featureDim: 4 }),
      w.groupResult({ groupName: 'staff', groupId: 12, cloudVersion: 3, localVersion: 0, kind: SyncKind.Full, faceCount: 2, tokenDigest: digestOf(['face-A', 'face-B']) }),
      w.faces([
        { faceToken: 'face-A', userId: 'u1', userInfo: 'Alice', feature: new Float32Array([0.5, -0.5, 0.5, -0.5]) },
        { faceToken: 'face-B', feature: new Float32Array([1, 0, 0, 0]) },
      ]),
      w.groupResult({ groupName: 'visitors', groupId: 15, cloudVersion: 9, localVersion: 7, kind: SyncKind.Delta, faceCount: 2, tokenDigest: digestOf(['face-C', 'face-E']) }),
      w.faces([{ faceToken: 'face-C', feature: new Float32Array([0, 0.6, 0.8, 0]) }]),
      w.removed(['face-D']),
      w.finish(),
    );
    expect(leadingHex(block('### A sync stream'))).to.equal(hex(written));
    expect(written.length).to.equal(205);
  });

  it('shows the int8 header and snapshot reference exactly as the writer writes them', () => {
    const w = new SyncStreamWriter();
    const written = concatBytes(
      w.header({ searchModel: '1017', serverTimeMs: 1_700_000_000_000, featureEncoding: 'int8', featureDim: 4 }),
      w.groupResult({
        groupName: 'staff', groupId: 12, cloudVersion: 3, localVersion: 0, kind: SyncKind.Full, faceCount: 1, tokenDigest: 1n,
        snapshot: { url: '/api/service/sync/v1/snapshots/12-3-int8', etag: '"12-3-int8"', byteLength: 123456 },
      }),
    );
    expect(leadingHex(block('### A header with int8 features'))).to.equal(hex(written));
  });

  it('shows the push messages exactly as they are encoded', () => {
    const lines = block('### Push messages');
    const shown = (name: string) => leadingHex([lines.find((l) => l.startsWith(name))!.slice(name.length)]);
    const g = (version: number) => [{ groupName: 'staff', groupId: 12, version }];
    expect(shown('ClientHello')).to.equal(hex(encodePushFrame({ type: PushFrameType.ClientHello, hello: { protocolVersion: 1, deviceId: 'door-1', groups: g(3) } })));
    expect(shown('ServerHello')).to.equal(hex(encodePushFrame({ type: PushFrameType.ServerHello, hello: { protocolVersion: 1, searchModel: '1017', serverTimeMs: 1_700_000_000_000, groups: g(4) } })));
    expect(shown('Notice')).to.equal(hex(encodePushFrame({ type: PushFrameType.Notice, groups: g(5) })));
    expect(shown('PushError')).to.equal(hex(encodePushFrame({ type: PushFrameType.Error, code: 4408, reason: 'protocol version' })));
  });

  it('shows the feature encodings exactly as they are encoded', () => {
    const lines = block('Example, x = (0.5, −0.25, 0.1, −1):');
    const x = new Float32Array([0.5, -0.25, 0.1, -1]);
    for (const encoding of ['float32', 'float16', 'int8'] as const) {
      const line = lines.find((l) => l.startsWith(encoding))!;
      expect(leadingHex([line.slice(encoding.length).replace('|', '')]), encoding).to.equal(hex(encodeFeature(x, encoding)));
    }
  });
});
