import { expect } from 'chai';
import { TerminalOverview } from '../../../server/core/terminal-overview.js';
import { DEFAULT_LIBRARY, type GroupId, type GroupName } from '../../../server/core/ids.js';
import type { GroupRecord } from '../../../storage/store.js';
import type { DeviceSyncStatus } from '../../../storage/sync-status.js';

const NOW = 10_000_000;
const HOUR = 3_600_000;

function group(name: string, version: number): GroupRecord {
  return { groupId: 1 as GroupId, library: DEFAULT_LIBRARY, name: name as GroupName, version, createdAt: 0, updatedAt: 0, faceCount: 0, userCount: 0, tokenDigest: '0', deletedAt: null };
}

function device(name: string, syncTime: number, versions: Record<string, number>, extra: Partial<DeviceSyncStatus> = {}): DeviceSyncStatus {
  return {
    device: name,
    deviceId: name,
    ip: '127.0.0.1',
    clientVersion: '1.0',
    syncTime,
    searchModel: 'm',
    groups: Object.entries(versions).map(([groupName, v]) => ({
      groupName, groupId: 1, localVersion: 0, cloudVersion: v, resultCode: 0 as const, resultVersion: v, faceTokensAdded: 2, faceTokensDeleted: 0,
    })),
    ...extra,
  };
}

function overview(devices: DeviceSyncStatus[], groups: GroupRecord[], connected: string[]) {
  return new TerminalOverview({
    status: { list: async (page: { after?: string; limit: number }) => devices.filter((d) => page.after === undefined || d.device > page.after).slice(0, page.limit) },
    store: { getGroup: async (_library, name) => groups.find((g) => g.name === name) },
    library: DEFAULT_LIBRARY,
    connectedDevices: () => new Set(connected),
    staleAfterMs: HOUR,
    now: () => NOW,
  });
}

describe('TerminalOverview', function () {
  it('reports each group the terminal holds against the server version, with the lag', async function () {
    const [view] = await overview([device('door', NOW - 1000, { lobby: 3, gone: 2 }, { featureEncoding: 'int8', bytes: 900 })], [group('lobby', 7)], []).list();
    expect(view!.groups).to.deep.equal([
      { groupName: 'lobby', deviceVersion: 3, serverVersion: 7, lag: 4, resultCode: 0, facesAdded: 2, facesDeleted: 0 },
      { groupName: 'gone', deviceVersion: 2, serverVersion: null, lag: null, resultCode: 0, facesAdded: 2, facesDeleted: 0 },
    ]);
    expect(view!.featureEncoding).to.equal('int8');
    expect(view!.bytes).to.equal(900);
    expect(view!.stale).to.equal(false);
  });

  it('marks a terminal stale when it has not synced for long, unless it is connected and current', async function () {
    const groups = [group('lobby', 5)];
    const devices = [
      device('old-offline', NOW - 2 * HOUR, { lobby: 5 }),
      device('old-connected-current', NOW - 2 * HOUR, { lobby: 5 }),
      device('old-connected-behind', NOW - 2 * HOUR, { lobby: 4 }),
      device('recent-behind', NOW - 1000, { lobby: 1 }),
    ];
    const views = await overview(devices, groups, ['old-connected-current', 'old-connected-behind']).list();
    expect(views.map((v) => [v.device, v.connected, v.stale])).to.deep.equal([
      ['old-offline', false, true],
      ['old-connected-current', true, false],
      ['old-connected-behind', true, true],
      ['recent-behind', false, false],
    ]);
  });

  it('reads absent encoding and bytes of older records as null', async function () {
    const [view] = await overview([device('door', NOW, {})], [], []).list();
    expect(view!.featureEncoding).to.equal(null);
    expect(view!.bytes).to.equal(null);
    expect(view!.groups).to.deep.equal([]);
  });
});
