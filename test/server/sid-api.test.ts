import { expect } from 'chai';
import { createOnnxEngine } from '../../models/index.js';
import type { FaceEngine } from '../../models/engine.js';
import { TerminalClient, TerminalGallery } from '../../device-protocol/index.js';
import { decodeFeature, encodeFeature } from '../../server/sid/feature-code.js';
import { BaiduClient, base64 } from '../helpers/baidu-client.js';
import { readPersonPhoto, readScene } from '../helpers/paths.js';
import { SidClient, type SidAnswer } from '../helpers/sid-client.js';
import { startTestServer, TEST_DEVICE_KEY, type TestServer } from '../helpers/test-server.js';

const photo = (person: string, n: number) => base64(readPersonPhoto(person, n));
const APP_ID = 'system';
const APP_SECRET = '12345';

describe('SID vendor API', function () {
  this.timeout(240_000);
  let engine: FaceEngine;
  let ts: TestServer;
  let sid: SidClient;
  let baidu: BaiduClient;

  const ok = (res: SidAnswer): SidAnswer => {
    expect(res.status).to.equal(200);
    expect(res.result, `${res.result} ${res.info}`).to.equal(0);
    return res;
  };
  const fails = (res: SidAnswer, result: number, info?: string) => {
    expect(res.status).to.equal(200);
    expect(res.result, res.info).to.equal(result);
    expect(res.info).to.match(/错误,错误信息\[.+\]$/);
    if (info !== undefined) expect(res.info).to.equal(info);
  };

  before(async function () {
    engine = await createOnnxEngine({ intraOpThreads: 2 });
    ts = await startTestServer(engine, {
      sidCredentials: [
        { appId: APP_ID, appSecret: APP_SECRET, appid: 'default' },
        { appId: 'other', appSecret: 'other-secret', appid: 'sid_app' },
      ],
      sidDefaultGroup: 'sid_default',
    });
    sid = new SidClient(ts.url, APP_ID, APP_SECRET);
    baidu = new BaiduClient(ts.url);
  });

  after(async function () {
    await ts?.cleanup();
    await engine?.close();
  });

  describe('credentials', function () {
    it('refuses a missing, unknown or wrong app_id / app_secret on every path, and does nothing', async function () {
      const paths = ['/staticdb/search/compare', '/staticdb/search/multiple', '/liveness/action', '/staticdb/search/feature', '/face/get', '/face/remove', '/face/updatefeature', '/face/add'];
      const body = { groupId: 'cred_group', userId: 'amy', img: photo('amy', 1), topN: 1, param: photo('amy', 1), imageA: photo('amy', 1), imageB: photo('amy', 2) };
      for (const path of paths) {
        for (const credentials of [{ app_id: APP_ID, app_secret: 'wrong' }, { app_id: 'nobody', app_secret: APP_SECRET }, { app_id: APP_ID }, {}]) {
          const res = await sid.raw(path, JSON.stringify({ ...body, ...credentials }));
          fails(res, 20010003);
          expect(res).to.have.all.keys('status', 'info', 'result');
        }
      }
      // The refused add did not enrol anyone.
      fails(await sid.call('/face/get', { groupId: 'cred_group', userId: 'amy' }), 20010009);
    });

    it('maps each app_id to its face library (appid)', async function () {
      const other = new SidClient(ts.url, 'other', 'other-secret');
      ok(await other.call('/face/add', { groupId: 'apps', userId: 'raj', img: photo('raj', 1) }));
      ok(await other.call('/face/get', { groupId: 'apps', userId: 'raj' }));
      fails(await sid.call('/face/get', { groupId: 'apps', userId: 'raj' }), 20010009);
      const inApp = await baidu.call('/face-api/v3/user/get', { user_id: 'raj', group_id: 'apps' }, 'sid_app');
      expect(inApp.error_code).to.equal(0);
      expect((await baidu.call('/face-api/v3/user/get', { user_id: 'raj', group_id: 'apps' }, 'default')).error_code).to.not.equal(0);
    });

    it('answers a body that is not JSON, or bad base64, in its own format', async function () {
      fails(await sid.raw('/face/get', '{not json'), 20010007);
      fails(await sid.call('/staticdb/search/feature', { img: '***' }), 20010002);
      fails(await sid.call('/staticdb/search/feature', {}), 20010001);
      fails(await sid.call('/staticdb/search/feature', { img: base64(Buffer.from('not an image at all')) }), 20010004);
      const get = await fetch(`${ts.url}/face/get`);
      expect(get.status).to.equal(405);
      expect(get.headers.get('allow')).to.equal('POST');
      expect(await get.json()).to.deep.equal({ info: '查询人脸错误,错误信息[method GET not allowed, use POST]', result: 20010002 });
    });
  });

  describe('/staticdb/search/compare', function () {
    it('scores the same person above 0.7 and different people below, 0-1, with both field spellings', async function () {
      const same = ok(await sid.call('/staticdb/search/compare', { imageA: photo('amy', 1), imageB: photo('amy', 2) }));
      expect(same).to.have.all.keys('status', 'info', 'result', 'score');
      expect(same.info).to.equal('success');
      expect(same.score).to.be.within(0.7, 1);
      const sameImg = ok(await sid.call('/staticdb/search/compare', { imgA: photo('amy', 1), imgB: photo('amy', 2) }));
      expect(sameImg.score).to.be.closeTo(same.score, 1e-6);
      const other = ok(await sid.call('/staticdb/search/compare', { imgA: photo('amy', 1), imageB: photo('raj', 1) }));
      expect(other.score).to.be.within(0, 0.7);
    });

    it('gives the same score from features as from the images', async function () {
      const a = ok(await sid.call('/staticdb/search/feature', { img: photo('penny', 1) }));
      const b = ok(await sid.call('/staticdb/search/feature', { img: photo('penny', 3) }));
      const byImage = ok(await sid.call('/staticdb/search/compare', { imgA: photo('penny', 1), imgB: photo('penny', 3) }));
      const byFeature = ok(await sid.call('/staticdb/search/compare', { featureA: a.feature, featureB: b.feature }));
      expect(byFeature.score).to.be.closeTo(byImage.score, 1e-6);
      const mixed = ok(await sid.call('/staticdb/search/compare', { imageA: photo('penny', 1), featureB: b.feature }));
      expect(mixed.score).to.be.closeTo(byImage.score, 1e-6);
    });

    it('refuses a feature of another model, a malformed feature, a missing side and a photo without a face', async function () {
      const a = ok(await sid.call('/staticdb/search/feature', { img: photo('sheldon', 1) }));
      const values = decodeFeature('feature', a.feature, engine.searchModel, engine.featureLength);
      const foreign = encodeFeature('another-model-0000', values);
      fails(await sid.call('/staticdb/search/compare', { featureA: a.feature, featureB: foreign }), 20010006);
      fails(await sid.call('/staticdb/search/compare', { featureA: a.feature, featureB: base64(Buffer.from('SIDF garbage')) }), 20010006);
      fails(await sid.call('/staticdb/search/compare', { featureA: a.feature }), 20010001);
      fails(await sid.call('/staticdb/search/compare', { imgA: photo('sheldon', 1), imgB: base64(readScene('blank-white.png')) }), 20010005);
    });
  });

  describe('/staticdb/search/feature', function () {
    it('returns the feature (with its model) and the positional qualityScores, empty where nothing is computed', async function () {
      const res = ok(await sid.call('/staticdb/search/feature', { img: photo('leonard', 1), groupId: 'ignored' }));
      expect(res).to.have.all.keys('status', 'info', 'result', 'feature', 'qualityScores');
      const feature = decodeFeature('feature', res.feature, engine.searchModel, engine.featureLength);
      expect(feature).to.have.length(engine.featureLength);
      const norm = Math.hypot(...feature);
      expect(norm).to.be.closeTo(1, 1e-3);

      const positions = (res.qualityScores as string).split(',');
      expect(positions).to.have.length(31);
      for (const empty of [2, 3, 5, 8, 9, 12, 15, 26, 27, 28, 29, 30]) expect(positions[empty], `[${empty}]`).to.equal('');
      const n = (i: number) => {
        expect(positions[i], `[${i}]`).to.match(/^-?\d+\.\d{4}$/);
        return Number(positions[i]);
      };
      for (const unit of [0, 1, 4, 6, 7, 14, 23, 24, 25]) expect(n(unit), `[${unit}]`).to.be.within(0, 1);
      expect(n(10)).to.be.within(1, 100); // age
      expect([1, 2]).to.include(n(11)); // gender
      expect([1, 2, 4]).to.include(n(13)); // age band
      for (const angle of [16, 17, 18]) expect(n(angle)).to.be.within(-90, 90);
      // The box lies in the 150x150 photo.
      expect(n(19)).to.be.within(-20, 150);
      expect(n(20)).to.be.within(-20, 150);
      expect(n(21)).to.be.within(20, 200);
      expect(n(22)).to.be.within(20, 200);
      expect(n(7)).to.be.greaterThan(0.5); // detector confidence on a clear face
    });
  });

  describe('face records', function () {
    it('adds, gets, updates and removes a user, with 20010009 for a missing one', async function () {
      const added = ok(await sid.call('/face/add', { groupId: 'xyb01', userId: 'testface', img: photo('howard', 1) }));
      expect(added).to.deep.equal({ status: 200, info: 'success', result: 0, userId: 'testface' });
      const got = ok(await sid.call('/face/get', { groupId: 'xyb01', userId: 'testface' }));
      expect(got).to.have.all.keys('status', 'info', 'result', 'groupId', 'userId', 'qualityScore');
      expect(got).to.include({ groupId: 'xyb01', userId: 'testface' });
      expect((got.qualityScore as string).split(',')).to.have.length(31);
      expect(Number((got.qualityScore as string).split(',')[11])).to.be.oneOf([1, 2]);

      fails(await sid.call('/face/get', { groupId: 'xyb01', userId: 'nobody' }), 20010009, '查询人脸错误,错误信息[record not found]');
      fails(await sid.call('/face/get', { groupId: 'no_such_group', userId: 'testface' }), 20010009);
      fails(await sid.call('/face/updatefeature', { groupId: 'xyb01', userId: 'nobody', img: photo('howard', 2) }), 20010009);
      fails(await sid.call('/face/get', { groupId: 'xyb01' }), 20010001);

      // updatefeature replaces the user's faces with the new one.
      ok(await sid.call('/face/add', { groupId: 'xyb01', userId: 'testface', img: photo('howard', 2) }));
      const before = await baidu.call<{ face_list: Array<{ face_token: string }> }>('/face-api/v3/face/list', { user_id: 'testface', group_id: 'xyb01' });
      expect(before.result.face_list).to.have.length(2);
      const updated = ok(await sid.call('/face/updatefeature', { groupId: 'xyb01', userId: 'testface', img: photo('howard', 3) }));
      expect(updated).to.deep.equal({ status: 200, info: 'success', result: 0 });
      const after = await baidu.call<{ face_list: Array<{ face_token: string }> }>('/face-api/v3/face/list', { user_id: 'testface', group_id: 'xyb01' });
      expect(after.result.face_list).to.have.length(1);
      expect(before.result.face_list.map((f) => f.face_token)).to.not.include(after.result.face_list[0]!.face_token);

      ok(await sid.call('/face/remove', { groupId: 'xyb01', userId: 'testface' }));
      fails(await sid.call('/face/get', { groupId: 'xyb01', userId: 'testface' }), 20010009);
      fails(await sid.call('/face/remove', { groupId: 'xyb01', userId: 'testface' }), 20010009, '删除人脸错误,错误信息[record not found]');
      fails(await sid.call('/face/add', { groupId: 'xyb01', userId: 'testface', img: base64(readScene('blank-white.png')) }), 20010005);
    });

    it('uses the configured default group when groupId is absent', async function () {
      ok(await sid.call('/face/add', { userId: 'stuart', img: photo('stuart', 1) }));
      ok(await sid.call('/face/get', { groupId: 'sid_default', userId: 'stuart' }));
      ok(await sid.call('/face/get', { userId: 'stuart' }));
      ok(await sid.call('/face/remove', { userId: 'stuart' }));
      fails(await sid.call('/face/get', { groupId: 'sid_default', userId: 'stuart' }), 20010009);
    });

    it('a user added here appears in a terminal\'s synced gallery, and leaves it when removed', async function () {
      ok(await sid.call('/face/add', { groupId: 'door_sid', userId: 'bernadette', img: photo('bernadette', 1) }));
      ok(await sid.call('/face/add', { groupId: 'door_sid', userId: 'raj', img: photo('raj', 2) }));
      const gallery = new TerminalGallery({ groups: ['door_sid'] });
      const terminal = new TerminalClient({ baseUrl: ts.url, key: TEST_DEVICE_KEY, deviceId: 'sid-door', groups: ['door_sid'], gallery });
      try {
        await terminal.syncOnce();
        const users = () => [...gallery.group('door_sid')!.faces.values()].map((f) => f.userId).sort();
        expect(users()).to.deep.equal(['bernadette', 'raj']);
        ok(await sid.call('/face/remove', { groupId: 'door_sid', userId: 'raj' }));
        await terminal.syncOnce();
        expect(users()).to.deep.equal(['bernadette']);
      } finally {
        await terminal.close();
      }
    });
  });

  describe('/staticdb/search/multiple', function () {
    before(async function () {
      for (const [person, n] of [['amy', 1], ['bernadette', 1], ['howard', 1], ['leonard', 1], ['penny', 1], ['sheldon', 1]] as const) {
        ok(await sid.call('/face/add', { groupId: 'lobby', userId: person, img: photo(person, n) }));
      }
      // Two faces of one user: still one entry.
      ok(await sid.call('/face/add', { groupId: 'lobby', userId: 'amy', img: photo('amy', 3) }));
      ok(await sid.call('/face/add', { groupId: 'annex', userId: 'raj', img: photo('raj', 1) }));
    });

    it('returns the topN users of the group, best first, each once', async function () {
      const res = ok(await sid.call('/staticdb/search/multiple', { groupId: 'lobby', topN: 3, img: photo('amy', 2) }));
      expect(res).to.have.all.keys('status', 'info', 'result', 'faces');
      expect(res.faces).to.have.length(3);
      expect(res.faces[0]).to.have.all.keys('groupId', 'score', 'userId');
      expect(res.faces[0]).to.include({ groupId: 'lobby', userId: 'amy' });
      expect(res.faces[0].score).to.be.within(0.7, 1);
      const scores = (res.faces as Array<{ score: number }>).map((f) => f.score);
      expect(scores).to.deep.equal([...scores].sort((a, b) => b - a));
      expect(new Set((res.faces as Array<{ userId: string }>).map((f) => f.userId)).size).to.equal(3);
      // The top score is the 1:1 score of the best face of that user.
      const best = Math.max(
        ok(await sid.call('/staticdb/search/compare', { imgA: photo('amy', 2), imgB: photo('amy', 1) })).score,
        ok(await sid.call('/staticdb/search/compare', { imgA: photo('amy', 2), imgB: photo('amy', 3) })).score,
      );
      expect(res.faces[0].score).to.be.closeTo(best, 1e-6);
    });

    it('searches every group of the app without groupId, and answers errors in its format', async function () {
      const res = ok(await sid.call('/staticdb/search/multiple', { groupId: '', topN: 1, img: photo('raj', 3) }));
      expect(res.faces).to.deep.equal([{ groupId: 'annex', score: res.faces[0].score, userId: 'raj' }]);
      const all = ok(await sid.call('/staticdb/search/multiple', { topN: 50, img: photo('raj', 3) }));
      expect(all.faces.length).to.be.greaterThan(6);
      fails(await sid.call('/staticdb/search/multiple', { groupId: 'lobby', img: photo('raj', 3) }), 20010001);
      fails(await sid.call('/staticdb/search/multiple', { groupId: 'lobby', topN: 0, img: photo('raj', 3) }), 20010002);
      fails(await sid.call('/staticdb/search/multiple', { groupId: 'no_such_group', topN: 1, img: photo('raj', 3) }), 20010009);
    });
  });

  describe('/liveness/action', function () {
    it('answers extInfo 1 exactly when the liveness score reaches the threshold, the time taken in info', async function () {
      for (const image of [photo('amy', 1), photo('sheldon', 2), base64(readScene('happy.jpg'))]) {
        const res = ok(await sid.call('/liveness/action', { param: image }));
        expect(res).to.have.all.keys('status', 'info', 'result', 'extInfo');
        const baiduScore = await baidu.call<{ face_liveness: number }>('/face-api/v3/face/liveness', [{ image, image_type: 'BASE64' }]);
        expect(res.extInfo).to.equal(baiduScore.result.face_liveness >= 0.3 ? 1 : 2);
        expect(res.info).to.match(new RegExp(`^动作活体检测耗时:\\d+ 攻击类型:${res.extInfo}$`));
      }
    });

    it('answers extInfo 0 for a photo without a face', async function () {
      const res = ok(await sid.call('/liveness/action', { param: base64(readScene('blank-white.png')) }));
      expect(res.extInfo).to.equal(0);
      fails(await sid.call('/liveness/action', {}), 20010001);
    });
  });
});
