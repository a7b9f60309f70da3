// Spherical k-means over int8 codes (quantize.ts), for the coarse lists of
// the approximate index (approx-gallery.ts), done in bounded steps so that
// training a million-face group never holds the event loop for long.
//
// Every distance is usearch's native exact search (int8 inner product), the
// code's own kernel: the JavaScript here only sums the rows of each list
// (one pass over the sample per round) and scales the centroids.
import { exactSearch, MetricKind } from 'usearch';
import { ownBuffer } from './own-buffer.js';
import { SCALE } from './quantize.js';

/** Rows assigned per native call: the call's scratch is lists x rows x 16 bytes (16 MB at 1024 x 1024). */
const ASSIGN_BATCH = 1024;

/** For each row of `rows` (n x dimensions), the index of its nearest centroid by inner product. */
export function nearestCentroid(centroids: Int8Array, rows: Int8Array, dimensions: number, threads: number): Uint32Array {
  const n = rows.length / dimensions;
  const out = new Uint32Array(n);
  const centroidRows = ownBuffer(centroids);
  for (let start = 0; start < n; start += ASSIGN_BATCH) {
    const end = Math.min(n, start + ASSIGN_BATCH);
    const batch = start === 0 && end === n ? ownBuffer(rows) : rows.slice(start * dimensions, end * dimensions);
    const found = exactSearch(centroidRows, batch, dimensions, 1, MetricKind.IP, threads);
    // One key per query row, in query order.
    for (let i = 0; i < end - start; i++) out[start + i] = Number(found.keys[i]);
  }
  return out;
}

/** A centroid: the direction of `sum`, as a code of the same fixed scale as the features'. */
function centroidOf(sum: Float64Array, offset: number, dimensions: number, out: Int8Array): void {
  let norm = 0;
  for (let i = 0; i < dimensions; i++) norm += sum[offset + i]! * sum[offset + i]!;
  norm = Math.sqrt(norm) || 1;
  for (let i = 0; i < dimensions; i++) {
    const v = Math.round((sum[offset + i]! / norm) * SCALE);
    out[offset + i] = v > 127 ? 127 : v < -127 ? -127 : v;
  }
}

export class SphericalKMeans {
  /** The current centroids (lists x dimensions), final once `done`. */
  centroids: Int8Array;
  private sums: Float64Array;
  private counts: Uint32Array;
  private next = 0;
  private round = 0;

  /**
   * `sample`: the training rows (n x dimensions, own buffer). The first
   * centroids are rows spread evenly over the sample, so the result is a
   * deterministic function of the sample.
   */
  constructor(
    private readonly sample: Int8Array,
    readonly dimensions: number,
    readonly lists: number,
    readonly rounds: number,
  ) {
    const n = sample.length / dimensions;
    if (!Number.isInteger(n) || n < lists || lists < 1) throw new RangeError(`k-means needs at least ${lists} rows, got ${n}`);
    this.centroids = new Int8Array(lists * dimensions);
    for (let c = 0; c < lists; c++) {
      const row = Math.floor((c * n) / lists);
      this.centroids.set(sample.subarray(row * dimensions, (row + 1) * dimensions), c * dimensions);
    }
    this.sums = new Float64Array(lists * dimensions);
    this.counts = new Uint32Array(lists);
  }

  get done(): boolean {
    return this.round >= this.rounds;
  }

  /** Sample rows still to assign before training is done (for progress). */
  get remaining(): number {
    const n = this.sample.length / this.dimensions;
    return Math.max(0, (this.rounds - this.round) * n - this.next);
  }

  /** Assigns up to `rows` more sample rows; at the end of a pass, moves the centroids. Returns the rows assigned. */
  step(rows: number, threads: number): number {
    if (this.done) return 0;
    const d = this.dimensions;
    const n = this.sample.length / d;
    const end = Math.min(n, this.next + Math.max(1, rows));
    const part = this.sample.subarray(this.next * d, end * d);
    const nearest = nearestCentroid(this.centroids, part, d, threads);
    for (let i = 0; i < nearest.length; i++) {
      const c = nearest[i]!;
      this.counts[c]!++;
      const from = i * d;
      const to = c * d;
      for (let j = 0; j < d; j++) this.sums[to + j]! += part[from + j]!;
    }
    const assigned = end - this.next;
    this.next = end;
    if (this.next === n) this.finishRound();
    return assigned;
  }

  private finishRound(): void {
    const d = this.dimensions;
    const n = this.sample.length / d;
    for (let c = 0; c < this.lists; c++) {
      if (this.counts[c] === 0) {
        // An empty list takes a sample row of its own again (spread by a stride prime to most sizes).
        const row = (c * 7919 + this.round * 104_729) % n;
        this.centroids.set(this.sample.subarray(row * d, (row + 1) * d), c * d);
      } else {
        centroidOf(this.sums, c * d, d, this.centroids);
      }
    }
    this.sums.fill(0);
    this.counts.fill(0);
    this.next = 0;
    this.round++;
  }
}
