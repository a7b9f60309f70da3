// A FaceEngine that analyses each distinct photo once. For tests that send
// the same few photos many times over HTTP (the 780 compare pairs of 40
// photos): the HTTP path, the dialect and the core run for every request,
// the detector and the feature model once per photo, which took most of the
// suite's time. The engine gives the same analysis for the same bytes and
// request, so the answers are the ones the plain engine gives.
// Callers asking for the same analysis at once share one engine call: one
// caller's abort signal fails them all, and a memo hit ignores the signal.
// Fine for sequential tests; not an engine for a server.
import { createHash } from 'node:crypto';
import type { AnalyzeRequest, DecodedImage, DecodeLimits, DetectedFace, DetectOptionsPerCall, FaceEngine, ImageAnalysis } from '../../models/engine.js';

export class MemoAnalyzeEngine implements FaceEngine {
  private readonly analyses = new Map<string, Promise<ImageAnalysis>>();
  /** analyze() calls answered from the memo, and those the engine did. */
  hits = 0;
  misses = 0;

  constructor(private readonly engine: FaceEngine) {}

  get searchModel(): string { return this.engine.searchModel; }
  get modelVersions(): Readonly<Record<string, string>> { return this.engine.modelVersions; }
  get featureLength(): number { return this.engine.featureLength; }

  decode(bytes: Uint8Array, limits: DecodeLimits): Promise<DecodedImage> { return this.engine.decode(bytes, limits); }
  detect(image: DecodedImage, options?: DetectOptionsPerCall) { return this.engine.detect(image, options); }
  quality(image: DecodedImage, face: DetectedFace) { return this.engine.quality(image, face); }
  embed(image: DecodedImage, face: DetectedFace) { return this.engine.embed(image, face); }
  liveness(image: DecodedImage, face: DetectedFace) { return this.engine.liveness(image, face); }
  attributes(image: DecodedImage, face: DetectedFace) { return this.engine.attributes(image, face); }

  async analyze(bytes: Uint8Array, request: AnalyzeRequest): Promise<ImageAnalysis> {
    // The signal and the transfer flag do not change the analysis; the key is
    // taken before the engine may detach the bytes.
    const { signal: _signal, transfer: _transfer, ...measures } = request;
    const key = createHash('sha256').update(bytes).digest('hex') + JSON.stringify(measures);
    let analysis = this.analyses.get(key);
    if (analysis) this.hits++;
    else {
      this.misses++;
      analysis = this.engine.analyze(bytes, request);
      this.analyses.set(key, analysis);
      // A failure (busy, aborted) is not remembered: the next call tries again.
      analysis.catch(() => this.analyses.delete(key));
    }
    // Each caller gets its own copy, as from the engine itself.
    return structuredClone(await analysis);
  }

  close(): Promise<void> {
    this.analyses.clear();
    return this.engine.close();
  }
}
