// What the console's terminal page shows: every device that ever synced,
// each group it holds against the server's current version (its lag), and
// whether it is on the push channel right now. Read-only; built from the
// sync-status records, the groups' versions and the push hub's connections.
import type { FaceStore, GroupRecord } from '../../storage/store.js';
import type { DeviceSyncStatus, SyncStatusStore } from '../../storage/sync-status.js';
import type { GroupName, LibraryId } from './ids.js';

export interface TerminalGroupView {
  groupName: string;
  /** The version the terminal holds after its last sync (its result version). */
  deviceVersion: number;
  /** The group's version on the server now; null when the group no longer exists. */
  serverVersion: number | null;
  /** serverVersion - deviceVersion, never negative; null when the group is gone. */
  lag: number | null;
  /** 0 = the last sync of this group reached the terminal whole. */
  resultCode: 0 | 1;
  facesAdded: number;
  /** null where the server cannot know it (a FULL/RESET of a copy above version 0, README). */
  facesDeleted: number | null;
}

export interface TerminalView {
  device: string;
  deviceId: string | null;
  ip: string;
  clientVersion: string;
  lastSync: number;
  searchModel: string;
  featureEncoding: string | null;
  /** Bytes of the last sync response, when recorded. */
  bytes: number | null;
  /** Connected to the push channel now. */
  connected: boolean;
  /** Behind, and neither synced recently nor listening for notices: needs a look. */
  stale: boolean;
  groups: TerminalGroupView[];
}

export interface TerminalOverviewDeps {
  status: Pick<SyncStatusStore, 'list'>;
  store: Pick<FaceStore, 'getGroup'>;
  library: LibraryId;
  /** Device ids (ClientHello device_id, else the address) with a push connection now. */
  connectedDevices: () => ReadonlySet<string>;
  /** A terminal whose last sync is older than this is stale unless it is connected and current. */
  staleAfterMs: number;
  now?: () => number;
}

const STATUS_PAGE = 1000;

export class TerminalOverview {
  constructor(private readonly deps: TerminalOverviewDeps) {}

  async list(): Promise<TerminalView[]> {
    // Every kept device (the store caps them: SYNC_STATUS_MAX_DEVICES), a page at a time.
    const devices: DeviceSyncStatus[] = [];
    for (let after: string | undefined; ; ) {
      const page = await this.deps.status.list({ after, limit: STATUS_PAGE });
      devices.push(...page);
      if (page.length < STATUS_PAGE) break;
      after = page[page.length - 1]!.device;
    }
    const names = [...new Set(devices.flatMap((device) => device.groups.map((group) => group.groupName)))];
    const records = await Promise.all(names.map((name) => this.deps.store.getGroup(this.deps.library, name as GroupName)));
    const groups = new Map<string, GroupRecord | undefined>(names.map((name, i) => [name, records[i]]));
    const connected = this.deps.connectedDevices();
    const now = (this.deps.now ?? Date.now)();
    return devices.map((device) => this.view(device, groups, connected.has(device.device), now));
  }

  private view(device: DeviceSyncStatus, groups: Map<string, GroupRecord | undefined>, connected: boolean, now: number): TerminalView {
    const views = device.groups.map((group): TerminalGroupView => {
      const current = groups.get(group.groupName);
      const serverVersion = current ? current.version : null;
      return {
        groupName: group.groupName,
        deviceVersion: group.resultVersion,
        serverVersion,
        lag: serverVersion === null ? null : Math.max(0, serverVersion - group.resultVersion),
        resultCode: group.resultCode,
        facesAdded: group.faceTokensAdded,
        facesDeleted: group.faceTokensDeleted,
      };
    });
    const behind = views.some((group) => (group.lag ?? 0) > 0 || group.resultCode !== 0);
    const old = now - device.syncTime > this.deps.staleAfterMs;
    return {
      device: device.device,
      deviceId: device.deviceId,
      ip: device.ip,
      clientVersion: device.clientVersion,
      lastSync: device.syncTime,
      searchModel: device.searchModel,
      featureEncoding: device.featureEncoding ?? null,
      bytes: device.bytes ?? null,
      connected,
      // A connected, current terminal is fine however long ago it synced: nothing changed.
      stale: old && (!connected || behind),
      groups: views,
    };
  }
}
