// NoticeBatcher on a manual clock: when notices go out is checked by
// counting against simulated time, never by timing the machine.
import { expect } from 'chai';
import { decodePushFrame, MAX_PUSH_FRAME_BYTES, PushFrameType, type GroupVersion } from '../../../device-protocol/index.js';
import { NODE_BATCHER_CLOCK, NoticeBatcher, type BatcherClock, type NoticeSink, type PendingNotice } from '../../../server/push/batcher.js';

/** Simulated time: scheduled callbacks run, in time order, only when the test advances the clock. */
class ManualClock implements BatcherClock {
  #t = 0;
  #seq = 0;
  readonly #queue: Array<{ at: number; seq: number; fn: () => void }> = [];

  now(): number {
    return this.#t;
  }

  schedule(ms: number, fn: () => void): () => void {
    const entry = { at: this.#t + ms, seq: this.#seq++, fn };
    this.#queue.push(entry);
    return () => {
      const i = this.#queue.indexOf(entry);
      if (i >= 0) this.#queue.splice(i, 1);
    };
  }

  /** Number of callbacks waiting (the batcher must keep at most one). */
  get armed(): number {
    return this.#queue.length;
  }

  /** Moves time to `to`, running everything due on the way (what a callback schedules for <= `to` runs too). */
  advanceTo(to: number): void {
    for (;;) {
      this.#queue.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.#queue[0];
      if (!next || next.at > to) break;
      this.#queue.shift();
      this.#t = Math.max(this.#t, next.at);
      next.fn();
    }
    this.#t = Math.max(this.#t, to);
  }
}

interface Sent {
  member: string;
  at: number;
  groups: GroupVersion[];
  changes: number;
}

function recorder(clock: ManualClock, readiness: (member: string) => 'now' | 'later' | 'gone' = () => 'now', decode = true) {
  const sent: Sent[] = [];
  const failed: string[] = [];
  const sink: NoticeSink<string> = {
    readiness,
    send(member, frame, notice: PendingNotice, groups) {
      if (decode) {
        const decoded = decodePushFrame(frame);
        expect(decoded?.type === PushFrameType.Notice && decoded.groups).to.deep.equal(groups);
      }
      sent.push({ member, at: clock.now(), groups: [...groups], changes: notice.changes });
    },
    fail: (member) => void failed.push(member),
  };
  return { sent, failed, sink };
}

const gv = (groupName: string, version: number, groupId = 1): GroupVersion => ({ groupName, groupId, version });

describe('NoticeBatcher', function () {
  const WINDOW = 25;

  it('sends the first change of a burst at the next turn, without waiting for the window', function () {
    const clock = new ManualClock();
    const { sent, sink } = recorder(clock);
    const batcher = new NoticeBatcher(sink, WINDOW, WINDOW, clock);
    clock.advanceTo(1000);
    batcher.add('a', gv('lobby', 5), 1000, 0);
    batcher.add('b', gv('lobby', 5), 1000, 0);
    expect(sent, 'nothing synchronously: changes committed together still merge').to.have.length(0);
    clock.advanceTo(1000);
    expect(sent.map((s) => [s.member, s.at, s.groups])).to.deep.equal([
      ['a', 1000, [gv('lobby', 5)]],
      ['b', 1000, [gv('lobby', 5)]],
    ]);
  });

  it('holds what follows within the window and sends it, merged to the latest version, when the window ends', function () {
    const clock = new ManualClock();
    const { sent, sink } = recorder(clock);
    const batcher = new NoticeBatcher(sink, WINDOW, WINDOW, clock);
    batcher.add('a', gv('lobby', 1), 0, 0);
    clock.advanceTo(0);
    for (let v = 2; v <= 6; v++) {
      clock.advanceTo(v);
      batcher.add('a', gv('lobby', v), v, 0);
      batcher.add('a', gv('hall', v, 2), v, 0);
    }
    clock.advanceTo(WINDOW - 1);
    expect(sent).to.have.length(1);
    clock.advanceTo(WINDOW);
    expect(sent).to.have.length(2);
    expect(sent[1]).to.deep.equal({ member: 'a', at: WINDOW, groups: [gv('lobby', 6), gv('hall', 6, 2)], changes: 10 });
    expect(clock.armed, 'nothing left to do').to.equal(0);
    // A quiet spell longer than the window: the next change goes out at once again.
    clock.advanceTo(200);
    batcher.add('a', gv('lobby', 7), 200, 0);
    clock.advanceTo(200);
    expect(sent.at(-1)).to.deep.include({ at: 200, groups: [gv('lobby', 7)] });
  });

  it('keeps windows per terminal: a quiet terminal is not held back by a busy one', function () {
    const clock = new ManualClock();
    const { sent, sink } = recorder(clock);
    const batcher = new NoticeBatcher(sink, WINDOW, WINDOW, clock);
    batcher.add('busy', gv('a', 1), 0, 0);
    clock.advanceTo(0);
    clock.advanceTo(3);
    batcher.add('busy', gv('a', 2), 3, 0);
    batcher.add('quiet', gv('b', 1), 3, 0);
    clock.advanceTo(3);
    expect(sent.map((s) => [s.member, s.at])).to.deep.equal([
      ['busy', 0],
      ['quiet', 3],
    ]);
    clock.advanceTo(100);
    expect(sent.map((s) => [s.member, s.at])).to.deep.equal([
      ['busy', 0],
      ['quiet', 3],
      ['busy', WINDOW],
    ]);
  });

  it('under a storm of 1,000 changes/s to 1,000 terminals, no terminal gets more than one notice per window', function () {
    const clock = new ManualClock();
    // 80,000 notices: their frames are checked by the other tests.
    const { sent, sink } = recorder(clock, () => 'now', false);
    const batcher = new NoticeBatcher(sink, WINDOW, WINDOW, clock);
    const terminals = Array.from({ length: 1000 }, (_, i) => `t${i}`);
    const groups = ['g0', 'g1', 'g2', 'g3', 'g4', 'g5', 'g6', 'g7'];
    /** Terminal i holds groups i mod 8 and (i + 3) mod 8. */
    const held = (i: number) => [groups[i % 8]!, groups[(i + 3) % 8]!];
    const holders = new Map(groups.map((g) => [g, terminals.filter((_, i) => held(i).includes(g))]));
    const latest = new Map<string, number>();
    let changes = 0;
    let pairs = 0;
    // 1 change per simulated ms for 2 s, the group cycling with a stride that is not a window's divisor.
    for (let t = 0; t < 2000; t++) {
      clock.advanceTo(t);
      const group = groups[(t * 5) % 8]!;
      const version = (latest.get(group) ?? 0) + 1;
      latest.set(group, version);
      for (const member of holders.get(group)!) {
        batcher.add(member, gv(group, version), t, t);
        pairs++;
      }
      changes++;
      expect(clock.armed, 'one hub-wide timer').to.be.at.most(1);
    }
    clock.advanceTo(10_000);
    expect(changes).to.equal(2000);

    const byTerminal = new Map<string, Sent[]>();
    for (const s of sent) {
      const list = byTerminal.get(s.member);
      if (list) list.push(s);
      else byTerminal.set(s.member, [s]);
    }
    expect(byTerminal.size).to.equal(terminals.length);
    let maxNotices = 0;
    for (const [member, notices] of byTerminal) {
      for (let k = 1; k < notices.length; k++) {
        expect(notices[k]!.at - notices[k - 1]!.at, `${member}: notices ${k - 1} and ${k}`).to.be.at.least(WINDOW);
      }
      maxNotices = Math.max(maxNotices, notices.length);
      // The last notice naming each held group carries its final version.
      for (const g of held(Number(member.slice(1)))) {
        const last = notices.filter((n) => n.groups.some((x) => x.groupName === g)).at(-1)!;
        expect(last.groups.find((x) => x.groupName === g)!.version).to.equal(latest.get(g));
      }
    }
    // 2 s of storm: one notice at once, then one per window at most.
    expect(maxNotices).to.be.at.most(Math.ceil(2000 / WINDOW) + 1);
    expect(sent[0]!.at, 'the storm\'s first change went out at once').to.equal(0);
    expect(sent.reduce((n, s) => n + s.changes, 0), 'every (change, terminal) pair accounted for once').to.equal(pairs);
  });

  it('retries members that are not ready after retryMs, merging meanwhile, and discards gone ones', function () {
    const clock = new ManualClock();
    const state = new Map<string, 'now' | 'later' | 'gone'>([
      ['slow', 'later'],
      ['dead', 'gone'],
    ]);
    const { sent, sink } = recorder(clock, (m) => state.get(m) ?? 'now');
    const batcher = new NoticeBatcher(sink, WINDOW, 40, clock);
    batcher.add('slow', gv('a', 1), 0, 0);
    batcher.add('dead', gv('a', 1), 0, 0);
    clock.advanceTo(0);
    expect(sent).to.have.length(0);
    expect(batcher.size, 'dead dropped, slow kept').to.equal(1);
    batcher.add('slow', gv('a', 2), 10, 0);
    state.set('slow', 'now');
    clock.advanceTo(39);
    expect(sent).to.have.length(0);
    clock.advanceTo(40);
    expect(sent).to.deep.equal([{ member: 'slow', at: 40, groups: [gv('a', 2)], changes: 2 }]);
  });

  it('with a window of 0, sends every turn', function () {
    const clock = new ManualClock();
    const { sent, sink } = recorder(clock);
    const batcher = new NoticeBatcher(sink, 0, 20, clock);
    for (let t = 0; t < 3; t++) {
      clock.advanceTo(t);
      batcher.add('a', gv('a', t + 1), t, 0);
      batcher.add('a', gv('a', t + 10), t, 0);
      clock.advanceTo(t);
    }
    expect(sent.map((s) => [s.at, s.groups[0]!.version, s.changes])).to.deep.equal([
      [0, 10, 2],
      [1, 11, 2],
      [2, 12, 2],
    ]);
  });

  it('sends nothing after close() and forgets dropped members', function () {
    const clock = new ManualClock();
    const { sent, sink } = recorder(clock);
    const batcher = new NoticeBatcher(sink, WINDOW, WINDOW, clock);
    batcher.add('a', gv('a', 1), 0, 0);
    batcher.add('b', gv('a', 1), 0, 0);
    batcher.drop('b');
    clock.advanceTo(0);
    batcher.add('a', gv('a', 2), 1, 0);
    batcher.close();
    clock.advanceTo(1000);
    expect(sent.map((s) => s.member)).to.deep.equal(['a']);
    expect(clock.armed).to.equal(0);
    batcher.add('a', gv('a', 3), 2000, 0);
    expect(clock.armed).to.equal(0);
  });

  it('encodes one commit\'s notice once: every member gets the same frame object (the hub frames it once per object)', function () {
    const clock = new ManualClock();
    const frames = new Set<Uint8Array>();
    const groupArrays = new Set<readonly GroupVersion[]>();
    const sink: NoticeSink<string> = {
      readiness: () => 'now',
      send(_member, frame, _notice, groups) {
        frames.add(frame);
        groupArrays.add(groups);
      },
      fail: () => expect.fail('no failure expected'),
    };
    const batcher = new NoticeBatcher(sink, WINDOW, WINDOW, clock);
    const entry = gv('door', 5);
    for (let i = 0; i < 1000; i++) batcher.add(`t${i}`, entry, 0, 0);
    clock.advanceTo(0);
    expect(frames.size).to.equal(1);
    expect(groupArrays.size).to.equal(1);
    const [frame] = frames;
    expect(decodePushFrame(frame!)).to.deep.equal({ type: PushFrameType.Notice, groups: [entry] });
  });

  it('fails only the member whose single group cannot fit a frame, also inside a split, and keeps sending to the others', function () {
    const clock = new ManualClock();
    const { sent, failed, sink } = recorder(clock);
    const batcher = new NoticeBatcher(sink, WINDOW, WINDOW, clock);
    const huge = gv('x'.repeat(MAX_PUSH_FRAME_BYTES), 1);
    batcher.add('alone', huge, 0, 0);
    batcher.add('split', gv('fine', 1), 0, 0);
    batcher.add('split', huge, 0, 0);
    batcher.add('ok', gv('fine', 1), 0, 0);
    clock.advanceTo(0);
    expect(failed.sort()).to.deep.equal(['alone', 'split']);
    expect(sent.filter((s) => s.member === 'ok')).to.have.length(1);
  });

  it('addAll() is add() for each member: those inside their window wait for it, the others go at once, one timer', function () {
    const clock = new ManualClock();
    const { sent, sink } = recorder(clock);
    const batcher = new NoticeBatcher(sink, WINDOW, WINDOW, clock);
    batcher.add('busy', gv('a', 1), 0, 0);
    clock.advanceTo(0);
    clock.advanceTo(5);
    batcher.add('pending', gv('b', 1, 2), 5, 0);
    batcher.addAll(['busy', 'quiet', 'pending'], gv('a', 2), 5, 0);
    expect(clock.armed, 'one hub-wide timer').to.equal(1);
    expect(batcher.size).to.equal(3);
    clock.advanceTo(5);
    expect(sent.map((s) => [s.member, s.at, s.groups, s.changes])).to.deep.equal([
      ['busy', 0, [gv('a', 1)], 1],
      ['pending', 5, [gv('b', 1, 2), gv('a', 2)], 2],
      ['quiet', 5, [gv('a', 2)], 1],
    ]);
    clock.advanceTo(100);
    expect(sent.at(-1)).to.deep.equal({ member: 'busy', at: WINDOW, groups: [gv('a', 2)], changes: 1 });
    batcher.addAll([], gv('a', 3), 100, 0);
    expect(clock.armed, 'no member, no timer').to.equal(0);
  });

  it('discard() removes covered entries: nothing is sent when all were covered, the rest otherwise', function () {
    const clock = new ManualClock();
    const { sent, sink } = recorder(clock);
    const batcher = new NoticeBatcher(sink, WINDOW, WINDOW, clock);
    batcher.add('one', gv('a', 3), 0, 0);
    batcher.add('two', gv('a', 3), 0, 0);
    batcher.add('two', gv('b', 7, 2), 0, 0);
    batcher.discard('one', (e) => e.groupName === 'a');
    batcher.discard('two', (e) => e.groupName === 'a');
    batcher.discard('nobody', () => true);
    expect(batcher.size, 'one has nothing left').to.equal(1);
    clock.advanceTo(0);
    expect(sent.map((s) => [s.member, s.groups])).to.deep.equal([['two', [gv('b', 7, 2)]]]);
    // A member emptied by discard() takes changes again as usual.
    clock.advanceTo(1);
    batcher.add('one', gv('a', 4), 1, 0);
    clock.advanceTo(1);
    expect(sent.at(-1)).to.deep.include({ member: 'one', at: 1, groups: [gv('a', 4)] });
  });

  it('tells the sink once per flush how many notices it sent and the oldest change among them', function () {
    const clock = new ManualClock();
    const { sink } = recorder(clock);
    const flushes: Array<[number, number, number, number]> = [];
    sink.flushed = (notices, firstObservedAt, startedAt, endedAt) => void flushes.push([notices, firstObservedAt, startedAt, endedAt]);
    const batcher = new NoticeBatcher(sink, WINDOW, WINDOW, clock);
    clock.advanceTo(10);
    const entry = gv('door', 1);
    for (let i = 0; i < 100; i++) batcher.add(`t${i}`, entry, 10, 0);
    batcher.add('late', gv('hall', 1), 9, 0);
    clock.advanceTo(10);
    expect(flushes).to.deep.equal([[101, 9, 10, 10]]);
    // A flush that sends nothing (all held by their window) is not reported.
    batcher.add('t0', gv('door', 2), 11, 0);
    clock.advanceTo(11);
    expect(flushes).to.have.length(1);
    clock.advanceTo(100);
    expect(flushes.at(-1)).to.deep.equal([1, 11, 10 + WINDOW, 10 + WINDOW]);
  });

  it('keeps a change added while its member\'s notice is being sent, for the next window', function () {
    const clock = new ManualClock();
    const { sent, sink } = recorder(clock);
    let again = true;
    const send = sink.send.bind(sink);
    const batcher = new NoticeBatcher(
      {
        ...sink,
        send(member, frame, notice, groups) {
          send(member, frame, notice, groups);
          if (again) {
            again = false;
            batcher.add(member, gv('a', 2), clock.now(), 0);
          }
        },
      },
      WINDOW,
      WINDOW,
      clock,
    );
    batcher.add('a', gv('a', 1), 0, 0);
    clock.advanceTo(0);
    expect(sent.map((s) => [s.at, s.groups[0]!.version])).to.deep.equal([[0, 1]]);
    expect(batcher.size).to.equal(1);
    clock.advanceTo(100);
    expect(sent.map((s) => [s.at, s.groups[0]!.version, s.changes])).to.deep.equal([
      [0, 1, 1],
      [WINDOW, 2, 1],
    ]);
    expect(batcher.size).to.equal(0);
  });

  it('a member dropped and added again before the flush gets only what came after, without its old window', function () {
    const clock = new ManualClock();
    const { sent, sink } = recorder(clock);
    const batcher = new NoticeBatcher(sink, WINDOW, WINDOW, clock);
    batcher.add('a', gv('a', 1), 0, 0);
    clock.advanceTo(0);
    batcher.add('a', gv('a', 2), 1, 0);
    batcher.drop('a');
    expect(batcher.size).to.equal(0);
    clock.advanceTo(2);
    batcher.add('a', gv('a', 3), 2, 0);
    expect(batcher.size).to.equal(1);
    clock.advanceTo(2);
    expect(sent.map((s) => [s.at, s.groups[0]!.version, s.changes])).to.deep.equal([
      [0, 1, 1],
      [2, 3, 1],
    ]);
  });

  it('NODE_BATCHER_CLOCK runs a flush due now after the microtasks already queued (one durable batch) and before setImmediate', async function () {
    const order: string[] = [];
    // The store hands out one batch's changes from promise callbacks queued together.
    const batch = Promise.resolve();
    void batch.then(() => {
      order.push('change 1');
      NODE_BATCHER_CLOCK.schedule(0, () => order.push('flush'));
    });
    void batch.then(() => order.push('change 2'));
    const cancel = NODE_BATCHER_CLOCK.schedule(0, () => order.push('cancelled'));
    cancel();
    await new Promise<void>((resolve) => setImmediate(() => (order.push('immediate'), resolve())));
    expect(order).to.deep.equal(['change 1', 'change 2', 'flush', 'immediate']);
  });
});
