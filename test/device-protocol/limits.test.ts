import { expect } from 'chai';
import {
  checkClientHello,
  isValidDeviceId,
  isValidGroupName,
  MAX_DEVICE_ID_LENGTH,
  MAX_GROUP_NAME_LENGTH,
  MAX_GROUPS_PER_REQUEST,
  MAX_INFO_STRING_LENGTH,
  parseSyncRequest,
  SyncError,
  SyncErrorCode,
} from '../../device-protocol/index.js';

/** The `illegal` names of a refused request, or null when it parses. */
function illegalOf(body: unknown): string[] | null {
  try {
    parseSyncRequest(body);
    return null;
  } catch (err) {
    expect(err).to.be.instanceOf(SyncError);
    expect((err as SyncError).code).to.equal(SyncErrorCode.BadRequest);
    return (err as SyncError).details.illegal as string[];
  }
}

const request = (info: Record<string, unknown>, groups: unknown[]) => ({ info: { search_model: 'm', version: 'v', ...info }, groups });

describe('sync request limits', () => {
  it('accepts strings and lists at their limits', () => {
    const name = 'g'.repeat(MAX_GROUP_NAME_LENGTH);
    const groups = Array.from({ length: MAX_GROUPS_PER_REQUEST }, (_, i) => ({ group_name: i === 0 ? name : `g${i}`, local_version: 0 }));
    expect(illegalOf(request({ version: 'v'.repeat(MAX_INFO_STRING_LENGTH), search_model: 's'.repeat(MAX_INFO_STRING_LENGTH) }, groups))).to.equal(null);
  });

  it('refuses a group name over the limit, empty, or with control characters', () => {
    for (const name of ['g'.repeat(MAX_GROUP_NAME_LENGTH + 1), 'g'.repeat(8192), '', 'a\u0000b', 'tab\there']) {
      expect(illegalOf(request({}, [{ group_name: name, local_version: 0 }])), JSON.stringify(name.slice(0, 20))).to.deep.equal(['group_name']);
    }
  });

  it('refuses more groups than the limit', () => {
    const groups = Array.from({ length: MAX_GROUPS_PER_REQUEST + 1 }, (_, i) => ({ group_name: `g${i}`, local_version: 0 }));
    expect(illegalOf(request({}, groups))).to.deep.equal(['groups']);
  });

  it('refuses an info.version or info.search_model over the limit (a 2 MiB version once grew the status store to 42 MB)', () => {
    expect(illegalOf(request({ version: 'v'.repeat(2 * 1024 * 1024) }, []))).to.deep.equal(['version']);
    expect(illegalOf(request({ search_model: 's'.repeat(MAX_INFO_STRING_LENGTH + 1) }, []))).to.deep.equal(['search_model']);
  });
});

describe('device ids and group names', () => {
  it('takes 1-128 printable ASCII characters without spaces as a device id', () => {
    expect(isValidDeviceId('door-1')).to.equal(true);
    expect(isValidDeviceId('d'.repeat(MAX_DEVICE_ID_LENGTH))).to.equal(true);
    for (const bad of ['', 'd'.repeat(MAX_DEVICE_ID_LENGTH + 1), 'door 1', 'tür', 'a\nb', 42]) expect(isValidDeviceId(bad), String(bad)).to.equal(false);
  });

  it('takes any non-control text up to the limit as a group name', () => {
    expect(isValidGroupName('lobby')).to.equal(true);
    expect(isValidGroupName('大堂 A')).to.equal(true);
    expect(isValidGroupName(7)).to.equal(false);
  });
});

describe('checkClientHello', () => {
  const hello = (deviceId: string, names: string[]) => ({ protocolVersion: 1, deviceId, groups: names.map((groupName) => ({ groupName, groupId: 0, version: 0 })) });
  const codeOf = (fn: () => void) => {
    try {
      fn();
      return null;
    } catch (err) {
      return (err as SyncError).code;
    }
  };

  it('accepts a hello inside the limits, and an unnamed device', () => {
    expect(codeOf(() => checkClientHello(hello('door-1', ['lobby'])))).to.equal(null);
    expect(codeOf(() => checkClientHello(hello('', ['lobby'])))).to.equal(null);
  });

  it('refuses an 8,192-character group name, too many groups and a bad device id as a bad frame (4400)', () => {
    expect(codeOf(() => checkClientHello(hello('door-1', ['g'.repeat(8192)])))).to.equal(SyncErrorCode.BadFrame);
    expect(codeOf(() => checkClientHello(hello('door-1', Array.from({ length: MAX_GROUPS_PER_REQUEST + 1 }, (_, i) => `g${i}`))))).to.equal(SyncErrorCode.BadFrame);
    expect(codeOf(() => checkClientHello(hello('door 1', ['lobby'])))).to.equal(SyncErrorCode.BadFrame);
    expect(codeOf(() => checkClientHello(hello('d'.repeat(MAX_DEVICE_ID_LENGTH + 1), ['lobby'])))).to.equal(SyncErrorCode.BadFrame);
  });
});
