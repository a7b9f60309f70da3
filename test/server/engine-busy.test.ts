// The FacePass answer when the face engine cannot take more work, and a
// photo whose client is gone: the server answers at once and stays up.
import { expect } from 'chai';
import { createPooledEngine, type PooledFaceEngine } from '../../models/index.js';
import { FacePassClient } from '../helpers/facepass-client.js';
import { enrollablePhoto } from '../helpers/photos.js';
import { startTestServer, TEST_ADMIN_KEY, type TestServer } from '../helpers/test-server.js';

describe('FacePass under engine back-pressure', function () {
  this.timeout(180_000);
  let engine: PooledFaceEngine;
  let ts: TestServer;

  before(async () => {
    // One worker and a queue of one: the third photo at once finds it full.
    engine = await createPooledEngine({ workers: 1, intraOpThreads: 1, maxQueue: 1 });
    ts = await startTestServer(engine);
  });
  after(async () => {
    await ts?.cleanup();
    await engine?.close();
  });

  it('answers 503 SERVER_BUSY (105001) with Retry-After when the queue is full, and enrols the others', async () => {
    const client = new FacePassClient(ts.url);
    const photo = await enrollablePhoto('amy', 2);
    const answers = await Promise.all(Array.from({ length: 6 }, () => client.addFace(photo)));
    const busy = answers.filter((a) => a.code === 105001);
    expect(busy.length).to.be.at.least(1);
    for (const a of busy) {
      expect(a.status).to.equal(503);
      expect(a.message).to.equal('SERVER_BUSY');
    }
    expect(answers.filter((a) => a.code === 0).length).to.be.at.least(1);
    // The header, on one more refused call while the queue is full again.
    const again = await Promise.all(Array.from({ length: 4 }, () => fetch(`${ts.url}/api/face/v1/add`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` },
      body: (() => { const f = new FormData(); f.append('image', new Blob([photo], { type: 'image/png' }), 'a.png'); return f; })(),
    })));
    const refused = again.filter((r) => r.status === 503);
    expect(refused.length).to.be.at.least(1);
    expect(refused[0]!.headers.get('retry-after')).to.equal('1');
    await Promise.all(again.map((r) => r.arrayBuffer()));
  });

  it('keeps serving trivial requests while photos are analysed', async () => {
    const photo = await enrollablePhoto('raj', 4);
    const client = new FacePassClient(ts.url);
    const enrolling = Promise.all(Array.from({ length: 2 }, () => client.addFace(photo)));
    const version = await client.get('/api/version/v1');
    expect(version.code).to.equal(0);
    await enrolling;
  });
});
