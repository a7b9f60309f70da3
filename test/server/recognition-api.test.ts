// FacePass compare, recognize and config (spec 人脸比对, 人脸识别, 阈值配置)
// through HTTP with the real engine and the test photos.
import { expect } from 'chai';
import sharp from 'sharp';
import { createOnnxEngine } from '../../models/index.js';
import { DEFAULT_LIBRARY, type FaceToken, type GroupName } from '../../server/core/ids.js';
import { FacePassClient, type Envelope } from '../helpers/facepass-client.js';
import { PEOPLE, readPersonPhoto, readScene } from '../helpers/paths.js';
import { ENROLLABLE, enrollablePhoto, WHITE } from '../helpers/photos.js';
import { toBmp } from '../helpers/bmp.js';
import { MemoAnalyzeEngine } from '../helpers/memo-engine.js';
import { onePerPerson, SCENE_PEOPLE } from '../helpers/scenes.js';
import { startTestServer, TEST_ADMIN_KEY, TEST_DEVICE_KEY, type TestServer } from '../helpers/test-server.js';

interface Detection {
  rect: { left: number; top: number; right: number; bottom: number };
  pose: { yaw: number; pitch: number; roll: number };
  blur: number;
}
interface CompareData {
  score: number;
  compare_threshold: number;
  detection_result_1: Detection;
  detection_result_2: Detection;
  liveness_threshold: number;
  liveness_score_1: number;
  liveness_score_2: number;
}
interface RecognizedFace extends Detection {
  recognized: boolean;
  liveness_score?: number;
  liveness_passed?: boolean;
  candidates: Array<{ face_token: string; score: number; user_id?: string; user_info?: string }>;
}
interface RecognizeData {
  group_name: string;
  recognize_threshold: number;
  liveness_threshold: number;
  results: Array<{ track_id: string; faces: RecognizedFace[] }>;
}
type Thresholds = { recognize_threshold: number; compare_threshold: number; liveness_threshold: number };

type Part = Uint8Array | string | { text: string };

async function postForm<T>(url: string, parts: Record<string, Part>, key: string | null = TEST_DEVICE_KEY): Promise<Envelope<T>> {
  const form = new FormData();
  for (const [name, value] of Object.entries(parts)) {
    if (typeof value === 'string') form.append(name, value);
    else if (value instanceof Uint8Array) form.append(name, new Blob([value], { type: 'application/octet-stream' }), `${name}.img`);
    else form.append(name, value.text);
  }
  const response = await fetch(url, { method: 'POST', headers: key ? { authorization: `Bearer ${key}` } : {}, body: form });
  return { status: response.status, ...((await response.json()) as Omit<Envelope<T>, 'status'>) };
}

async function postUrlencoded<T>(url: string, fields: Record<string, string>): Promise<Envelope<T>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
  return { status: response.status, ...((await response.json()) as Omit<Envelope<T>, 'status'>) };
}

const contains = (r: Detection['rect'], x: number, y: number) => r.left <= x && x <= r.right && r.top <= y && y <= r.bottom;

describe('FacePass recognition API', function () {
  this.timeout(600_000);
  // Each photo analysed once however often it is sent (the 780 compare pairs
  // of 40 photos); every request still goes through HTTP and the core.
  let engine: MemoAnalyzeEngine;
  let ts: TestServer;
  let admin: FacePassClient;
  const compareUrl = () => `${ts.url}/api/service/compare/v1`;
  const recognizeUrl = () => `${ts.url}/api/service/recognize/v1`;
  const configUrl = () => `${ts.url}/api/service/config/v1`;
  /** face_token -> person, for the group enrolled from one photo per person. */
  const personOf = new Map<string, string>();

  before(async function () {
    engine = new MemoAnalyzeEngine(await createOnnxEngine({ intraOpThreads: 2 }));
    ts = await startTestServer(engine);
    admin = new FacePassClient(ts.url);
    expect((await admin.post('/api/group/v1/create', { group_name: 'cast' })).code).to.equal(0);
    // One photo per person; a person none of whose photos passes admission is not enrolled.
    for (const [person, n] of onePerPerson(ENROLLABLE)) {
      const added = await admin.addFace(await enrollablePhoto(person, n));
      expect(added.code, person).to.equal(0);
      personOf.set(added.data.face_token!, person);
      expect((await admin.post('/api/group/v1/bind', { group_name: 'cast', face_token: added.data.face_token })).code).to.equal(0);
    }
  });

  after(async function () {
    await ts?.cleanup();
    await engine?.close();
  });

  describe('POST /api/service/compare/v1', function () {
    it('separates every same-person pair of the people photos from every different-person pair at the default threshold', async function () {
      const photos = PEOPLE.flatMap((person) => [1, 2, 3, 4, 5].map((n) => ({ person, bytes: readPersonPhoto(person, n) })));
      const missesBefore = engine.misses;
      let correct = 0;
      let total = 0;
      const wrong: string[] = [];
      for (let i = 0; i < photos.length; i++) {
        for (let j = i + 1; j < photos.length; j++) {
          const res = await postForm<CompareData>(compareUrl(), { image_1: photos[i]!.bytes, image_2: photos[j]!.bytes, enable_liveness: 'false' });
          expect(res.code, `${i} ${j}`).to.equal(0);
          const same = photos[i]!.person === photos[j]!.person;
          total++;
          if (res.data.score >= res.data.compare_threshold === same) correct++;
          else wrong.push(`${photos[i]!.person}/${(i % 5) + 1} ${photos[j]!.person}/${(j % 5) + 1} ${res.data.score.toFixed(1)}`);
        }
      }
      const accuracy = correct / total;
      console.log(`      compare accuracy at the default threshold: ${correct}/${total} = ${(accuracy * 100).toFixed(2)}%${wrong.length ? `; wrong: ${wrong.join('; ')}` : ''}`);
      expect(total).to.equal(780);
      // The pairs reused the 40 photos' analyses: 40 engine runs, not 1,560.
      expect(engine.misses - missesBefore).to.be.at.most(photos.length);
      expect(accuracy).to.be.at.least(0.99);
    });

    it('answers the spec fields: score, thresholds, detection results, liveness scores', async function () {
      const res = await postForm<CompareData>(compareUrl(), { image_1: readPersonPhoto('amy', 1), image_2: await enrollablePhoto('amy', 2), enable_liveness: 'false' });
      expect(res.status).to.equal(200);
      expect(res.code).to.equal(0);
      const d = res.data;
      expect(d.score).to.be.within(70, 100);
      expect(d.compare_threshold).to.equal(70);
      expect(d.liveness_threshold).to.equal(50);
      expect(d.liveness_score_1).to.equal(0);
      expect(d.liveness_score_2).to.equal(0);
      for (const det of [d.detection_result_1, d.detection_result_2]) {
        for (const v of Object.values(det.rect)) expect(Number.isInteger(v)).to.equal(true);
        expect(det.rect.right).to.be.greaterThan(det.rect.left);
        expect(Object.keys(det.pose).sort()).to.deep.equal(['pitch', 'roll', 'yaw']);
        expect(det.blur).to.be.within(0, 1);
      }
      // The second image is the 150 px photo upscaled into a 700 px frame.
      expect(d.detection_result_2.rect.left).to.be.greaterThan(150);
      expect(d.detection_result_1.rect.right).to.be.at.most(150);
    });

    it('accepts jpg, png and bmp; computes liveness when asked and fails below the threshold', async function () {
      // Photos of a real person (a photo upscaled into a white frame reads as a spoof).
      const jpg = await sharp(readPersonPhoto('sheldon', 2)).jpeg({ quality: 95 }).toBuffer();
      const bmp = await toBmp(readPersonPhoto('sheldon', 2));
      const res = await postForm<CompareData>(compareUrl(), { image_1: jpg, image_2: bmp, enable_liveness: 'true' });
      expect(res.code, res.message).to.equal(0);
      expect(res.data.score).to.be.above(70);
      const scores = [res.data.liveness_score_1, res.data.liveness_score_2];
      for (const s of scores) expect(s).to.be.within(50, 100);
      // A threshold above the weaker face's score: the same compare now fails.
      const weaker = Math.min(...scores);
      const above = weaker + (100 - weaker) / 2;
      if (!(above < 100)) expect.fail(`liveness ${weaker} leaves no threshold above it`);
      expect((await postUrlencoded(configUrl(), { liveness_threshold: String(above) })).code).to.equal(0);
      try {
        const failed = await postForm<CompareData>(compareUrl(), { image_1: jpg, image_2: bmp, enable_liveness: 'true' });
        expect([failed.status, failed.code, failed.message]).to.deep.equal([400, 104901, 'COMPARE_LIVENESS_FAILED']);
        const unchecked = await postForm<CompareData>(compareUrl(), { image_1: jpg, image_2: bmp, enable_liveness: 'false' });
        expect(unchecked.code).to.equal(0);
      } finally {
        await postUrlencoded(configUrl(), { liveness_threshold: '-1' });
      }
    });

    it('compares a face at any rotation: turned 90, 180 and 270 degrees', async function () {
      const upright = readPersonPhoto('howard', 1);
      for (const angle of [90, 180, 270]) {
        const turned = await sharp(upright).rotate(angle).png().toBuffer();
        const res = await postForm<CompareData>(compareUrl(), { image_1: readPersonPhoto('howard', 2), image_2: turned, enable_liveness: 'false' });
        expect(res.code, `${angle}: ${res.message}`).to.equal(0);
        expect(res.data.score, String(angle)).to.be.at.least(res.data.compare_threshold);
      }
    });

    it('refuses missing, empty, non-file, undecodable, too small, too large and faceless images', async function () {
      const face = await enrollablePhoto('penny', 1);
      const cases: Array<[Record<string, Part>, number, string]> = [
        [{ image_1: face, enable_liveness: 'false' }, 104002, 'MISSING_ARGUMENT: image_2'],
        [{ image_1: face, image_2: face }, 104002, 'MISSING_ARGUMENT: enable_liveness'],
        [{}, 104002, 'MISSING_ARGUMENT: image_1,image_2,enable_liveness'],
        [{ image_1: face, image_2: face, enable_liveness: 'maybe' }, 104001, 'ILLEGAL_ARGUMENT: enable_liveness'],
        [{ image_1: face, image_2: new Uint8Array(0), enable_liveness: 'false' }, 104103, 'IMAGE_VALIDATE_FAILED'],
        [{ image_1: { text: 'not a file' }, image_2: face, enable_liveness: 'false' }, 104103, 'IMAGE_VALIDATE_FAILED'],
        [{ image_1: face, image_2: new Uint8Array(Buffer.from('GIF89a not really')), enable_liveness: 'false' }, 104100, 'UNSUPPORTED_IMAGE_FORMAT'],
        [{ image_1: face, image_2: await sharp(face).resize(40, 40).png().toBuffer(), enable_liveness: 'false' }, 104101, 'INVALID_IMAGE_RESOLUTION'],
        [{ image_1: await sharp({ create: { width: 2600, height: 2600, channels: 3, background: WHITE } }).png().toBuffer(), image_2: face, enable_liveness: 'false' }, 104101, 'INVALID_IMAGE_RESOLUTION'],
        [{ image_1: face, image_2: readScene('blank-white.png'), enable_liveness: 'false' }, 104200, 'FACE_NOT_FOUND'],
      ];
      for (const [parts, code, message] of cases) {
        const res = await postForm(compareUrl(), parts);
        expect([res.status, res.code, res.message], message).to.deep.equal([400, code, message]);
        expect(res.data).to.be.an('object');
      }
      // Not square but within 2560*2560 by area: accepted.
      const wide = await sharp(face).resize(3000, 300, { fit: 'contain', background: WHITE }).png().toBuffer();
      expect((await postForm(compareUrl(), { image_1: face, image_2: wide, enable_liveness: 'false' })).code).to.not.equal(104101);
      expect((await postForm(compareUrl(), { image_1: face, image_2: face, enable_liveness: 'false' }, null)).status).to.equal(401);
    });
  });

  describe('POST /api/service/recognize/v1', function () {
    for (const [scene, listed] of Object.entries(SCENE_PEOPLE)) {
      it(`recognizes every enrolled person in ${scene} and nobody else`, async function () {
        // People not enrolled are strangers to the group.
        const enrolled = new Set(personOf.values());
        const expected = listed.map(([x, y, person]) => [x, y, person !== null && enrolled.has(person) ? person : null] as const);
        const res = await postForm<RecognizeData>(recognizeUrl(), { group_name: 'cast', face_data: '{}', image_1: readScene(scene) });
        expect(res.code, res.message).to.equal(0);
        expect(res.data.recognize_threshold).to.equal(78);
        const [track] = res.data.results;
        expect(track!.track_id).to.equal('1');
        for (const [x, y, person] of expected) {
          const face = track!.faces.find((f) => contains(f.rect, x, y));
          if (person === null) {
            if (face) expect(face.recognized, `${scene} (${x},${y}): ${JSON.stringify(face.candidates[0])}`).to.equal(false);
            continue;
          }
          expect(face, `${scene}: ${person} at (${x},${y}) not found`).to.not.equal(undefined);
          expect(personOf.get(face!.candidates[0]!.face_token), `${scene} (${x},${y})`).to.equal(person);
          expect(face!.recognized, `${scene}: ${person} scored ${face!.candidates[0]!.score}`).to.equal(true);
        }
        // Faces nobody listed (if the detector finds more) are recognized as nobody.
        for (const face of track!.faces) {
          if (expected.some(([x, y]) => contains(face.rect, x, y))) continue;
          expect(face.recognized, `${scene}: unexpected face ${JSON.stringify(face.rect)}`).to.equal(false);
        }
      });
    }

    it('answers several tracks (M:N) with topN candidates, liveness, and users bound by another dialect', async function () {
      const sheldon = [...personOf].find(([, p]) => p === 'sheldon')![0] as FaceToken;
      const change = await ts.server.store.unbind(DEFAULT_LIBRARY, 'cast' as GroupName, sheldon);
      const again = await ts.server.store.bind(DEFAULT_LIBRARY, 'cast' as GroupName, sheldon, { userId: 'u-sheldon', userInfo: 'physicist' });
      await ts.server.faceIndex.applied([change, again!]);
      const faceData = JSON.stringify({ faces: [{ track_id: 7 }, { track_id: 'b' }], top_n: 3, enable_liveness: true });
      const res = await postForm<RecognizeData>(`${recognizeUrl()}/`, {
        group_name: 'cast',
        face_data: faceData,
        image_7: readPersonPhoto('sheldon', 3),
        image_b: readScene('bbt3.jpg'),
      });
      expect(res.code, res.message).to.equal(0);
      expect(res.data.results.map((r) => r.track_id)).to.deep.equal(['7', 'b']);
      const [single, group] = res.data.results;
      expect(single!.faces).to.have.length(1);
      expect(group!.faces.length).to.be.at.least(5);
      const face = single!.faces[0]!;
      expect(face.candidates).to.have.length(3);
      expect(face.candidates[0]).to.include({ face_token: sheldon, user_id: 'u-sheldon', user_info: 'physicist' });
      expect(face.candidates[0]!.score).to.be.above(face.candidates[1]!.score);
      expect(face.candidates[1]).to.not.have.property('user_id');
      expect(face.liveness_score).to.be.within(0, 100);
      expect(face.liveness_passed).to.equal(face.liveness_score! >= res.data.liveness_threshold);
    });

    it('answers an image without a face with no faces, and refuses bad requests', async function () {
      const blank = await postForm<RecognizeData>(recognizeUrl(), { group_name: 'cast', face_data: '{}', image_0: readScene('blank-white.png') });
      expect(blank.code).to.equal(0);
      expect(blank.data.results).to.deep.equal([{ track_id: '0', faces: [] }]);
      const photo = readPersonPhoto('raj', 1);
      const cases: Array<[Record<string, Part>, number, string]> = [
        [{ group_name: 'nobody', face_data: '{}', image_1: photo }, 104301, 'GROUP_NAME_NOT_EXIST'],
        [{ face_data: '{}', image_1: photo }, 104002, 'MISSING_ARGUMENT: group_name'],
        [{ group_name: 'cast', image_1: photo }, 104002, 'MISSING_ARGUMENT: face_data'],
        [{ group_name: 'cast', face_data: '{}' }, 104002, 'MISSING_ARGUMENT: image_${track_id}'],
        [{ group_name: 'bad name!', face_data: '{}', image_1: photo }, 104001, 'ILLEGAL_ARGUMENT: group_name'],
        [{ group_name: 'cast', face_data: '{not json', image_1: photo }, 104001, 'ILLEGAL_ARGUMENT: face_data'],
        [{ group_name: 'cast', face_data: '{"top_n":51}', image_1: photo }, 104001, 'ILLEGAL_ARGUMENT: face_data.top_n'],
        [{ group_name: 'cast', face_data: '{"faces":[{"track_id":1},{"track_id":9}]}', image_1: photo }, 104002, 'MISSING_ARGUMENT: image_9'],
        [{ group_name: 'cast', face_data: '{"faces":[{"track_id":1}]}', image_1: photo, image_2: photo }, 104001, 'ILLEGAL_ARGUMENT: image_2'],
        [{ group_name: 'cast', face_data: '{}', image_1: new Uint8Array(0) }, 104103, 'IMAGE_VALIDATE_FAILED'],
      ];
      for (const [parts, code, message] of cases) {
        const res = await postForm(recognizeUrl(), parts);
        expect([res.status, res.code, res.message], message).to.deep.equal([400, code, message]);
      }
    });
  });

  describe('POST /api/service/config/v1', function () {
    it('sets, restores and keeps thresholds; one invalid value changes nothing', async function () {
      const set = async (fields: Record<string, string>) => postUrlencoded<Thresholds>(configUrl(), fields);
      expect((await set({})).data).to.deep.equal({ recognize_threshold: 78, compare_threshold: 70, liveness_threshold: 50 });
      expect((await set({ recognize_threshold: '85.5', compare_threshold: '' })).data).to.deep.equal({ recognize_threshold: 85.5, compare_threshold: 70, liveness_threshold: 50 });
      const multipart = await postForm<Thresholds>(configUrl(), { compare_threshold: '60', liveness_threshold: '40' }, TEST_ADMIN_KEY);
      expect(multipart.data).to.deep.equal({ recognize_threshold: 85.5, compare_threshold: 60, liveness_threshold: 40 });
      for (const [fields, args] of [
        [{ recognize_threshold: '0' }, 'recognize_threshold'],
        [{ recognize_threshold: '100' }, 'recognize_threshold'],
        [{ compare_threshold: 'abc', liveness_threshold: '-2', recognize_threshold: '50' }, 'compare_threshold,liveness_threshold'],
        [{ liveness_threshold: '0x10' }, 'liveness_threshold'],
      ] as const) {
        const res = await set(fields);
        expect([res.status, res.code, res.message]).to.deep.equal([400, 104001, `ILLEGAL_ARGUMENT: ${args}`]);
      }
      expect((await set({})).data).to.deep.equal({ recognize_threshold: 85.5, compare_threshold: 60, liveness_threshold: 40 });
      // Compare and recognize report the thresholds in force.
      const compared = await postForm<CompareData>(compareUrl(), { image_1: readPersonPhoto('raj', 1), image_2: readPersonPhoto('raj', 2), enable_liveness: 'false' });
      expect([compared.data.compare_threshold, compared.data.liveness_threshold]).to.deep.equal([60, 40]);
      const recognized = await postForm<RecognizeData>(recognizeUrl(), { group_name: 'cast', face_data: '{}', image_1: readPersonPhoto('raj', 1) });
      expect(recognized.data.recognize_threshold).to.equal(85.5);
      expect((await set({ recognize_threshold: '-1' })).data.recognize_threshold).to.equal(78);
      expect((await new FacePassClient(ts.url, TEST_DEVICE_KEY).post(`/api/service/config/v1`, {})).status).to.equal(401);

      // Persisted in the store; the index is rebuilt equal.
      const before = await postForm<RecognizeData>(recognizeUrl(), { group_name: 'cast', face_data: '{"top_n":8}', image_1: readScene('bbt4.jpg') });
      await ts.restart();
      expect((await set({})).data).to.deep.equal({ recognize_threshold: 78, compare_threshold: 60, liveness_threshold: 40 });
      const after = await postForm<RecognizeData>(recognizeUrl(), { group_name: 'cast', face_data: '{"top_n":8}', image_1: readScene('bbt4.jpg') });
      expect(after.data.results).to.deep.equal(before.data.results);
      await set({ compare_threshold: '-1', liveness_threshold: '-1' });
    });
  });
});
