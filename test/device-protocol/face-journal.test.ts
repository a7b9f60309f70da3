import { expect } from 'chai';
import { digestOf } from '../../device-protocol/index.js';
import { FaceJournal } from '../../device-protocol/face-journal.js';
import { FaceMap } from '../../device-protocol/face-map.js';
import { face, featureFor } from './helpers.js';

const baseOf = (tokens: string[]) => FaceMap.from(tokens.map((t) => [t, { feature: featureFor(t) }] as const));

describe('FaceJournal', () => {
  it('stages upserts and removals without touching the base until build()', () => {
    const base = baseOf(['a', 'b', 'c']);
    const journal = new FaceJournal(base, digestOf(['a', 'b', 'c']));
    journal.upsert([face('d'), face('a', { userId: 'u-a' })]);
    journal.remove(['b', 'zz']);
    expect([...base.keys()].sort(), 'base unchanged').to.deep.equal(['a', 'b', 'c']);
    expect(base.get('a')!.userId).to.equal(undefined);
    expect(journal.size).to.equal(3);
    expect(journal.digest).to.equal(digestOf(['a', 'c', 'd']));
    expect(journal).to.include({ upserted: 2, removed: 1 });
    const built = journal.build();
    expect([...built.keys()].sort()).to.deep.equal(['a', 'c', 'd']);
    expect(built.get('a')!.userId).to.equal('u-a');
    expect([...base.keys()].sort(), 'base still unchanged').to.deep.equal(['a', 'b', 'c']);
  });

  it('counts a face upserted and then removed in the same stream once, and a replacement not at all', () => {
    const journal = new FaceJournal(baseOf(['a']), digestOf(['a']));
    journal.upsert([face('n'), face('a')]);
    expect(journal.size).to.equal(2);
    journal.remove(['n', 'n', 'a']);
    expect(journal.size).to.equal(0);
    expect(journal.digest).to.equal(digestOf([]));
    expect(journal.removed).to.equal(2);
    expect(journal.build().size).to.equal(0);
  });

  it('returns the base itself when the journal is empty (UNCHANGED)', () => {
    const base = baseOf(['a']);
    const journal = new FaceJournal(base, digestOf(['a']));
    journal.remove(['not-held']);
    expect(journal.build()).to.equal(base);
  });

  it('keeps size and digest equal to a recount, over random streams', () => {
    let seed = 12345;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % n;
    };
    for (let round = 0; round < 50; round++) {
      const universe = Array.from({ length: 40 }, (_, i) => `t${i}`);
      const held = universe.filter(() => random(2) === 0);
      const base = baseOf(held);
      const journal = new FaceJournal(base, digestOf(held));
      const model = new Set(held);
      // A stream's order: face batches, then removed batches.
      const upserts = Array.from({ length: random(20) }, () => universe[random(40)]!);
      const removals = Array.from({ length: random(20) }, () => universe[random(40)]!);
      journal.upsert(upserts.map((t) => face(t)));
      for (const t of upserts) model.add(t);
      journal.remove(removals);
      for (const t of removals) model.delete(t);
      const built = journal.build();
      expect([...built.keys()].sort()).to.deep.equal([...model].sort());
      expect(journal.size).to.equal(model.size);
      expect(journal.digest).to.equal(digestOf(model));
      expect([...base.keys()].sort()).to.deep.equal([...held].sort());
    }
  });
});
