// The face engine contract. The server core depends only on this file; the
// ONNX implementation (onnx-engine.ts) sits behind it, so tests or another
// runtime can provide their own.
import { ErrorCode, FaceError } from './errors.js';

/** Pixel box in the coordinates of the decoded (EXIF-rotated) image. */
export interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

export type Point = [x: number, y: number];

/** Limits checked while decoding; each breach is a typed FaceError. */
export interface DecodeLimits {
  /** Largest accepted file, in bytes (IMAGE_FILE_TOO_LARGE). */
  maxBytes: number;
  /** Largest accepted width*height, checked from the header before decoding (IMAGE_RESOLUTION_TOO_LARGE). */
  maxPixels: number;
  /** Smallest accepted width and height (IMAGE_RESOLUTION_TOO_SMALL); 1 accepts anything. */
  minSide: number;
  /** Largest accepted long side / short side, from the header (IMAGE_RESOLUTION_TOO_SMALL); default 16. */
  maxAspectRatio?: number;
  /** Accepted container formats; anything else is UNSUPPORTED_IMAGE_FORMAT. */
  formats: ReadonlyArray<ImageFormat>;
}

export type ImageFormat = 'jpeg' | 'png' | 'bmp';

/** An image decoded once, EXIF orientation applied, as packed 8-bit RGB. */
export interface DecodedImage {
  format: ImageFormat;
  width: number;
  height: number;
  /** width*height*3 bytes, row-major RGB. */
  rgb: Uint8Array;
}

export interface DetectedFace {
  /**
   * The face's square, in the face's own frame: centre and side in image
   * pixels; for a face turned in the image plane the square is turned by
   * its roll (quality.roll) about its centre. Upright faces: the plain box.
   */
  box: Box;
  /** Detector confidence in [0,1]. */
  score: number;
  /** 68 landmark points in image pixels (iBUG 300-W order), labelled by anatomy whatever the rotation. */
  landmarks: Point[];
  /** The turn (degrees, multiple of 45) of the image or crop in which the face was found upright; 0 for upright faces. */
  orientation?: number;
}

/** What abandons work between model runs: an AbortSignal, or anything with its `aborted` flag. */
export interface Cancellation {
  readonly aborted: boolean;
  readonly reason?: unknown;
}

/** Per-call options of detect(). */
export interface DetectOptionsPerCall {
  /** Abandons the work between model runs (the client went away, or a deadline passed): FaceError ABORTED. */
  signal?: Cancellation;
}

/** One photo in, measured faces out: the whole pipeline in one call (see FaceEngine.analyze). */
export interface AnalyzeRequest extends DetectOptionsPerCall {
  limits: DecodeLimits;
  /** Faces measured, largest first; default all that are found. */
  maxFaces?: number;
  /** Measures wanted for each of those faces (the detection itself always). */
  quality?: boolean;
  feature?: boolean;
  liveness?: boolean;
  attributes?: boolean;
  /**
   * The caller is done with `bytes`: an engine in worker threads may move
   * them to the worker (a transfer, no copy) when they own their whole
   * ArrayBuffer, leaving the caller's array detached (empty). Default false:
   * the bytes are copied and stay the caller's.
   */
  transfer?: boolean;
}

export interface AnalyzedDetection extends DetectedFace {
  quality?: FaceQuality;
  /** L2-normalised. */
  feature?: Float32Array;
  liveness?: number;
  attributes?: FaceAttributes;
}

export interface ImageAnalysis {
  format: ImageFormat;
  width: number;
  height: number;
  /** Largest first, at most `maxFaces`. */
  faces: AnalyzedDetection[];
}

/** Measures used for admission checks; all computed on the face region. */
export interface FaceQuality {
  /** Degrees; 0 = frontal; yaw < 0 turned toward the image's right, pitch < 0 looking down. */
  yaw: number;
  pitch: number;
  /** In-plane rotation in (-180, 180], clockwise positive; 0 = upright, 180 = upside down. */
  roll: number;
  /** [0,1], 0 = sharp. */
  blur: number;
  /** Mean luma of the face region, 0-255. */
  brightness: number;
  /** Standard deviation of luma of the face region, 0-255. */
  brightnessStd: number;
  /** The face box's shorter side, in pixels. */
  size: number;
  /** Fraction of the face box inside the image, [0,1]. */
  completeness: number;
}

export type Expression = 'angry' | 'disgusted' | 'fearful' | 'happy' | 'neutral' | 'sad' | 'surprised';

export interface FaceAttributes {
  /** Estimated age in years. */
  age: number;
  gender: 'male' | 'female';
  /** Probability that the face is male, [0,1]. */
  genderScore: number;
  expression: Expression;
  expressionScore: number;
  /** Whether each eye is open, with the model's probability of "open". */
  eyes: { left: { open: boolean; score: number }; right: { open: boolean; score: number } };
}

/** Per-stage wall time of the last call, for benchmarks and the analyze tool. */
export type StageTimings = Record<string, number>;

export interface FaceEngine {
  /**
   * Version string of the feature model that terminals compare (`search_model`
   * in sync). Derived from the feature model file's sha256, so features from
   * different models are never mixed.
   */
  readonly searchModel: string;
  /** Model name -> version (sha256 prefix), for GET /api/version/v1 `detail`. */
  readonly modelVersions: Readonly<Record<string, string>>;
  /** Length of an embedding (512). */
  readonly featureLength: number;

  decode(bytes: Uint8Array, limits: DecodeLimits): Promise<DecodedImage>;
  /** All faces with landmarks, at any in-plane rotation, largest box first. */
  detect(image: DecodedImage, options?: DetectOptionsPerCall): Promise<DetectedFace[]>;
  quality(image: DecodedImage, face: DetectedFace): Promise<FaceQuality>;
  /** L2-normalised feature of the face aligned from its landmarks. */
  embed(image: DecodedImage, face: DetectedFace): Promise<Float32Array>;
  /** Probability in [0,1] that the face is a live person. */
  liveness(image: DecodedImage, face: DetectedFace): Promise<number>;
  attributes(image: DecodedImage, face: DetectedFace): Promise<FaceAttributes>;
  /**
   * decode + detect + the requested measures of each face, in one call. The
   * call to use on a server: an engine that runs in worker threads does the
   * whole photo in one worker, with no decoded image crossing threads.
   * FaceError BUSY when the engine's queue is full.
   */
  analyze(bytes: Uint8Array, request: AnalyzeRequest): Promise<ImageAnalysis>;
  /** Releases the ONNX sessions; later calls fail. */
  close(): Promise<void>;
}

/**
 * FaceEngine.analyze on the engine's own fine-grained methods (for engines
 * that run them in place); `done` is told when the decoded image is no longer
 * needed, whatever the outcome.
 */
export async function analyzeInPlace(engine: FaceEngine, bytes: Uint8Array, request: AnalyzeRequest,
  done?: (image: DecodedImage) => void): Promise<ImageAnalysis> {
  const image = await engine.decode(bytes, request.limits);
  try {
    return await measureFaces(engine, image, request);
  } finally {
    done?.(image);
  }
}

async function measureFaces(engine: FaceEngine, image: DecodedImage, request: AnalyzeRequest): Promise<ImageAnalysis> {
  const found = await engine.detect(image, { signal: request.signal });
  const faces: AnalyzedDetection[] = [];
  for (const face of found.slice(0, request.maxFaces ?? found.length)) {
    if (request.signal?.aborted) throw new FaceError(ErrorCode.Aborted, 'face analysis was abandoned', {}, { cause: request.signal.reason });
    const out: AnalyzedDetection = { ...face };
    if (request.quality) out.quality = await engine.quality(image, face);
    if (request.feature) out.feature = await engine.embed(image, face);
    if (request.liveness) out.liveness = await engine.liveness(image, face);
    if (request.attributes) out.attributes = await engine.attributes(image, face);
    faces.push(out);
  }
  return { format: image.format, width: image.width, height: image.height, faces };
}

/** Cosine similarity of two L2-normalised features, in [-1,1]. */
export function cosineSimilarity(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new RangeError(`feature lengths differ: ${a.length} vs ${b.length}`);
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i]! * b[i]!;
  return dot;
}
