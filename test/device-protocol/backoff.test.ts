import { expect } from 'chai';
import { Backoff } from '../../device-protocol/index.js';

describe('Backoff', () => {
  it('doubles from initialMs up to maxMs without jitter', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000, jitter: 0 });
    expect(Array.from({ length: 7 }, () => b.next())).to.deep.equal([100, 200, 400, 800, 1000, 1000, 1000]);
  });

  it('takes up to `jitter` of each delay off, from the injected random source', () => {
    const randoms = [0, 0.5, 0.999, 0.25];
    const b = new Backoff({ initialMs: 1000, maxMs: 8000, jitter: 0.5 }, () => randoms.shift()!);
    // 1000 * (1 - 0.5 * 0), 2000 * (1 - 0.25), 4000 * (1 - 0.4995), 8000 * (1 - 0.125)
    expect([b.next(), b.next(), b.next(), b.next()]).to.deep.equal([1000, 1500, 2002, 7000]);
  });

  it('starts over after reset, and gives the maximum for slow retries', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000, jitter: 0 });
    b.next();
    b.next();
    b.reset();
    expect(b.next()).to.equal(100);
    expect(b.slow()).to.equal(1000);
    expect(b.failures).to.equal(2);
  });

  it('rejects contradictory options', () => {
    expect(() => new Backoff({ initialMs: 1000, maxMs: 10 })).to.throw(RangeError);
    expect(() => new Backoff({ jitter: 2 })).to.throw(RangeError);
  });
});
