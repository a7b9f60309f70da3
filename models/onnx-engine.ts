// The FaceEngine on onnxruntime-node: one InferenceSession per model,
// created once and verified against the model folder's manifest, calls to
// each session serialised (SessionQueue). All state lives in the instance.
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, FaceError } from './errors.js';
import type {
  AnalyzeRequest, Box, DecodeLimits, DecodedImage, DetectedFace, DetectOptionsPerCall, FaceAttributes, FaceEngine, FaceQuality, ImageAnalysis, StageTimings,
} from './engine.js';
import { analyzeInPlace } from './engine.js';
import { flushDenormalsOnThisThread } from './denormal-mode.js';
import { decodeImage } from './decode.js';
import { PyramidPool, type Pyramid, type ResampleTally } from './image-ops.js';
import { DETECT_DIMS, defaultDetectOptions, detectCandidates, type Candidate, type DetectOptions, type DetectorRun, type FaceRegion } from './detect.js';
import { LANDMARK_DIMS } from './landmarks.js';
import { FaceGeometry, SECOND_LOOK_SURE_LOGIT, type VerifiedFace } from './face-geometry.js';
import { headPose, rollFromLandmarks } from './head-pose.js';
import { ALIGN_SIZE, FEATURE_DIMS, alignedInput } from './align.js';
import { imageQuality } from './quality.js';
import {
  AGE_GENDER_SIZE, EXPRESSION_SIZE, EYE_SIZE, LIVENESS_SIZE, SSR_OUTPUT_NAMES, ageGenderInput, decodeExpression,
  decodeEyeOpen, decodeLiveness, expressionInput, eyeBox, eyeInput, livenessInput, ssrMerge, type SsrOutputs,
} from './attributes.js';
import { ModelIntegrityError, readManifest, verifyModelFiles } from './manifest.js';
import { SessionQueue, type SessionOptions, type SessionStats } from './session-queue.js';
import type * as ort from 'onnxruntime-node';

export const MODEL_FILES = Object.freeze({
  detect: 'fr_detect.onnx',
  landmark: 'fr_landmark.onnx',
  feature: 'fr_feature.onnx',
  liveness: 'fr_liveness.onnx',
  age: 'fr_age.onnx',
  gender: 'fr_gender.onnx',
  expression: 'fr_expression.onnx',
  eye: 'fr_eye.onnx',
} as const);
export type ModelName = keyof typeof MODEL_FILES;
const MODEL_NAMES = Object.keys(MODEL_FILES) as ModelName[];

/** Input shape of each model (all take one float32 tensor). */
export const INPUT_DIMS: Readonly<Record<ModelName, readonly number[]>> = Object.freeze({
  detect: DETECT_DIMS,
  landmark: LANDMARK_DIMS,
  feature: FEATURE_DIMS,
  liveness: [1, 3, LIVENESS_SIZE, LIVENESS_SIZE],
  age: [1, 3, AGE_GENDER_SIZE, AGE_GENDER_SIZE],
  gender: [1, 3, AGE_GENDER_SIZE, AGE_GENDER_SIZE],
  expression: [1, 3, EXPRESSION_SIZE, EXPRESSION_SIZE],
  eye: [1, 1, EYE_SIZE, EYE_SIZE],
});

/**
 * Models that run in well under a millisecond get one intra-op thread
 * whatever `intraOpThreads` says: waking a second thread for each of their
 * small operators costs more than it saves (measured: landmark 0.3 ms on one
 * thread, 0.4-0.7 ms on two).
 */
const SINGLE_THREADED: ReadonlySet<ModelName> = new Set(['landmark', 'eye', 'age', 'gender']);

/**
 * Models run on a thread of their session's own pool where the calling
 * thread does not flush denormals (no denormal-mode addon for the platform;
 * see SessionOptions.ownThread): fr_feature's activations go denormal on
 * real faces. On a thread without FTZ/DAZ it took 27-30 ms per face with its
 * denormal weights zeroed (100 ms with them), 19-21 ms on its own thread,
 * against 14-18 ms on a calling thread that flushes (the 8 enrolment photos;
 * one run's numbers vary by 10-20% with the machine's load).
 */
const OWN_THREAD: ReadonlySet<ModelName> = new Set(['feature']);

export const DEFAULT_MODEL_DIR = join(dirname(fileURLToPath(import.meta.url)), 'weights');

export interface OnnxEngineOptions {
  /** Folder with the .onnx files and their manifest.json; default models/weights. */
  modelDir?: string;
  /** Intra-op threads of each session (tiny models use one); default os.availableParallelism(). */
  intraOpThreads?: number;
  /** Detector thresholds and scales (see DetectOptions). */
  detect?: Partial<DetectOptions>;
  /**
   * Treat denormal floats as zero in every session (default true). Much
   * faster on x86 with these models; false reproduces stock ORT numerics.
   */
  flushDenormals?: boolean;
  /**
   * Run each model once on a blank input at start (default true): the first
   * run of a session allocates and plans, taking several times longer, and
   * should not land on the first request.
   */
  warmUp?: boolean;
}

/** The ONNX engine, with instrumentation for the benchmark and analyze tools. */
export interface OnnxFaceEngine extends FaceEngine {
  /** Wall time (ms) of the stages of the most recent call of each method; meaningful when calls do not overlap. */
  readonly lastTimings: Readonly<StageTimings>;
  /** Number of detector runs in the last detect() call (passes over the image and second looks). */
  readonly lastDetectPasses: number;
  /** The image rotations (degrees) the last detect() call searched. */
  readonly lastSearchedAngles: readonly number[];
  /** Runs and total time inside session.run, per model, since start or the last reset. */
  inferenceStats(): Record<ModelName, SessionStats>;
  /** Runs and total time of the image resampling (model inputs), per output shape, channels and kernel, since start or the last reset. */
  resampleStats(): Record<string, ResampleTally>;
  /** Zeroes inferenceStats() and resampleStats(). */
  resetInferenceStats(): void;
}

const FEATURE_LENGTH = 512;
const SHA_PREFIX = 12;

const modelVersion = (name: ModelName, sha256: string) => `${name}-${sha256.slice(0, SHA_PREFIX)}`;

/**
 * The searchModel an engine on `modelDir` reports, from its manifest alone
 * (no session is opened; the files are checked when an engine is created).
 * For tools and tests that write features "as if" from that model.
 */
export async function searchModelOf(modelDir: string = DEFAULT_MODEL_DIR): Promise<string> {
  const manifest = await readManifest(modelDir);
  const entry = manifest.files[MODEL_FILES.feature];
  if (!entry) throw new ModelIntegrityError(`${modelDir}/manifest.json does not list ${MODEL_FILES.feature}`, "manifest.json");
  return modelVersion('feature', entry.sha256);
}

function checkImage(image: DecodedImage): void {
  const { width, height, rgb } = image ?? {};
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || !(rgb instanceof Uint8Array) || rgb.length !== width * height * 3) {
    throw new FaceError(ErrorCode.IllegalArgument, 'not a decoded RGB image', { args: ['image'] });
  }
}

function checkFace(face: DetectedFace): void {
  const b = face?.box;
  if (!b || !(b.width > 0) || !(b.height > 0) || !Array.isArray(face.landmarks) || face.landmarks.length !== 68) {
    throw new FaceError(ErrorCode.IllegalArgument, 'face needs a box and 68 landmarks', { args: ['face'] });
  }
}

const elapsed = (since: number) => performance.now() - since;

const boxEdges = (b: Box) => ({ x1: b.left, y1: b.top, x2: b.left + b.width, y2: b.top + b.height });

/** Whether a found face and a candidate are one face: their centres closer than half the smaller side. */
function sameFace(box: Box, c: { x1: number; y1: number; x2: number; y2: number }): boolean {
  const side = Math.min(box.width, c.x2 - c.x1);
  return Math.hypot(box.left + box.width / 2 - (c.x1 + c.x2) / 2, box.top + box.height / 2 - (c.y1 + c.y2) / 2) < side / 2;
}

class Engine implements OnnxFaceEngine {
  readonly featureLength = FEATURE_LENGTH;
  readonly lastTimings: StageTimings = {};
  lastDetectPasses = 0;
  lastSearchedAngles: number[] = [];
  private closed = false;
  // Detection builds the pyramid; embed/quality/attributes of the same image
  // reuse it. analyze() closes it at the end, giving its memory back to the
  // pool; an image given to the methods one by one leaves it to the GC.
  private readonly pyramids = new WeakMap<DecodedImage, Pyramid>();
  private readonly pyramidPool = new PyramidPool();

  constructor(
    private readonly sessions: Record<ModelName, SessionQueue>,
    readonly searchModel: string,
    readonly modelVersions: Readonly<Record<string, string>>,
    private readonly detectOptions: DetectOptions,
  ) {}

  private assertOpen(): void {
    if (this.closed) throw new FaceError(ErrorCode.Internal, 'face engine is closed');
  }

  private pyramid(image: DecodedImage): Pyramid {
    let pyr = this.pyramids.get(image);
    if (!pyr) {
      pyr = this.pyramidPool.pyramid(image);
      this.pyramids.set(image, pyr);
    }
    return pyr;
  }

  private async run(model: ModelName, input: Float32Array, dims: readonly number[]): Promise<ort.InferenceSession.ReturnType> {
    try {
      return await this.sessions[model].run(input, dims);
    } catch (err) {
      throw new FaceError(ErrorCode.Internal, `model ${model} failed: ${(err as Error).message}`, {}, { cause: err });
    }
  }

  private async output(model: ModelName, input: Float32Array, dims: readonly number[], name = 'output'): Promise<Float32Array> {
    const out = (await this.run(model, input, dims))[name];
    if (!out) throw new FaceError(ErrorCode.Internal, `model ${model} has no output ${name}`);
    return out.data as Float32Array;
  }

  async decode(bytes: Uint8Array, limits: DecodeLimits): Promise<DecodedImage> {
    this.assertOpen();
    const started = performance.now();
    try {
      return await decodeImage(bytes, limits);
    } finally {
      this.lastTimings.decode = elapsed(started);
    }
  }

  /**
   * Faces at any in-plane rotation. The upright image is searched first; the
   * image turned by 90, 180 and 270 degrees only when that finds no face, a
   * face that is itself turned (then the whole photo probably is) or one
   * whose second look is weak, and the diagonal turns only when still so. Each candidate is
   * verified in face-geometry.ts (orientation, second look, landmarks).
   */
  async detect(image: DecodedImage, options: DetectOptionsPerCall = {}): Promise<DetectedFace[]> {
    this.assertOpen();
    checkImage(image);
    const started = performance.now();
    const pyr = this.pyramid(image);
    const { signal } = options;
    const guard = () => {
      if (signal?.aborted) throw new FaceError(ErrorCode.Aborted, 'face detection was abandoned', {}, { cause: signal.reason });
    };
    let passes = 0, verifyMs = 0;
    const detector: DetectorRun = async (input) => {
      passes++;
      const out = await this.run('detect', input, DETECT_DIMS);
      return { scores: out.scores!.data as Float32Array, boxes: out.boxes!.data as Float32Array };
    };
    // One detector input buffer for every pass and second look of this call.
    const detectorInput = new Float32Array(3 * DETECT_DIMS[2] * DETECT_DIMS[3]);
    const geometry = new FaceGeometry((input) => this.output('landmark', input, LANDMARK_DIMS), detector, detectorInput);
    const found: VerifiedFace[] = [];
    const searched: number[] = [];
    const search = async (angles: readonly number[], near?: FaceRegion[]) => {
      searched.push(...angles);
      // No suppression across angles: the best detector score of one face
      // is often a wrong turn of it; the second look decides between them.
      const candidates: Candidate[] = [];
      for (const angle of angles) candidates.push(...await detectCandidates(pyr, detector, this.detectOptions, angle, guard, near, detectorInput));
      const t = performance.now();
      for (const c of candidates) {
        if (found.some((f) => f.secondLook >= SECOND_LOOK_SURE_LOGIT && sameFace(f.box, c))) continue;
        guard();
        const face = await geometry.verify(pyr, c);
        if (!face) continue;
        // One face seen from two passes: keep the view the second look liked best.
        const same = found.findIndex((f) => sameFace(f.box, boxEdges(face.box)));
        if (same < 0) found.push(face);
        else if (face.secondLook > found[same]!.secondLook) found[same] = face;
      }
      verifyMs += performance.now() - t;
    };
    const weak = (f: VerifiedFace) => f.secondLook < SECOND_LOOK_SURE_LOGIT;
    const unsure = () => found.length === 0 || found.some((f) => f.orientation !== 0 || weak(f));
    // When every face found is upright, the photo is upright and the turned
    // passes are only a second view of the weak faces: just the passes that
    // can see one of them run (same candidates for those faces, a fraction
    // of the detector runs: 7 instead of 45 on a 700x700 enrolment photo).
    const turnedSearch = (angles: readonly number[]) => search(angles,
      found.length > 0 && found.every((f) => f.orientation === 0) ? found.filter(weak).map(({ box }) => ({ cx: box.left + box.width / 2, cy: box.top + box.height / 2, side: box.width })) : undefined);
    await search([0]);
    if (unsure()) await turnedSearch([90, 180, 270]);
    if (unsure()) await turnedSearch([45, 135, 225, 315]);
    this.lastDetectPasses = passes;
    this.lastSearchedAngles = searched;
    this.lastTimings.landmarks = verifyMs;
    this.lastTimings.detect = elapsed(started) - verifyMs;
    const faces: DetectedFace[] = found.map((f) => ({ box: f.box, score: f.score, landmarks: f.landmarks, orientation: f.orientation }));
    faces.sort((p, q) => q.box.width * q.box.height - p.box.width * p.box.height);
    return faces;
  }

  async quality(image: DecodedImage, face: DetectedFace): Promise<FaceQuality> {
    this.assertOpen();
    checkImage(image);
    checkFace(face);
    const started = performance.now();
    const pose = headPose(face.landmarks);
    const rest = imageQuality(this.pyramid(image), face.box, pose.roll);
    this.lastTimings.quality = elapsed(started);
    return { ...pose, ...rest };
  }

  async embed(image: DecodedImage, face: DetectedFace): Promise<Float32Array> {
    this.assertOpen();
    checkImage(image);
    checkFace(face);
    let started = performance.now();
    const input = new Float32Array(3 * ALIGN_SIZE * ALIGN_SIZE);
    try {
      alignedInput(this.pyramid(image), face.landmarks, input);
    } catch (err) {
      // Degenerate landmarks (all five points coincide): no alignment exists.
      throw new FaceError(ErrorCode.IllegalArgument, `cannot align face: ${(err as Error).message}`, { args: ['face'] }, { cause: err });
    }
    this.lastTimings.align = elapsed(started);
    started = performance.now();
    const raw = await this.output('feature', input, FEATURE_DIMS);
    let norm = 0;
    for (let i = 0; i < raw.length; i++) norm += raw[i]! * raw[i]!;
    norm = Math.sqrt(norm);
    if (!(norm > 0)) throw new FaceError(ErrorCode.Internal, 'feature model returned a zero vector');
    const feature = new Float32Array(raw.length);
    for (let i = 0; i < raw.length; i++) feature[i] = raw[i]! / norm;
    this.lastTimings.feature = elapsed(started);
    return feature;
  }

  async liveness(image: DecodedImage, face: DetectedFace): Promise<number> {
    this.assertOpen();
    checkImage(image);
    checkFace(face);
    const started = performance.now();
    const input = new Float32Array(3 * LIVENESS_SIZE * LIVENESS_SIZE);
    livenessInput(this.pyramid(image), face.box, rollFromLandmarks(face.landmarks), input);
    const score = decodeLiveness(await this.output('liveness', input, INPUT_DIMS.liveness));
    this.lastTimings.liveness = elapsed(started);
    return score;
  }

  private async ssr(model: 'age' | 'gender', input: Float32Array): Promise<SsrOutputs> {
    const out = await this.run(model, input, INPUT_DIMS[model]);
    const get = (name: string) => out[name]!.data as Float32Array;
    const three = <T>(f: (name: string) => T, names: readonly string[]) => names.map(f) as [T, T, T];
    return {
      prob: three(get, SSR_OUTPUT_NAMES.prob),
      delta: three((n) => get(n)[0]!, SSR_OUTPUT_NAMES.delta),
      offset: three(get, SSR_OUTPUT_NAMES.offset),
    };
  }

  async attributes(image: DecodedImage, face: DetectedFace): Promise<FaceAttributes> {
    this.assertOpen();
    checkImage(image);
    checkFace(face);
    const started = performance.now();
    const pyr = this.pyramid(image);

    const ageGender = new Float32Array(3 * AGE_GENDER_SIZE * AGE_GENDER_SIZE);
    const roll = rollFromLandmarks(face.landmarks);
    ageGenderInput(pyr, face.box, roll, ageGender);
    const age = ssrMerge(await this.ssr('age', ageGender), 101);
    const genderScore = Math.min(1, Math.max(0, ssrMerge(await this.ssr('gender', ageGender), 1)));

    const expressionIn = new Float32Array(3 * EXPRESSION_SIZE * EXPRESSION_SIZE);
    expressionInput(pyr, face.box, roll, expressionIn);
    const { expression, score: expressionScore } = decodeExpression(await this.output('expression', expressionIn, INPUT_DIMS.expression));

    const eye = async (side: 'left' | 'right') => {
      const input = new Float32Array(EYE_SIZE * EYE_SIZE);
      eyeInput(pyr, eyeBox(face.landmarks, side), roll, input);
      const score = decodeEyeOpen(await this.output('eye', input, INPUT_DIMS.eye));
      return { open: score >= 0.5, score };
    };
    // left/right as seen in the image (landmarks 36-41 are the image-left eye).
    const eyes = { left: await eye('left'), right: await eye('right') };
    this.lastTimings.attributes = elapsed(started);
    // The demo app calls a face male above 0.6; we use the symmetric 0.5.
    return { age, gender: genderScore >= 0.5 ? 'male' : 'female', genderScore, expression, expressionScore, eyes };
  }

  analyze(bytes: Uint8Array, request: AnalyzeRequest): Promise<ImageAnalysis> {
    return analyzeInPlace(this, bytes, request, (image) => {
      this.pyramids.get(image)?.close();
      this.pyramids.delete(image);
    });
  }

  inferenceStats(): Record<ModelName, SessionStats> {
    return Object.fromEntries(MODEL_NAMES.map((m) => [m, this.sessions[m].stats])) as Record<ModelName, SessionStats>;
  }

  resampleStats(): Record<string, ResampleTally> {
    return this.pyramidPool.stats.snapshot();
  }

  resetInferenceStats(): void {
    for (const m of MODEL_NAMES) this.sessions[m].resetStats();
    this.pyramidPool.stats.reset();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(MODEL_NAMES.map((m) => this.sessions[m].close()));
  }
}

/** Session options of one model (also used by the benchmark for its bare sessions). */
export function sessionOptions(model: ModelName, intraOpThreads: number, flushDenormals = true): SessionOptions {
  return { intraOpThreads: SINGLE_THREADED.has(model) ? 1 : intraOpThreads, flushDenormals, ownThread: OWN_THREAD.has(model) };
}

/**
 * Verifies the model files against `<modelDir>/manifest.json` (throws
 * ModelIntegrityError naming the file on a missing file or sha256
 * mismatch), then opens one session per model.
 */
export async function createOnnxEngine(options: OnnxEngineOptions = {}): Promise<OnnxFaceEngine> {
  const modelDir = options.modelDir ?? DEFAULT_MODEL_DIR;
  const intraOpThreads = options.intraOpThreads ?? availableParallelism();
  if (!Number.isInteger(intraOpThreads) || intraOpThreads < 1) throw new RangeError(`intraOpThreads must be a positive integer, got ${intraOpThreads}`);
  const hashes = await verifyModelFiles(modelDir, Object.values(MODEL_FILES));
  // The sessions' graphs run on this thread (one intra-op thread, or as the
  // pool's caller): FTZ/DAZ on it, where the addon exists.
  const flushDenormals = options.flushDenormals ?? true;
  if (flushDenormals) flushDenormalsOnThisThread();

  const opened: SessionQueue[] = [];
  try {
    const sessions = {} as Record<ModelName, SessionQueue>;
    for (const name of MODEL_NAMES) {
      sessions[name] = await SessionQueue.open(name, join(modelDir, MODEL_FILES[name]), sessionOptions(name, intraOpThreads, flushDenormals));
      opened.push(sessions[name]);
    }
    if (options.warmUp ?? true) {
      for (const name of MODEL_NAMES) {
        const dims = INPUT_DIMS[name];
        await sessions[name].run(new Float32Array(dims.reduce((a, b) => a * b, 1)), dims);
        sessions[name].resetStats();
      }
    }
    // "<model>-<sha256 prefix>": self-describing, and the feature entry is
    // exactly searchModel, so /api/version's detail and sync's search_model agree.
    const versions = Object.fromEntries(MODEL_NAMES.map((m) => [m, modelVersion(m, hashes[MODEL_FILES[m]]!)]));
    return new Engine(sessions, versions.feature!, Object.freeze(versions), { ...defaultDetectOptions, ...options.detect });
  } catch (err) {
    await Promise.all(opened.map((s) => s.close()));
    throw err;
  }
}
