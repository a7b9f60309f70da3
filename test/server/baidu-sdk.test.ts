// The official Baidu Node SDK (baidu-aip-sdk, unmodified) against this
// server: every request it makes, the token request included, is pointed at
// the test server by HttpClient.setRequestInterceptor; the Host header stays
// Baidu's.
import { expect } from 'chai';
import { createRequire } from 'node:module';
import { createOnnxEngine } from '../../models/index.js';
import type { FaceEngine } from '../../models/engine.js';
import { base64 } from '../helpers/baidu-client.js';
import { readPersonPhoto } from '../helpers/paths.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const sdk = require('baidu-aip-sdk') as { face: any; HttpClient: { setRequestInterceptor(fn: ((o: any) => any) | null): void } };

const API_KEY = 'sdkApiKey0123';
const SECRET_KEY = 'sdkSecretKey0123456';
const APPID = 'sdk_app';
const photo = (person: string, n: number) => base64(readPersonPhoto(person, n));

describe('Baidu dialect through the official Node SDK (baidu-aip-sdk)', function () {
  this.timeout(180_000);
  let engine: FaceEngine;
  let ts: TestServer;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let client: any;
  const hosts: string[] = [];

  const ok = (res: { error_code: number; error_msg: string; result: any }) => {
    expect(res.error_code, `${res.error_code} ${res.error_msg}`).to.equal(0);
    return res.result;
  };

  before(async function () {
    engine = await createOnnxEngine({ intraOpThreads: 2 });
    ts = await startTestServer(engine, { baiduCredentials: [{ apiKey: API_KEY, secretKey: SECRET_KEY, appid: APPID }] });
    sdk.HttpClient.setRequestInterceptor((options) => {
      // The token request carries no headers of its own; API calls set Host to Baidu's.
      if (options.headers?.Host !== undefined) hosts.push(String(options.headers.Host));
      // Generous: the machine is shared; the SDK's own default is 10 s.
      return { ...options, url: String(options.url).replace(/^https?:\/\/aip\.baidubce\.com/, ts.url), timeout: 120_000 };
    });
    client = new sdk.face('12345', API_KEY, SECRET_KEY);
  });

  after(async function () {
    sdk.HttpClient.setRequestInterceptor(null);
    await ts?.cleanup();
    await engine?.close();
  });

  it('gets a token, manages groups and users, detects, and survives a server restart', async function () {
    ok(await client.groupAdd('sdk_group'));
    expect((await client.groupAdd('sdk_group')).error_code).to.equal(223101);
    ok(await client.groupAdd('sdk_other'));
    expect(ok(await client.getGrouplist({ start: '0', length: '10' })).group_id_list).to.deep.equal(['sdk_group', 'sdk_other']);

    const added = ok(await client.addUser(photo('amy', 1), 'BASE64', 'sdk_group', 'amy', { user_info: 'Amy', quality_control: 'LOW' }));
    expect(added.face_token).to.be.a('string');
    expect(added.location.width).to.be.greaterThan(50);
    const second = ok(await client.addUser(photo('amy', 2), 'BASE64', 'sdk_group', 'amy'));
    ok(await client.addUser(photo('raj', 1), 'BASE64', 'sdk_group', 'raj', { user_info: 'Raj' }));

    expect(ok(await client.getUser('amy', 'sdk_group')).user_list).to.deep.equal([{ user_info: 'Amy', group_id: 'sdk_group' }]);
    const faces = ok(await client.faceGetlist('amy', 'sdk_group')).face_list;
    expect(faces.map((f: { face_token: string }) => f.face_token).sort()).to.deep.equal([added.face_token, second.face_token].sort());
    expect(ok(await client.getGroupUsers('sdk_group', { start: '0', length: '50' })).user_id_list).to.deep.equal(['amy', 'raj']);

    ok(await client.userCopy('raj', { src_group_id: 'sdk_group', dst_group_id: 'sdk_other' }));
    expect(ok(await client.getUser('raj', '@ALL')).user_list.map((u: { group_id: string }) => u.group_id)).to.deep.equal(['sdk_group', 'sdk_other']);
    expect((await client.userCopy('raj', { src_group_id: 'sdk_group', dst_group_id: 'sdk_none' })).error_code).to.equal(223111);

    const updated = ok(await client.updateUser(photo('raj', 2), 'BASE64', 'sdk_other', 'raj', { user_info: 'Rajesh' }));
    expect(ok(await client.faceGetlist('raj', 'sdk_other')).face_list.map((f: { face_token: string }) => f.face_token)).to.deep.equal([updated.face_token]);
    expect(ok(await client.getUser('raj', 'sdk_other')).user_list).to.deep.equal([{ user_info: 'Rajesh', group_id: 'sdk_other' }]);

    ok(await client.faceDelete('amy', 'sdk_group', second.face_token));
    expect((await client.faceDelete('amy', 'sdk_group', second.face_token)).error_code).to.equal(223106);
    ok(await client.deleteUser('sdk_other', 'raj'));
    expect((await client.deleteUser('sdk_other', 'raj')).error_code).to.equal(223103);

    const detected = ok(await client.detect(photo('penny', 1), 'BASE64', { face_field: 'age,gender,emotion,expression,eye_status,landmark,quality,beauty', max_face_num: '2' }));
    expect(detected.face_num).to.equal(1);
    const face = detected.face_list[0];
    expect(face).to.include.keys('face_token', 'location', 'face_probability', 'angle', 'age', 'gender', 'emotion', 'expression', 'eye_status', 'landmark', 'quality');
    expect(face).to.not.have.property('beauty');
    expect(face.age).to.be.within(5, 90);
    expect(face.landmark).to.have.length(4);
    expect(face.face_probability).to.be.within(0.5, 1);
    // detect by FACE_TOKEN: the same face again.
    const again = ok(await client.detect(face.face_token, 'FACE_TOKEN'));
    expect(again.face_list[0].face_token).to.equal(face.face_token);

    // The token survives a restart: the SDK keeps using the one it got.
    await ts.restart();
    expect(ok(await client.getGroupUsers('sdk_group')).user_id_list).to.deep.equal(['amy', 'raj']);

    ok(await client.groupDelete('sdk_other'));
    expect((await client.groupDelete('sdk_other')).error_code).to.equal(223100);
    // Everything went to the token's appid.
    expect(ts.server.store).to.exist;
    expect((await ts.server.store.listGroups(APPID as never)).map((g) => g.name)).to.deep.equal(['sdk_group']);
    expect(hosts.length).to.be.greaterThan(10);
    expect(new Set(hosts)).to.deep.equal(new Set(['aip.baidubce.com']));
  });

  it('checks liveness through faceverify', async function () {
    const result = ok(
      await client.faceverify([
        { image: photo('sheldon', 1), image_type: 'BASE64', face_field: 'age' },
        { image: photo('sheldon', 2), image_type: 'BASE64' },
      ]),
    );
    expect(result.face_list).to.have.length(2);
    const scores = result.face_list.map((f: { liveness: { livemapscore: number } }) => f.liveness.livemapscore);
    expect(result.face_liveness).to.equal(Math.max(...scores));
    expect(result.thresholds).to.deep.equal({ 'frr_1e-4': 0.05, 'frr_1e-3': 0.3, 'frr_1e-2': 0.9 });
    expect(result.face_list[0]).to.have.property('age');
  });

  it('with bad credentials the SDK gets Baidu\'s refusal and its calls carry no valid token', async function () {
    const wrong = new sdk.face('12345', API_KEY, 'not-the-secret');
    const res = await wrong.getGrouplist();
    expect(res.error_code).to.be.oneOf([100, 110]);
    expect(res.result).to.equal(null);
  });
});
