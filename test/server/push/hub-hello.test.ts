// PushHub against a scripted store: a commit that lands between the hub's
// subscription for a new terminal and its read of the group versions (the
// window the hello's "subscribe first, then read" ordering exists for). What
// the ServerHello already reports must not come again as a notice; what is
// newer must. Ordered by the fake store's promises, not by timing.
import { expect } from 'chai';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket } from 'ws';
import { decodePushFrame, encodePushFrame, PushFrameType, PUSH_PATH, type PushMessage } from '../../../device-protocol/index.js';
import type { GroupId, GroupName } from '../../../server/core/ids.js';
import { DEFAULT_LIBRARY } from '../../../server/core/ids.js';
import { PushHub, type PushHubDeps } from '../../../server/push/index.js';
import type { CommittedChange, GroupRecord } from '../../../storage/store.js';

const GROUP = 'door' as GroupName;
const GROUP_ID = 7 as GroupId;

function record(version: number): GroupRecord {
  return {
    groupId: GROUP_ID, library: DEFAULT_LIBRARY, name: GROUP, version, createdAt: 0, updatedAt: 0,
    faceCount: 0, userCount: 0, tokenDigest: '0000000000000000', deletedAt: null,
  };
}

const committed = (version: number): CommittedChange => ({
  group: record(version),
  change: { groupId: GROUP_ID, version, op: 'bind', at: Date.now() },
});

/** A store whose getGroup() first delivers the commits `during` returns, then answers `version`. */
function scriptedStore(version: number, during: () => number[]): PushHubDeps['store'] {
  const listeners = new Set<(c: CommittedChange) => void>();
  return {
    onCommit(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    async getGroup() {
      for (const v of during()) for (const l of listeners) l(committed(v));
      return record(version);
    },
  };
}

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const allowAll: PushHubDeps['auth'] = { allows: () => true, identify: () => null, mayActAs: () => true };

async function startHub(store: PushHubDeps['store']): Promise<{ hub: PushHub; http: Server; url: string }> {
  const hub = new PushHub({ auth: allowAll, store, searchModel: 'test-model', logger: silent }, { heartbeatMs: 0 });
  const http = createServer();
  http.on('upgrade', (req, socket, head) => hub.handleUpgrade(req, socket, head));
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  return { hub, http, url: `ws://127.0.0.1:${(http.address() as AddressInfo).port}${PUSH_PATH}` };
}

/** Connects, sends a ClientHello for GROUP, and collects what arrives for `ms` after the ServerHello. */
async function helloAndListen(url: string, ms: number): Promise<PushMessage[]> {
  const ws = new WebSocket(url);
  const messages: PushMessage[] = [];
  ws.on('message', (data: Buffer) => messages.push(decodePushFrame(data)!));
  await once(ws, 'open');
  ws.send(encodePushFrame({
    type: PushFrameType.ClientHello,
    hello: { protocolVersion: 1, deviceId: 'hello-race', groups: [{ groupName: GROUP, groupId: 0, version: 0 }] },
  }));
  while (messages.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  await new Promise((resolve) => setTimeout(resolve, ms));
  ws.terminate();
  return messages;
}

describe('PushHub hello', function () {
  it('does not notify what the ServerHello already reports, from a commit between subscription and read', async function () {
    const { hub, http, url } = await startHub(scriptedStore(5, () => [5]));
    try {
      const messages = await helloAndListen(url, 100);
      expect(messages.map((m) => m.type)).to.deep.equal([PushFrameType.ServerHello]);
      expect(messages[0]!.type === PushFrameType.ServerHello && messages[0]!.hello.groups).to.deep.equal([
        { groupName: GROUP, groupId: GROUP_ID, version: 5 },
      ]);
      expect(hub.stats().pendingNotices).to.equal(0);
    } finally {
      await hub.close();
      http.close();
    }
  });

  it('notifies a newer version than the ServerHello reports, right after it', async function () {
    const { hub, http, url } = await startHub(scriptedStore(5, () => [5, 6]));
    try {
      const messages = await helloAndListen(url, 100);
      expect(messages.map((m) => m.type)).to.deep.equal([PushFrameType.ServerHello, PushFrameType.Notice]);
      expect(messages[1]!.type === PushFrameType.Notice && messages[1]!.groups).to.deep.equal([
        { groupName: GROUP, groupId: GROUP_ID, version: 6 },
      ]);
    } finally {
      await hub.close();
      http.close();
    }
  });
});
