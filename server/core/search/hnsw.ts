// usearch's HNSW graph over the int8 codes of quantize.ts, through the
// package's own compiled binding.
//
// Why not usearch's `Index` class: its add() and search() convert every
// vector to Float32Array before the native call, and usearch then turns
// float32 into int8 as trunc(x * 127 / |x|), which for a 512-d unit vector
// keeps about 3 bits per component (components are ~0.04). The compiled
// index takes Int8Array as it is, so the graph holds exactly the codes the
// exact index searches (fixed scale 508, rounded) and its inner-product
// "distance" is the negated integer dot product, as exactSearch's is.
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

interface CompiledIndex {
  add(keys: BigUint64Array, vectors: Int8Array, threads: number): void;
  search(vectors: Int8Array, k: number, threads: number): [keys: BigUint64Array, distances: Float32Array, counts: BigUint64Array];
  remove(keys: BigUint64Array): number[];
  size(): number;
  save(path: string): void;
  load(path: string): void;
}

interface CompiledModule {
  CompiledIndex: new (
    dimensions: number,
    metric: string,
    quantization: string,
    connectivity: number,
    expansionAdd: number,
    expansionSearch: number,
    multi: boolean,
  ) => CompiledIndex;
}

let compiled: CompiledModule | undefined;

/** The binding usearch's own wrapper loads (node-gyp-build, resolved from the usearch package). */
function binding(): CompiledModule {
  if (!compiled) {
    const require = createRequire(import.meta.url);
    const entry = require.resolve('usearch');
    // .../node_modules/usearch/javascript/dist/{cjs,esm}/usearch.js -> the package root
    const root = dirname(dirname(dirname(dirname(entry))));
    const load = createRequire(entry)('node-gyp-build') as (dir: string) => CompiledModule;
    compiled = load(root);
  }
  return compiled;
}

export interface HnswParams {
  /** M: graph neighbours per node (usearch `connectivity`). */
  connectivity: number;
  /** Candidate list while inserting (`expansion_add`). */
  expansionAdd: number;
  /** Candidate list while searching (`expansion_search`); the search looks at max(this, k). */
  expansionSearch: number;
}

/**
 * Chosen by `npm run bench:search` (README "The 1:N search index"): recall@1 >= 0.99 against exact on
 * face-shaped vectors at 100,000 faces; FaceIndex widens the search for larger groups (searchWidthFor).
 */
export const DEFAULT_HNSW: Readonly<HnswParams> = { connectivity: 32, expansionAdd: 128, expansionSearch: 256 };

export class Hnsw {
  private readonly native: CompiledIndex;

  constructor(
    readonly dimensions: number,
    readonly params: Readonly<HnswParams>,
  ) {
    this.native = new (binding().CompiledIndex)(dimensions, 'ip', 'i8', params.connectivity, params.expansionAdd, params.expansionSearch, false);
  }

  /** Inserts rows of `codes` (keys.length x dimensions) with native threads; blocks the caller until done. */
  add(keys: BigUint64Array, codes: Int8Array, threads: number): void {
    if (codes.length !== keys.length * this.dimensions) throw new RangeError('codes do not match the keys');
    if (keys.length > 0) this.native.add(keys, codes, threads);
  }

  /** Up to `k` keys nearest to `code` by inner product, best first, with their integer dot products. */
  search(code: Int8Array, k: number, threads: number): { keys: BigUint64Array; dots: Float32Array } {
    const [keys, distances, counts] = this.native.search(code, k, threads);
    const count = Number(counts[0] ?? 0n);
    const dots = distances.subarray(0, count);
    for (let i = 0; i < dots.length; i++) dots[i] = -dots[i]!;
    return { keys: keys.subarray(0, count), dots };
  }

  remove(keys: BigUint64Array): void {
    if (keys.length > 0) this.native.remove(keys);
  }

  get size(): number {
    return this.native.size();
  }

  /** Writes the whole graph to `path` (synchronous native write). */
  save(path: string): void {
    this.native.save(path);
  }

  /** Replaces this graph with the one in `path`: only for a file whose checksum was verified. */
  load(path: string): void {
    this.native.load(path);
  }
}
