import { expect } from 'chai';
import { createRequire } from 'node:module';
import { createOnnxEngine } from '../../models/index.js';
import type { FaceEngine } from '../../models/engine.js';
import { BaiduClient, base64, fails, ok } from '../helpers/baidu-client.js';
import { PEOPLE, readPersonPhoto } from '../helpers/paths.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const sdk = require('baidu-aip-sdk') as { face: any; HttpClient: { setRequestInterceptor(fn: ((o: any) => any) | null): void } };

const photo = (person: string, n: number) => base64(readPersonPhoto(person, n));

describe('Baidu dialect: match', function () {
  this.timeout(300_000);
  let engine: FaceEngine;
  let ts: TestServer;
  let baidu: BaiduClient;


  before(async function () {
    engine = await createOnnxEngine({ intraOpThreads: 2 });
    ts = await startTestServer(engine, { baiduCredentials: [{ apiKey: 'matchKey', secretKey: 'matchSecret', appid: 'default' }] });
    baidu = new BaiduClient(ts.url);
  });

  after(async function () {
    sdk.HttpClient.setRequestInterceptor(null);
    await ts?.cleanup();
    await engine?.close();
  });

  it('scores the same person above different people, on the 0-100 scale', async function () {
    const pair = (a: [string, number], b: [string, number]) =>
      baidu.call<any>('/face-api/v3/face/match', [
        { image: photo(...a), image_type: 'BASE64' },
        { image: photo(...b), image_type: 'BASE64', face_type: 'LIVE' },
      ]);
    let minSame = 100;
    let maxDifferent = 0;
    for (const [i, person] of PEOPLE.entries()) {
      const same = ok(await pair([person, 1], [person, 4]));
      expect(same.face_list).to.have.length(2);
      expect(same.face_list[0].face_token).to.be.a('string');
      minSame = Math.min(minSame, same.score);
      const other = PEOPLE[(i + 1) % PEOPLE.length]!;
      maxDifferent = Math.max(maxDifferent, ok(await pair([person, 1], [other, 4])).score);
    }
    expect(minSame).to.be.greaterThan(maxDifferent);
    expect(minSame).to.be.within(0, 100);
    expect(maxDifferent).to.be.within(0, 100);
  });

  it('applies each image\'s controls and refuses a body that is not two image objects', async function () {
    fails(await baidu.call('/face-api/v3/face/match', [{ image: photo('amy', 1), image_type: 'BASE64' }]), 222208);
    fails(await baidu.call('/face-api/v3/face/match', { image: photo('amy', 1), image_type: 'BASE64' }), 222200);
    fails(
      await baidu.call('/face-api/v3/face/match', [
        { image: photo('amy', 1), image_type: 'BASE64', quality_control: 'HIGH' },
        { image: photo('amy', 2), image_type: 'BASE64' },
      ]),
      223116,
    );
    fails(
      await baidu.call('/face-api/v3/face/match', [
        { image: photo('amy', 1), image_type: 'BASE64' },
        { image: 'AAAAAAAAAAAAAAAAAAAAAAAA', image_type: 'FACE_TOKEN' },
      ]),
      222209,
    );
  });

  it('works through the official Node SDK on the cloud path, FACE_TOKEN included', async function () {
    sdk.HttpClient.setRequestInterceptor((options) => ({ ...options, url: String(options.url).replace(/^https?:\/\/aip\.baidubce\.com/, ts.url), timeout: 120_000 }));
    const client = new sdk.face('1', 'matchKey', 'matchSecret');
    const detected = ok(await client.detect(photo('howard', 2), 'BASE64'));
    const token = detected.face_list[0].face_token;
    const same = ok(await client.match([
      { image: photo('howard', 5), image_type: 'BASE64' },
      { image: token, image_type: 'FACE_TOKEN' },
    ]));
    expect(same.face_list[1].face_token).to.equal(token);
    const different = ok(await client.match([
      { image: photo('amy', 5), image_type: 'BASE64' },
      { image: token, image_type: 'FACE_TOKEN' },
    ]));
    expect(same.score).to.be.greaterThan(different.score);
    expect(same.score).to.be.greaterThan(70);
  });
});
