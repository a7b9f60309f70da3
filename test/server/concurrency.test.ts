import { expect } from 'chai';
import { createOnnxEngine } from '../../models/index.js';
import type { FaceEngine } from '../../models/engine.js';
import { DEFAULT_LIBRARY, type GroupName } from '../../server/core/ids.js';
import type { ChangeRecord } from '../../storage/store.js';
import { FacePassClient } from '../helpers/facepass-client.js';
import { addSyntheticFaces } from '../helpers/synthetic-faces.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

describe('FacePass bind/unbind under concurrency', function () {
  let engine: FaceEngine;
  let ts: TestServer;

  before(async function () {
    engine = await createOnnxEngine({ intraOpThreads: 1 });
    ts = await startTestServer(engine);
  });

  after(async function () {
    await ts?.cleanup();
    await engine?.close();
  });

  it('500 parallel calls on one group end at 1 + effective changes with a complete, ordered log', async function () {
    const client = new FacePassClient(ts.url);
    const faces = await addSyntheticFaces(ts.server.store, 25, engine.searchModel);
    expect((await client.post('/api/group/v1/create', { group_name: 'busy_group' })).code).to.equal(0);

    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const calls = Array.from({ length: 500 }, () => ({
      op: random() < 0.55 ? 'bind' : 'unbind',
      face_token: faces[Math.floor(random() * faces.length)]!.faceToken,
    }));
    const results = await Promise.all(
      calls.map((call) => client.post(`/api/group/v1/${call.op}`, { group_name: 'busy_group', face_token: call.face_token })),
    );
    for (const res of results) expect([0, 104303]).to.include(res.code);
    const unbindsOk = results.filter((res, i) => calls[i]!.op === 'unbind' && res.code === 0).length;

    const group = (await ts.server.store.getGroup(DEFAULT_LIBRARY, 'busy_group' as GroupName))!;
    const log: ChangeRecord[] = await ts.server.store.readChanges(group.groupId, { afterVersion: 0, limit: 10_000 });
    expect(log.map((entry) => entry.version)).to.deep.equal(Array.from({ length: group.version }, (_, i) => i + 1));
    expect(log[0]!.op).to.equal('create');
    expect(log.filter((entry) => entry.op === 'unbind')).to.have.length(unbindsOk);

    // Replaying the log alternates bind/unbind per face and yields the final bindings.
    const bound = new Set<string>();
    for (const entry of log.slice(1)) {
      if (entry.op === 'bind') {
        expect(bound.has(entry.faceToken!), `double bind at v${entry.version}`).to.equal(false);
        bound.add(entry.faceToken!);
      } else {
        expect(entry.op).to.equal('unbind');
        expect(bound.delete(entry.faceToken!), `unbind of unbound at v${entry.version}`).to.equal(true);
      }
    }
    const query = await client.post<{ faces: string[] }>('/api/group/v1/query', { group_name: 'busy_group' });
    expect(query.data.faces.slice().sort()).to.deep.equal([...bound].sort());
    expect(group.faceCount).to.equal(bound.size);
    expect(group.version).to.equal(1 + log.length - 1);
  });
});
