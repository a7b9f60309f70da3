import { expect } from 'chai';
import { FaceMap } from '../../device-protocol/face-map.js';
import { featureFor } from './helpers.js';

const f = (t: string) => ({ feature: featureFor(t) });

describe('FaceMap', () => {
  it('reads like a ReadonlyMap', () => {
    const map = FaceMap.from([['a', f('a')], ['b', { ...f('b'), userId: 'u' }]]);
    expect(map.size).to.equal(2);
    expect(map.has('a')).to.equal(true);
    expect(map.has('z')).to.equal(false);
    expect(map.get('b')!.userId).to.equal('u');
    expect([...map.keys()].sort()).to.deep.equal(['a', 'b']);
    expect([...map.values()]).to.have.length(2);
    expect([...map.entries()].map(([k]) => k).sort()).to.deep.equal(['a', 'b']);
    expect([...map].map(([k]) => k).sort()).to.deep.equal(['a', 'b']);
    const seen: string[] = [];
    map.forEach((face, token, self) => {
      expect(self).to.equal(map);
      expect(face).to.equal(map.get(token));
      seen.push(token);
    });
    expect(seen.sort()).to.deep.equal(['a', 'b']);
  });

  it('is copy-on-write: withChanges returns a new map and leaves the old one as it was', () => {
    const tokens = Array.from({ length: 5000 }, (_, i) => `t${i}`);
    const before = FaceMap.from(tokens.map((t) => [t, f(t)] as const));
    const after = before.withChanges([['new', f('new')], ['t1', { ...f('t1'), userInfo: 'x' }]], ['t0', 'absent']);
    expect(before.size).to.equal(5000);
    expect(before.has('t0') && !before.has('new') && before.get('t1')!.userInfo === undefined).to.equal(true);
    expect(after.size).to.equal(5000);
    expect(!after.has('t0') && after.has('new') && after.get('t1')!.userInfo === 'x').to.equal(true);
    expect(after.get('t2')).to.equal(before.get('t2'));
    expect(before.withChanges([], [])).to.equal(before);
  });

  it('matches a plain Map over random versions, and every earlier version stays as it was', () => {
    let seed = 99;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % n;
    };
    const versions: Array<{ map: FaceMap; model: Map<string, unknown> }> = [{ map: FaceMap.EMPTY, model: new Map() }];
    for (let round = 0; round < 40; round++) {
      const { map, model } = versions.at(-1)!;
      const upserts = Array.from({ length: random(300) }, () => `t${random(2000)}`).map((t) => [t, f(t)] as const);
      const removals = Array.from({ length: random(300) }, () => `t${random(2000)}`);
      const next = map.withChanges(upserts, removals);
      const nextModel = new Map(model);
      for (const t of removals) nextModel.delete(t);
      for (const [t, face] of upserts) nextModel.set(t, face);
      versions.push({ map: next, model: nextModel });
    }
    for (const { map, model } of versions) {
      expect(map.size).to.equal(model.size);
      expect([...map.keys()].sort()).to.deep.equal([...model.keys()].sort());
      for (const [t, face] of model) expect(map.get(t)).to.equal(face);
    }
  });
});
