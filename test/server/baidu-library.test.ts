import { expect } from 'chai';
import { createOnnxEngine } from '../../models/index.js';
import type { FaceEngine } from '../../models/engine.js';
import { TerminalClient, TerminalGallery } from '../../device-protocol/index.js';
import { BaiduClient, base64, fails as refused, ok, type BaiduEnvelope } from '../helpers/baidu-client.js';
import { PEOPLE, readPersonPhoto, readScene } from '../helpers/paths.js';
import { startTestServer, TEST_DEVICE_KEY, type TestServer } from '../helpers/test-server.js';

const photo = (person: string, n: number) => base64(readPersonPhoto(person, n));

describe('Baidu dialect: face library', function () {
  this.timeout(180_000);
  let engine: FaceEngine;
  let ts: TestServer;
  let baidu: BaiduClient;

  // The library operations' refusals also carry result null, as the spec shows.
  const fails = (res: BaiduEnvelope<unknown>, code: number) => {
    refused(res, code);
    expect(res.result).to.equal(null);
  };
  const add = (body: Record<string, unknown>, appid = 'default') =>
    baidu.call<{ face_token: string; location: Record<string, number> }>('/face-api/v3/face/add', { image_type: 'BASE64', ...body }, appid);

  before(async function () {
    engine = await createOnnxEngine({ intraOpThreads: 2 });
    ts = await startTestServer(engine);
    baidu = new BaiduClient(ts.url);
  });

  after(async function () {
    await ts?.cleanup();
    await engine?.close();
  });

  it('answers in Baidu\'s envelope, HTTP 200, result null where the spec shows null', async function () {
    const res = await baidu.call('/face-api/v3/group/add', { group_id: 'envelope_1' });
    expect(res.status).to.equal(200);
    expect(res).to.include({ error_code: 0, error_msg: 'SUCCESS', cached: 0, result: null });
    expect(String(res.log_id)).to.match(/^\d{13}$/);
    expect(res.timestamp).to.be.within(Math.floor(Date.now() / 1000) - 60, Math.floor(Date.now() / 1000) + 1);
    fails(await baidu.call('/face-api/v3/group/add', { group_id: 'envelope_1' }), 223101);
    fails(await baidu.call('/face-api/v3/group/delete', { group_id: 'no_such_group' }), 223100);
    ok(await baidu.call('/face-api/v3/group/delete', { group_id: 'envelope_1' }));
  });

  it('enrols users (group and user created on the way), one face token per image, at most once per group', async function () {
    const first = ok(await add({ image: photo('amy', 1), group_id: 'staff', user_id: 'amy', user_info: 'Amy Farrah Fowler' }));
    expect(first.face_token).to.match(/^[A-Za-z0-9_-]{24}$/);
    expect(first.location).to.have.all.keys('left', 'top', 'width', 'height', 'rotation');
    expect(first.location.width).to.be.greaterThan(50);
    fails(await add({ image: photo('amy', 1), group_id: 'staff', user_id: 'amy' }), 223105);
    // The same image elsewhere: the same face token.
    const again = ok(await add({ image: photo('amy', 1), group_id: 'visitors', user_id: 'amy' }));
    expect(again.face_token).to.equal(first.face_token);
    ok(await add({ image: photo('amy', 2), group_id: 'staff', user_id: 'amy' }));
    ok(await add({ image: photo('raj', 1), group_id: 'staff', user_id: 'raj', user_info: 'Raj' }));
    // FACE_TOKEN input reuses the stored face.
    ok(await baidu.call('/face-api/v3/face/add', { image: first.face_token, image_type: 'FACE_TOKEN', group_id: 'lab', user_id: 'amy' }));

    const users = ok(await baidu.call<{ user_list: Array<{ user_info: string; group_id: string }> }>('/face-api/v3/user/get', { user_id: 'amy', group_id: '@ALL' }));
    expect(users.user_list).to.deep.equal([
      { user_info: '', group_id: 'lab' },
      { user_info: 'Amy Farrah Fowler', group_id: 'staff' },
      { user_info: '', group_id: 'visitors' },
    ]);
    const faces = ok(await baidu.call<{ face_list: Array<{ face_token: string; ctime: string }> }>('/face-api/v3/face/list', { user_id: 'amy', group_id: 'staff' }));
    expect(faces.face_list).to.have.length(2);
    for (const face of faces.face_list) expect(face.ctime).to.match(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    expect(faces.face_list.map((f) => f.face_token)).to.include(first.face_token);
  });

  it('a new user_info on a later add becomes the user\'s, and terminals see user_id and user_info on every face', async function () {
    ok(await add({ image: photo('howard', 1), group_id: 'doors', user_id: 'howard', user_info: 'H. Wolowitz' }));
    ok(await add({ image: photo('howard', 2), group_id: 'doors', user_id: 'howard' }));
    ok(await add({ image: photo('penny', 1), group_id: 'doors', user_id: 'penny', user_info: 'Penny' }));
    const gallery = new TerminalGallery({ groups: ['doors'] });
    const terminal = new TerminalClient({ baseUrl: ts.url, key: TEST_DEVICE_KEY, deviceId: 'baidu-door', groups: ['doors'], gallery });
    try {
      await terminal.syncOnce();
      const faces = [...gallery.group('doors')!.faces.values()];
      expect(faces).to.have.length(3);
      expect(faces.map((f) => [f.userId, f.userInfo]).sort()).to.deep.equal([
        ['howard', 'H. Wolowitz'],
        ['howard', 'H. Wolowitz'],
        ['penny', 'Penny'],
      ]);
      // A changed user_info reaches the terminal by delta on every face of the user.
      ok(await add({ image: photo('howard', 3), group_id: 'doors', user_id: 'howard', user_info: 'Howard' }));
      await terminal.syncOnce();
      const after = [...gallery.group('doors')!.faces.values()].filter((f) => f.userId === 'howard');
      expect(after.map((f) => f.userInfo)).to.deep.equal(['Howard', 'Howard', 'Howard']);
    } finally {
      await terminal.close();
    }
  });

  it('limits a user to 20 faces per group', async function () {
    const photos = PEOPLE.flatMap((person) => [1, 2, 3, 4, 5].map((n) => photo(person, n)));
    for (let i = 0; i < 20; i++) ok(await add({ image: photos[i], group_id: 'crowd', user_id: 'many' }));
    fails(await add({ image: photos[20], group_id: 'crowd', user_id: 'many' }), 222210);
    // Per group, not summed: another group takes more.
    ok(await add({ image: photos[20], group_id: 'crowd2', user_id: 'many' }));
  });

  it('updates (UPDATE needs the user, REPLACE registers it) by replacing all the user\'s faces', async function () {
    fails(await baidu.call('/face-api/v3/face/update', { image: photo('leonard', 1), image_type: 'BASE64', group_id: 'staff', user_id: 'leonard' }), 223103);
    ok(await baidu.call('/face-api/v3/face/update', { image: photo('leonard', 1), image_type: 'BASE64', group_id: 'staff', user_id: 'leonard', action_type: 'REPLACE', user_info: 'L' }));
    ok(await add({ image: photo('leonard', 2), group_id: 'staff', user_id: 'leonard' }));
    const updated = ok(await baidu.call<{ face_token: string }>('/face-api/v3/face/update', { image: photo('leonard', 3), image_type: 'BASE64', group_id: 'staff', user_id: 'leonard', user_info: 'Leonard' }));
    const faces = ok(await baidu.call<{ face_list: Array<{ face_token: string }> }>('/face-api/v3/face/list', { user_id: 'leonard', group_id: 'staff' }));
    expect(faces.face_list.map((f) => f.face_token)).to.deep.equal([updated.face_token]);
    const user = ok(await baidu.call<{ user_list: unknown[] }>('/face-api/v3/user/get', { user_id: 'leonard', group_id: 'staff' }));
    expect(user.user_list).to.deep.equal([{ user_info: 'Leonard', group_id: 'staff' }]);
  });

  it('deletes faces (the user goes with its last one), copies and deletes users, @ALL included', async function () {
    const a = ok(await add({ image: photo('stuart', 1), group_id: 'shop', user_id: 'stuart', user_info: 'Stuart' }));
    const b = ok(await add({ image: photo('stuart', 2), group_id: 'shop', user_id: 'stuart' }));
    fails(await baidu.call('/face-api/v3/face/delete', { user_id: 'stuart', group_id: 'shop', face_token: 'AAAAAAAAAAAAAAAAAAAAAAAA' }), 223106);
    ok(await baidu.call('/face-api/v3/face/delete', { user_id: 'stuart', group_id: 'shop', face_token: a.face_token }));
    ok(await baidu.call('/face-api/v3/user/get', { user_id: 'stuart', group_id: 'shop' }));
    ok(await baidu.call('/face-api/v3/face/delete', { user_id: 'stuart', group_id: 'shop', face_token: b.face_token }));
    fails(await baidu.call('/face-api/v3/user/get', { user_id: 'stuart', group_id: 'shop' }), 223103);

    ok(await add({ image: photo('sheldon', 1), group_id: 'physics', user_id: 'sheldon', user_info: 'Dr. Cooper' }));
    fails(await baidu.call('/face-api/v3/user/copy', { user_id: 'sheldon', src_group_id: 'physics', dst_group_id: 'no_such' }), 223111);
    fails(await baidu.call('/face-api/v3/user/copy', { user_id: 'nobody', src_group_id: 'physics', dst_group_id: 'physics' }), 223103);
    ok(await baidu.call('/face-api/v3/group/add', { group_id: 'physics2' }));
    ok(await baidu.call('/face-api/v3/group/add', { group_id: 'physics3' }));
    ok(await baidu.call('/face-api/v3/user/copy', { user_id: 'sheldon', src_group_id: 'physics', dst_group_id: 'physics2' }));
    ok(await baidu.call('/face-api/v3/user/copy', { user_id: 'sheldon', src_group_id: 'physics', dst_group_id: 'physics3' }));
    const copied = ok(await baidu.call<{ user_list: unknown[] }>('/face-api/v3/user/get', { user_id: 'sheldon', group_id: '@ALL' }));
    expect(copied.user_list).to.deep.equal(['physics', 'physics2', 'physics3'].map((group_id) => ({ user_info: 'Dr. Cooper', group_id })));
    ok(await baidu.call('/face-api/v3/user/delete', { user_id: 'sheldon', group_id: 'physics3' }));
    fails(await baidu.call('/face-api/v3/user/delete', { user_id: 'sheldon', group_id: 'physics3' }), 223103);
    ok(await baidu.call('/face-api/v3/user/delete', { user_id: 'sheldon', group_id: '@ALL' }));
    fails(await baidu.call('/face-api/v3/user/get', { user_id: 'sheldon', group_id: '@ALL' }), 223103);
    fails(await baidu.call('/face-api/v3/user/delete', { user_id: 'sheldon', group_id: '@ALL' }), 223103);
  });

  it('lists users and groups with start/length, and reports group and app statistics', async function () {
    for (const [i, person] of ['amy', 'bernadette', 'howard', 'leonard', 'penny'].entries()) {
      ok(await add({ image: photo(person, 4), group_id: 'paged', user_id: `u${i}` }));
    }
    const list = async (body: Record<string, unknown>) =>
      ok(await baidu.call<{ user_id_list: string[] }>('/face-api/v3/user/list', { group_id: 'paged', ...body })).user_id_list;
    expect(await list({})).to.deep.equal(['u0', 'u1', 'u2', 'u3', 'u4']);
    expect(await list({ start: 1, length: 2 })).to.deep.equal(['u1', 'u2']);
    expect(await list({ start: 5 })).to.deep.equal([]);
    fails(await baidu.call('/face-api/v3/user/list', { group_id: 'paged', length: 1001 }), 222003);
    fails(await baidu.call('/face-api/v3/user/list', { group_id: 'paged', start: -1 }), 222002);
    fails(await baidu.call('/face-api/v3/user/list', { group_id: 'nowhere' }), 223100);

    for (const g of ['pg_a', 'pg_b', 'pg_c']) ok(await baidu.call('/face-api/v3/group/add', { group_id: g }, 'paging_app'));
    const groups = await baidu.call<{ group_id_list: string[] }>('/face-api/v3/group/list', { start: 1, length: 1 }, 'paging_app');
    expect(ok(groups).group_id_list).to.deep.equal(['pg_b']);
    expect(ok(await baidu.call<{ group_id_list: string[] }>('/face-api/v3/group/list', {}, 'paging_app')).group_id_list).to.deep.equal(['pg_a', 'pg_b', 'pg_c']);

    const stats = ok(await baidu.call<Record<string, any>>('/face-api/facehub/statgroup', { op_app_id: 'default', group_id_list: 'paged,staff,nowhere' }, null));
    expect(Object.keys(stats)).to.deep.equal(['paged', 'staff']);
    expect(stats.paged).to.include({ user_num: 5, face_num: 5 });
    expect(stats.paged.ctime).to.match(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    expect(stats.paged.utime >= stats.paged.ctime).to.equal(true);
    fails(await baidu.call('/face-api/facehub/statgroup', { op_app_id: 'default', group_id_list: Array.from({ length: 21 }, (_, i) => `g${i}`).join(',') }, null), 222005);
    const apps = ok(await baidu.call<Record<string, { group_num: number }>>('/face-api/facehub/statapp', { op_app_id_list: 'paging_app,never_used' }, null));
    expect(apps).to.deep.equal({ paging_app: { group_num: 3 }, never_used: { group_num: 0 } });
    const appList = ok(await baidu.call<{ app_id_list: string[] }>('/face-api/v3/app/list', {}, null));
    expect(appList.app_id_list).to.include.members(['default', 'paging_app']);
    expect(appList.app_id_list).to.not.include('never_used');
  });

  it('keeps appid libraries apart, and serves the same operations under /api/face-api', async function () {
    const enrolled = ok(await add({ image: photo('bernadette', 1), group_id: 'club', user_id: 'bern' }, 'app_one'));
    fails(await baidu.call('/face-api/v3/user/list', { group_id: 'club' }, 'app_two'), 223100);
    // A face token of one library does not exist in another.
    fails(await baidu.call('/face-api/v3/face/add', { image: enrolled.face_token, image_type: 'FACE_TOKEN', group_id: 'club', user_id: 'bern' }, 'app_two'), 222209);
    const viaApi = await baidu.call<{ user_id_list: string[] }>('/api/face-api/v3/user/list', { group_id: 'club' }, 'app_one');
    expect(ok(viaApi).user_id_list).to.deep.equal(['bern']);
    fails(await baidu.call('/face-api/v3/group/list', {}, 'bad-appid!'), 222014);
  });

  it('refuses bad input with Baidu\'s codes, never a crash', async function () {
    const cases: Array<[Record<string, unknown> | string, number]> = [
      [{ group_id: 'g1', user_id: 'u1' }, 222001],
      [{ image: photo('raj', 2), image_type: 'BASE64', user_id: 'u1' }, 222001],
      [{ image: photo('raj', 2), image_type: 'BASE64', group_id: 'bad-id', user_id: 'u1' }, 222006],
      [{ image: photo('raj', 2), image_type: 'BASE64', group_id: 'g'.repeat(49), user_id: 'u1' }, 222006],
      [{ image: photo('raj', 2), image_type: 'BASE64', group_id: 'g1', user_id: 'u 1' }, 222018],
      [{ image: photo('raj', 2), image_type: 'BASE64', group_id: 'g1', user_id: 'u1', user_info: 'x'.repeat(257) }, 222010],
      [{ image: photo('raj', 2), image_type: 'BASE64', group_id: 'g1', user_id: 'u1', quality_control: 'MAX' }, 222019],
      [{ image: photo('raj', 2), image_type: 'BASE64', group_id: 'g1', user_id: 'u1', liveness_control: 'yes' }, 222020],
      [{ image: photo('raj', 2), image_type: 'BASE64', group_id: 'g1', user_id: 'u1', action_type: 'UPDATE' }, 216100],
      [{ image: 'http://example.com/a.jpg', image_type: 'URL', group_id: 'g1', user_id: 'u1' }, 222015],
      [{ image: photo('raj', 2), image_type: 'RAW', group_id: 'g1', user_id: 'u1' }, 222015],
      [{ image: `data:image/png;base64,${photo('raj', 2)}`, image_type: 'BASE64', group_id: 'g1', user_id: 'u1' }, 222013],
      [{ image: '***not base64***', image_type: 'BASE64', group_id: 'g1', user_id: 'u1' }, 222013],
      [{ image: 'A'.repeat(2 * 1024 * 1024 + 4), image_type: 'BASE64', group_id: 'g1', user_id: 'u1' }, 222013],
      [{ image: base64(Buffer.from('not an image at all')), image_type: 'BASE64', group_id: 'g1', user_id: 'u1' }, 222203],
      [{ image: base64(readScene('blank-white.png')), image_type: 'BASE64', group_id: 'g1', user_id: 'u1' }, 222202],
      [{ image: 'AAAAAAAAAAAAAAAAAAAAAAAA', image_type: 'FACE_TOKEN', group_id: 'g1', user_id: 'u1' }, 222209],
      ['{not json', 222200],
      ['[1,2', 222200],
    ];
    for (const [body, code] of cases) {
      const res = await baidu.call('/face-api/v3/face/add', body);
      fails(res, code);
    }
    // Nothing of the refused adds was created.
    fails(await baidu.call('/face-api/v3/user/list', { group_id: 'g1' }), 223100);
  });

  it('checks the admin key on the private paths and answers unknown paths with error_code 3', async function () {
    const anonymous = new BaiduClient(ts.url, null);
    fails(await anonymous.call('/face-api/v3/group/list', {}), 6);
    const unknown = await baidu.call('/face-api/v3/face/unknown', {});
    fails(unknown, 3);
    fails(await baidu.call('/rest/2.0/face/v9/whatever', {}), 3);
  });

  it('takes form bodies and JSON labelled as a form', async function () {
    ok(await baidu.raw('/face-api/v3/group/add?appid=forms', 'group_id=form_group', 'application/x-www-form-urlencoded'));
    ok(await baidu.raw('/face-api/v3/group/add?appid=forms', JSON.stringify({ group_id: 'json_group' }), 'application/x-www-form-urlencoded'));
    const groups = await baidu.call<{ group_id_list: string[] }>('/face-api/v3/group/list', {}, 'forms');
    expect(ok(groups).group_id_list).to.deep.equal(['form_group', 'json_group']);
  });
});
