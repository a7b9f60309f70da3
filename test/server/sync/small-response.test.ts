import { expect } from 'chai';
import { readSmallResponse } from '../../../server/sync/small-response.js';

/** Frames of the given sizes; `log` tells what the producer did. */
async function* frames(sizes: number[], log: string[]): AsyncGenerator<Uint8Array> {
  try {
    for (const [i, size] of sizes.entries()) {
      log.push(`frame ${i}`);
      yield new Uint8Array(size).fill(i);
    }
    log.push('end');
  } finally {
    log.push('finally');
  }
}

describe('readSmallResponse', function () {
  it('concatenates a response that ends within the limit, after the producer ran to its end', async function () {
    const log: string[] = [];
    const result = await readSmallResponse(frames([3, 2, 1], log), 10);
    expect(log).to.deep.equal(['frame 0', 'frame 1', 'frame 2', 'end', 'finally']);
    expect('whole' in result && Array.from(result.whole)).to.deep.equal([0, 0, 0, 1, 1, 2]);
  });

  it('streams a longer one, starting with the frames read ahead', async function () {
    const log: string[] = [];
    const result = await readSmallResponse(frames([4, 4, 4, 4], log), 6);
    expect(log).to.deep.equal(['frame 0', 'frame 1']);
    expect('stream' in result).to.equal(true);
    const sent: number[] = [];
    for await (const frame of (result as { stream: AsyncGenerator<Uint8Array> }).stream) sent.push(...frame);
    expect(sent).to.deep.equal([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
    expect(log.slice(-2)).to.deep.equal(['end', 'finally']);
  });

  it('ends the producer when the stream is abandoned while the frames read ahead go out', async function () {
    const log: string[] = [];
    const result = await readSmallResponse(frames([4, 4, 4, 4], log), 6);
    const stream = (result as { stream: AsyncGenerator<Uint8Array> }).stream;
    await stream.next();
    await stream.return(undefined);
    expect(log).to.deep.equal(['frame 0', 'frame 1', 'finally']);
  });
});
