import { expect } from 'chai';
import { createOnnxEngine } from '../../models/index.js';
import type { FaceEngine } from '../../models/engine.js';
import { BaiduClient, base64, fails, ok } from '../helpers/baidu-client.js';
import { readPersonPhoto, readScene } from '../helpers/paths.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const photo = (person: string, n: number) => base64(readPersonPhoto(person, n));

describe('Baidu dialect: detect and liveness', function () {
  this.timeout(180_000);
  let engine: FaceEngine;
  let ts: TestServer;
  let baidu: BaiduClient;

  const detect = (body: Record<string, unknown>, path = '/face-api/v3/face/detect') =>
    baidu.call<any>(path, { image_type: 'BASE64', ...body });

  before(async function () {
    engine = await createOnnxEngine({ intraOpThreads: 2 });
    ts = await startTestServer(engine);
    baidu = new BaiduClient(ts.url);
  });

  after(async function () {
    await ts?.cleanup();
    await engine?.close();
  });

  it('returns the largest face with location, probability and angles by default, and the asked fields only', async function () {
    const plain = ok(await detect({ image: photo('raj', 1) }));
    expect(plain.face_num).to.equal(1);
    const face = plain.face_list[0];
    expect(face).to.have.all.keys('face_token', 'location', 'face_probability', 'angle');
    expect(face.location).to.have.all.keys('left', 'top', 'width', 'height', 'rotation');
    expect(Number.isInteger(face.location.rotation)).to.equal(true);
    expect(face.location.rotation).to.be.within(-180, 180);
    expect(face.angle).to.have.all.keys('yaw', 'pitch', 'roll');
    expect(Math.round(face.angle.roll)).to.equal(face.location.rotation);

    const full = ok(await detect({ image: photo('raj', 1), face_field: 'age,gender,expression,emotion,eye_status,landmark,quality,feature,beauty,race,glasses' }));
    const rich = full.face_list[0];
    expect(rich.face_token).to.equal(face.face_token);
    expect(rich).to.not.have.any.keys('beauty', 'race', 'glasses');
    expect(rich.age).to.be.within(5, 90);
    expect(rich.gender.type).to.be.oneOf(['male', 'female']);
    expect(rich.gender.probability).to.be.within(0.5, 1);
    expect(rich.emotion.type).to.be.oneOf(['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral']);
    expect(rich.expression.type).to.be.oneOf(['none', 'smile']);
    expect(rich.expression.type === 'smile').to.equal(rich.emotion.type === 'happy');
    expect(rich.eye_status.left_eye).to.be.within(0, 1);
    expect(rich.landmark).to.have.length(4);
    // Left eye centre left of the right eye centre; nose below the eyes, mouth below the nose.
    const [leftEye, rightEye, nose, mouth] = rich.landmark;
    expect(leftEye.x).to.be.lessThan(rightEye.x);
    expect(nose.y).to.be.greaterThan(Math.min(leftEye.y, rightEye.y));
    expect(mouth.y).to.be.greaterThan(nose.y);
    expect(rich.quality).to.have.all.keys('blur', 'illumination', 'completeness');
    expect(rich.quality.completeness).to.be.oneOf([0, 1]);
    expect(rich.quality.illumination).to.be.within(0, 255);
    expect(Buffer.from(rich.feature, 'base64').length).to.equal(engine.featureLength * 4);
  });

  it('names each expression photo\'s emotion with Baidu\'s word', async function () {
    const words: Record<string, string> = { angry: 'angry', happy: 'happy', neutral: 'neutral', sad: 'sad', surprised: 'surprise' };
    let right = 0;
    for (const [file, word] of Object.entries(words)) {
      const result = ok(await detect({ image: base64(readScene(`${file}.jpg`)), face_field: 'emotion' }));
      if (result.face_list[0].emotion.type === word) right++;
    }
    expect(right).to.be.at.least(3);
  });

  it('finds several faces up to max_face_num, largest first, each with its own stable token', async function () {
    const scene = base64(readScene('bbt1.jpg'));
    const many = ok(await detect({ image: scene, max_face_num: 10 }));
    expect(many.face_num).to.be.within(3, 10);
    const widths = many.face_list.map((f: any) => f.location.width);
    expect(widths).to.deep.equal([...widths].sort((a: number, b: number) => b - a));
    expect(new Set(many.face_list.map((f: any) => f.face_token)).size).to.equal(many.face_num);
    const two = ok(await detect({ image: scene, max_face_num: '2' }));
    expect(two.face_list.map((f: any) => f.face_token)).to.deep.equal(many.face_list.slice(0, 2).map((f: any) => f.face_token));
    // FACE_TOKEN input: the stored face, measured again.
    const byToken = ok(await baidu.call<any>('/face-api/v3/face/detect', { image: many.face_list[1].face_token, image_type: 'FACE_TOKEN', face_field: 'age' }));
    expect(byToken.face_list[0].face_token).to.equal(many.face_list[1].face_token);
    expect(byToken.face_list[0].location.width).to.equal(many.face_list[1].location.width);
    expect(byToken.face_list[0].age).to.be.a('number');
  });

  it('filters faces by liveness_control and quality_control, and refuses bad arguments', async function () {
    const strict = await detect({ image: photo('penny', 1), liveness_control: 'HIGH', quality_control: 'HIGH' });
    // A tight crop (face box past the image edge) fails HIGH completeness: filtered, so no face.
    fails(strict, 222202);
    ok(await detect({ image: photo('penny', 1), liveness_control: 'LOW', quality_control: 'LOW' }));
    fails(await detect({ image: photo('penny', 1), max_face_num: 11 }), 222016);
    fails(await detect({ image: photo('penny', 1), max_face_num: 0 }), 222016);
    fails(await detect({ image: photo('penny', 1), face_field: 'age,horoscope' }), 222017);
    fails(await detect({ image: photo('penny', 1), face_type: 'CARTOON' }), 222024);
    fails(await detect({ image: base64(readScene('blank-white.png')) }), 222202);
    fails(await detect({ image: 'AAAAAAAAAAAAAAAAAAAAAAAA', image_type: 'FACE_TOKEN' }), 222209);
  });

  it('scores liveness over 1, 3 or 8 photos, the highest being the overall score', async function () {
    const item = (person: string, n: number) => ({ image: photo(person, n), image_type: 'BASE64' });
    const one = ok(await baidu.call<any>('/face-api/v3/face/liveness', [{ ...item('howard', 1), face_field: 'age' }]));
    expect(one.thresholds).to.deep.equal({ 'frr_1e-4': 0.05, 'frr_1e-3': 0.3, 'frr_1e-2': 0.9 });
    expect(one.face_list).to.have.length(1);
    expect(one.face_list[0].liveness.livemapscore).to.be.within(0, 1);
    expect(one.face_list[0].age).to.be.a('number');
    const three = ok(await baidu.call<any>('/face-api/v3/face/liveness', [item('howard', 1), item('howard', 2), item('howard', 3)]));
    const scores = three.face_list.map((f: any) => f.liveness.livemapscore);
    expect(three.face_liveness).to.equal(Math.max(...scores));
    fails(await baidu.call('/face-api/v3/face/liveness', [item('howard', 1), item('howard', 2)]), 222208);
    fails(await baidu.call('/face-api/v3/face/liveness', { image: photo('howard', 1), image_type: 'BASE64' }), 222200);
    fails(await baidu.call('/face-api/v3/face/liveness', [item('howard', 1), 'x', item('howard', 3)]), 222200);
  });

  it('serves detect on the cloud path only with a valid access token', async function () {
    const anonymous = new BaiduClient(ts.url, null);
    const body = JSON.stringify({ image: photo('amy', 2), image_type: 'BASE64' });
    fails(await anonymous.raw('/rest/2.0/face/v3/detect', body), 100);
    fails(await anonymous.raw('/rest/2.0/face/v3/detect?access_token=24.abc.2592000.1.eA', body), 110);
    // The admin key works on the cloud paths too (default library, or ?appid=).
    ok(await baidu.raw('/rest/2.0/face/v3/detect', body));
  });
});
