import { expect } from 'chai';
import { createRequire } from 'node:module';
import { createOnnxEngine } from '../../models/index.js';
import type { FaceEngine } from '../../models/engine.js';
import { BaiduClient, base64, fails, ok } from '../helpers/baidu-client.js';
import { PEOPLE, readPersonPhoto, readScene } from '../helpers/paths.js';
import { startTestServer, TEST_ADMIN_KEY, type TestServer } from '../helpers/test-server.js';

const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const sdk = require('baidu-aip-sdk') as { face: any; HttpClient: { setRequestInterceptor(fn: ((o: any) => any) | null): void } };

const photo = (person: string, n: number) => base64(readPersonPhoto(person, n));
const ENROLLED = [1, 2];
const HELD_OUT = [3, 4, 5];

/** Who stands where in the group photos (a point inside each face; null: a stranger). */
const SCENES: Record<string, Array<[x: number, y: number, person: string | null]>> = {
  'bbt1.jpg': [[260, 191, 'raj'], [519, 215, 'leonard'], [777, 195, 'howard'], [1048, 140, 'sheldon']],
  'bbt2.jpg': [[27, 125, null], [136, 172, 'leonard'], [421, 172, 'sheldon']],
  'bbt3.jpg': [[62, 61, 'sheldon'], [180, 119, 'howard'], [282, 128, 'penny'], [393, 138, 'raj'], [520, 130, 'leonard']],
  'bbt4.jpg': [[103, 319, 'leonard'], [126, 77, 'amy'], [280, 97, 'raj'], [299, 283, 'penny'], [512, 231, 'sheldon'], [621, 116, 'bernadette']],
  'bbt5.jpg': [[151, 215, 'raj'], [258, 85, 'penny'], [480, 202, 'sheldon'], [617, 97, 'leonard'], [759, 155, 'howard']],
};

describe('Baidu dialect: match, identify, M:N', function () {
  this.timeout(600_000);
  let engine: FaceEngine;
  let ts: TestServer;
  let baidu: BaiduClient;


  before(async function () {
    engine = await createOnnxEngine({ intraOpThreads: 2 });
    ts = await startTestServer(engine, { baiduCredentials: [{ apiKey: 'searchKey', secretKey: 'searchSecret', appid: 'default' }] });
    baidu = new BaiduClient(ts.url);
    for (const person of PEOPLE) {
      for (const n of ENROLLED) {
        ok(await baidu.call('/face-api/v3/face/add', { image: photo(person, n), image_type: 'BASE64', group_id: 'cast', user_id: person, user_info: `the ${person}` }));
      }
    }
    ok(await baidu.call('/face-api/v3/face/add', { image: photo('penny', 1), image_type: 'BASE64', group_id: 'neighbours', user_id: 'penny' }));
  });

  after(async function () {
    sdk.HttpClient.setRequestInterceptor(null);
    await ts?.cleanup();
    await engine?.close();
  });

  it('identifies every held-out photo as its person at rank 1', async function () {
    let right = 0;
    for (const person of PEOPLE) {
      for (const n of HELD_OUT) {
        const result = ok(await baidu.call<any>('/face-api/v3/face/identify', { image: photo(person, n), image_type: 'BASE64', group_id_list: 'cast', max_user_num: 3 }));
        expect(result.face_token).to.be.a('string');
        expect(result.user_list.length).to.be.within(1, 3);
        const [best] = result.user_list;
        expect(best).to.have.all.keys('group_id', 'user_id', 'user_info', 'score');
        if (best.user_id === person) right++;
        expect(best.user_info).to.equal(`the ${best.user_id}`);
        const scores = result.user_list.map((u: any) => u.score);
        expect(scores).to.deep.equal([...scores].sort((a: number, b: number) => b - a));
        // One entry per user, not per face.
        expect(new Set(result.user_list.map((u: any) => u.user_id)).size).to.equal(result.user_list.length);
      }
    }
    expect(right).to.equal(PEOPLE.length * HELD_OUT.length);
  });

  it('authenticates against one user_id, honours match_threshold, and searches several groups', async function () {
    const mine = ok(await baidu.call<any>('/face-api/v3/face/identify', { image: photo('raj', 3), image_type: 'BASE64', group_id_list: 'cast', user_id: 'raj' }));
    expect(mine.user_list.map((u: any) => u.user_id)).to.deep.equal(['raj']);
    expect(mine.user_list[0].score).to.be.greaterThan(70);
    const other = ok(await baidu.call<any>('/face-api/v3/face/identify', { image: photo('raj', 3), image_type: 'BASE64', group_id_list: 'cast', user_id: 'penny' }));
    expect(other.user_list[0].score).to.be.lessThan(70);
    fails(await baidu.call('/face-api/v3/face/identify', { image: photo('raj', 3), image_type: 'BASE64', group_id_list: 'cast', user_id: 'penny', match_threshold: 80 }), 222207);
    const both = ok(await baidu.call<any>('/face-api/v3/face/identify', { image: photo('penny', 3), image_type: 'BASE64', group_id_list: 'cast,neighbours', max_user_num: 2 }));
    expect(both.user_list.map((u: any) => [u.group_id, u.user_id]).sort()).to.deep.equal([['cast', 'penny'], ['neighbours', 'penny']]);
    fails(await baidu.call('/face-api/v3/face/identify', { image: photo('penny', 3), image_type: 'BASE64', group_id_list: 'cast,nowhere' }), 223100);
    fails(await baidu.call('/face-api/v3/face/identify', { image: photo('penny', 3), image_type: 'BASE64', group_id_list: Array.from({ length: 11 }, (_, i) => `g${i}`).join(',') }), 222005);
    fails(await baidu.call('/face-api/v3/face/identify', { image: photo('penny', 3), image_type: 'BASE64', group_id_list: 'cast', max_user_num: 51 }), 222021);
    fails(await baidu.call('/face-api/v3/face/identify', { image: photo('penny', 3), image_type: 'BASE64', group_id_list: 'cast', match_threshold: 101 }), 222030);
    fails(await baidu.call('/face-api/v3/face/identify', { image: photo('penny', 3), image_type: 'BASE64' }), 222001);
  });

  it('sees an enrolment, a face delete and a user delete right away', async function () {
    ok(await baidu.call('/face-api/v3/face/add', { image: photo('stuart', 3), image_type: 'BASE64', group_id: 'fresh', user_id: 'stuart' }));
    const found = ok(await baidu.call<any>('/face-api/v3/face/identify', { image: photo('stuart', 4), image_type: 'BASE64', group_id_list: 'fresh' }));
    expect(found.user_list[0].user_id).to.equal('stuart');
    ok(await baidu.call('/face-api/v3/user/delete', { group_id: 'fresh', user_id: 'stuart' }));
    fails(await baidu.call('/face-api/v3/face/identify', { image: photo('stuart', 4), image_type: 'BASE64', group_id_list: 'fresh' }), 222207);
  });

  it('M:N names the enrolled people present in each group photo', async function () {
    for (const [scene, people] of Object.entries(SCENES)) {
      const result = ok(await baidu.call<any>('/face-api/v3/face/midentify', { image: base64(readScene(scene)), image_type: 'BASE64', group_id_list: 'cast', max_face_num: 10, match_threshold: 70 }));
      expect(result.face_num).to.equal(result.face_list.length);
      for (const [x, y, person] of people) {
        const face = result.face_list.find((f: any) => f.location.left <= x && x <= f.location.left + f.location.width && f.location.top <= y && y <= f.location.top + f.location.height);
        expect(face, `${scene}: a face at ${x},${y}`).to.not.equal(undefined);
        // The stranger is cut by the image edge; see the quality_control check below.
        if (person === null) continue;
        else expect(face.user_list.map((u: any) => u.user_id), `${scene} at ${x},${y}`).to.deep.equal([person]);
      }
    }
    // bbt2's stranger stands half outside the photo; what is left of the face
    // resembles raj (score ~80, README). quality_control HIGH (completeness 1)
    // drops that face and keeps the two enrolled people, named right.
    const strict = ok(await baidu.call<any>('/face-api/v3/face/midentify', { image: base64(readScene('bbt2.jpg')), image_type: 'BASE64', group_id_list: 'cast', max_face_num: 10, match_threshold: 70, quality_control: 'HIGH' }));
    expect(strict.face_list.map((f: any) => f.user_list.map((u: any) => u.user_id)).flat().sort()).to.deep.equal(['leonard', 'sheldon']);
    expect(strict.face_list.every((f: any) => f.location.left >= 0)).to.equal(true);
    fails(await baidu.call('/face-api/v3/face/midentify', { image: base64(readScene('bbt1.jpg')), image_type: 'BASE64', group_id_list: 'cast', max_face_num: 11 }), 222016);
    fails(await baidu.call('/face-api/v3/face/midentify', { image: base64(readScene('bbt1.jpg')), image_type: 'BASE64', group_id_list: 'cast', max_user_num: 21 }), 222021);
  });

  it('the official Node SDK searches (search, faceMultiSearchV3) and matches', async function () {
    sdk.HttpClient.setRequestInterceptor((options) => ({ ...options, url: String(options.url).replace(/^https?:\/\/aip\.baidubce\.com/, ts.url), timeout: 120_000 }));
    const client = new sdk.face('1', 'searchKey', 'searchSecret');
    const found = ok(await client.search(photo('howard', 5), 'BASE64', 'cast', { max_user_num: '2' }));
    expect(found.user_list[0].user_id).to.equal('howard');
    const multi = ok(await client.faceMultiSearchV3(base64(readScene('bbt1.jpg')), 'BASE64', 'cast', { max_face_num: '5', match_threshold: '70' }));
    const named = multi.face_list.flatMap((f: any) => f.user_list.map((u: any) => u.user_id)).sort();
    expect(named).to.deep.equal(['howard', 'leonard', 'raj', 'sheldon']);
    const matched = ok(await client.match([
      { image: photo('amy', 1), image_type: 'BASE64' },
      { image: found.face_token, image_type: 'FACE_TOKEN' },
    ]));
    expect(matched.score).to.be.lessThan(70);
    expect(matched.face_list[1].face_token).to.equal(found.face_token);
    expect(TEST_ADMIN_KEY).to.be.a('string');
  });
});
