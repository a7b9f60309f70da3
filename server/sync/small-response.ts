// A sync response that ends within a few kilobytes (the usual delta of a
// handful of changes, UNCHANGED) goes out as one buffer with Content-Length:
// the socket gets one write for headers and body. Streamed, each frame was
// its own chunk and write (header, group results, body, trailer): under load
// those writes were the largest event-loop cost of a sync (the CPU profile
// of `npm run bench:load -- --cpu-prof`). Longer responses are streamed as
// before, starting with the frames read so far.

/** Frames read ahead before the response is streamed instead (bytes). */
export const SMALL_RESPONSE_MAX_BYTES = 64 * 1024;

export type FirstFrames =
  /** The whole response, concatenated. */
  | { whole: Uint8Array }
  /** The response goes on: everything, starting with the frames already read. */
  | { stream: AsyncGenerator<Uint8Array> };

/**
 * Reads `frames` until it ends or more than `maxBytes` were read. The
 * generator runs to its end before anything is sent when the response is
 * small: what it does before its last frame (recording the sync status) is
 * still done before the client has the whole response.
 */
export async function readSmallResponse(frames: AsyncGenerator<Uint8Array>, maxBytes = SMALL_RESPONSE_MAX_BYTES): Promise<FirstFrames> {
  const read: Uint8Array[] = [];
  let bytes = 0;
  while (bytes <= maxBytes) {
    const next = await frames.next();
    if (next.done) return { whole: read.length === 1 ? read[0]! : Buffer.concat(read, bytes) };
    read.push(next.value);
    bytes += next.value.length;
  }
  return { stream: resumed(read, frames) };
}

async function* resumed(read: Uint8Array[], rest: AsyncGenerator<Uint8Array>): AsyncGenerator<Uint8Array> {
  try {
    yield* read.splice(0);
    yield* rest;
  } finally {
    // Ended early (the client went away): let the producer clean up too.
    await rest.return(undefined);
  }
}
