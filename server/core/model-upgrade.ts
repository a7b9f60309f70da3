// Model upgrade in the background (spec 底库同步: 模型版本不一致 -> the
// terminal drops every feature and takes the new model's).
//
// When the server starts with a feature model other than the one of the
// served features, it serves at once, still with the old features (sync,
// push, admin), and re-extracts every live face from its stored photo
// through the engine (the worker pool), a few at a time so requests still
// get workers. The new features are stored beside the old ones; a face
// enrolled meanwhile is extracted by the new model and stored the same way.
// When every live face has a new feature (or a failure mark), one store
// transaction switches: the new features become the served ones. Terminals
// then get RESET (their search_model is the old one) and the push channel
// asks them to reconnect, so they sync at once.
//
// Crash-safe: the staged features and the upgrade record are in the store;
// a restart continues where it stopped, and until the switch's commit only
// the old features are served.
//
// The server's own 1:N search compares probes of the engine's (new) model:
// during the upgrade it reads the new features (`searchFeatures`), so it
// finds the faces done so far and those enrolled since, never an old one.
//
// A face whose photo gives no feature of the new model (photo missing or
// unreadable, or the detector no longer finds the enrolled face) is kept
// (record, photo, bindings) without a feature: named in the log with the
// reason and counted; terminals get it with an all-zero feature, which
// matches nobody; the server's search never finds it. Enrol it again or
// delete it.
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { DecodeLimits, FaceEngine } from '../../models/engine.js';
import { ErrorCode, isFaceError } from '../../models/errors.js';
import type { FaceRecord, FaceStore, FeatureUpgradeState } from '../../storage/store.js';
import type { FaceToken } from './ids.js';
import { boxToRect, rectOverlap } from './geometry.js';

export type UpgradePhase = 'idle' | 'running' | 'switching' | 'done';

export interface UpgradeProgress {
  phase: UpgradePhase;
  /** Model of the served features (the old one until the switch). */
  served: string;
  /** The engine's model, which the upgrade goes to. */
  target: string;
  /** Model being replaced (present once an upgrade ran or runs). */
  from?: string;
  /** Live faces now. */
  total: number;
  /** Live faces with a new feature (or a failure mark). */
  done: number;
  /** Live faces whose photo failed with the new model. */
  failed: number;
  /** Faces re-extracted by this process (counter). */
  extracted: number;
  /** Engine refusals (pool busy) retried by this process (counter). */
  retries: number;
  startedAt?: number;
  switchedAt?: number;
}

export interface ModelUpgradeOptions {
  /** Faces re-extracted at once (default 1): the rest of the pool stays free for requests. */
  concurrency?: number;
  /** First wait after the pool refused (busy), ms; doubled per refusal up to 16x (default 100). */
  retryMs?: number;
  /** Tries for a face when the engine fails otherwise (not busy), before it counts as failed (default 3). */
  attempts?: number;
  /** Test hook: awaited before each face is re-extracted, so a test holds the upgrade where it wants. */
  gate?: (face: FaceToken) => Promise<void>;
}

/** Smallest overlap (intersection over union) with the stored rect for a detection to count as the same face. */
const MIN_OVERLAP = 0.5;
const PAGE = 64;

type Extracted = { feature: Float32Array } | { failed: string };

export class ModelUpgrade {
  #served: string;
  #phase: UpgradePhase = 'idle';
  #state: FeatureUpgradeState | undefined;
  #extracted = 0;
  #retries = 0;
  #switchedAt: number | undefined;
  #from: string | undefined;
  #running: Promise<void> | undefined;
  #closed = false;
  /** Aborted by close(): ends every wait (retry sleeps of all workers, the test gate) at once. */
  readonly #closing = new AbortController();
  readonly #closedSignal: Promise<void>;
  readonly #switched: Array<(model: string) => void | Promise<void>> = [];
  readonly #staged: Array<(tokens: FaceToken[]) => void | Promise<void>> = [];
  readonly #options: Required<Omit<ModelUpgradeOptions, 'gate'>> & Pick<ModelUpgradeOptions, 'gate'>;

  private constructor(
    private readonly engine: FaceEngine,
    private readonly store: FaceStore,
    private readonly logger: Logger,
    /** Limits for decoding stored photos: they passed enrolment, so enrolment's limits. */
    private readonly limits: DecodeLimits,
    options: ModelUpgradeOptions,
    served: string,
  ) {
    this.#served = served;
    this.#closedSignal = new Promise((resolve) => this.#closing.signal.addEventListener('abort', () => resolve(), { once: true }));
    this.#options = { concurrency: 1, retryMs: 100, attempts: 3, ...options };
  }

  /**
   * Reads the store's upgrade state (O(models), no face record read) and
   * begins or resumes an upgrade when the engine's model is not the served
   * one. Call start() to run it.
   */
  static async open(engine: FaceEngine, store: FaceStore, logger: Logger, limits: DecodeLimits, options: ModelUpgradeOptions = {}): Promise<ModelUpgrade> {
    const target = engine.searchModel;
    const [state, counts, marker] = await Promise.all([store.featureUpgrade(), store.featureModels(), store.servedFeatureModel()]);
    const others = [...counts].filter(([model, count]) => model !== target && count > 0).sort((a, b) => b[1] - a[1]);
    const needed = state !== undefined || others.length > 0 || (marker !== undefined && marker !== target && counts.size > 0);
    if (!needed) return new ModelUpgrade(engine, store, logger, limits, options, target);
    // The model the terminals hold now: the recorded one, else the most common other one.
    const from = state?.from ?? marker ?? others[0]?.[0] ?? target;
    const begun = state?.to === target ? state : await store.beginFeatureUpgrade(target, from);
    const upgrade = new ModelUpgrade(engine, store, logger, limits, options, begun.from);
    upgrade.#state = begun;
    upgrade.#from = begun.from;
    upgrade.#phase = 'running';
    logger.warn(
      { from: begun.from, to: target, done: begun.staged + begun.failed, total: begun.total, resumed: state?.to === target },
      'model upgrade: serving the old features while the faces are re-extracted in the background',
    );
    return upgrade;
  }

  /** Model of the features served to terminals (sync header, push hello): the old one until the switch. */
  get servedModel(): string {
    return this.#served;
  }

  /** Whether the served features are not yet the engine's model's. */
  get upgrading(): boolean {
    return this.#phase === 'running' || this.#phase === 'switching';
  }

  get progress(): UpgradeProgress {
    const state = this.#state;
    return {
      phase: this.#phase,
      served: this.#served,
      target: this.engine.searchModel,
      ...(this.#from !== undefined ? { from: this.#from } : {}),
      total: state?.total ?? 0,
      done: state ? Math.min(state.total, state.staged + state.failed) : 0,
      failed: state?.failed ?? 0,
      extracted: this.#extracted,
      retries: this.#retries,
      ...(state ? { startedAt: state.startedAt } : {}),
      ...(this.#switchedAt !== undefined ? { switchedAt: this.#switchedAt } : {}),
    };
  }

  /** Re-reads the counts from the store (enrolments meanwhile change them); what reports call before reading `progress`. */
  async refreshProgress(): Promise<UpgradeProgress> {
    if (this.upgrading && !this.#closed) await this.#refreshState();
    return this.progress;
  }

  /** Called after the switch's commit, with the new served model (before terminals are told). */
  onSwitched(listener: (model: string) => void | Promise<void>): void {
    this.#switched.push(listener);
  }

  /** Called after new features of these faces were stored (the search index takes them). */
  onStaged(listener: (tokens: FaceToken[]) => void | Promise<void>): void {
    this.#staged.push(listener);
  }

  /**
   * The store as a search over the engine's model reads it: during the
   * upgrade, getFeatures, getFaces and getFace answer the new features (staged ones;
   * none for a face not re-extracted yet), so probes of the new model are
   * never compared with old features.
   */
  searchFeatures(store: FaceStore): FaceStore {
    const model = this.engine.searchModel;
    return new Proxy(store, {
      get: (target, prop) => {
        if (prop === 'getFeatures') {
          return (tokens: readonly FaceToken[]) => (this.upgrading ? target.getFeaturesOf(model, tokens) : target.getFeatures(tokens));
        }
        if (prop === 'getFaces') return (tokens: readonly FaceToken[]) => this.#facesOfModel(target, model, tokens);
        if (prop === 'getFace') return async (token: FaceToken) => (await this.#facesOfModel(target, model, [token]))[0];
        const value = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }

  async #facesOfModel(store: FaceStore, model: string, tokens: readonly FaceToken[]): Promise<Array<FaceRecord | undefined>> {
    if (!this.upgrading) return store.getFaces(tokens);
    const [faces, features] = await Promise.all([store.getFaces(tokens), store.getFeaturesOf(model, tokens)]);
    return faces.map((face, i) =>
      face && face.deletedAt === null ? { ...face, modelVersion: features[i] ? model : face.modelVersion, feature: features[i] ?? new Float32Array(0) } : face,
    );
  }

  /** Runs the upgrade in the background; resolves once switched (or closed). Idempotent. */
  start(): Promise<void> {
    if (!this.upgrading) return Promise.resolve();
    this.#running ??= this.#run().catch((err) => {
      if (!this.#closed) this.logger.error({ err }, 'model upgrade stopped; it resumes at the next start');
    });
    return this.#running;
  }

  /** Stops re-extracting (the upgrade resumes at the next start) and waits for the faces in flight. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#closing.abort();
    await this.#running;
  }

  async #run(): Promise<void> {
    const target = this.engine.searchModel;
    for (let pass = 0; !this.#closed; pass++) {
      await this.#extractAll(target);
      if (this.#closed) return;
      this.#phase = 'switching';
      const started = performance.now();
      const result = await this.store.finishFeatureUpgrade(target);
      if (!result.switched) {
        // Faces added meanwhile with another model's feature: one more pass for them.
        this.#phase = 'running';
        this.logger.info({ pending: result.pending.length, pass }, 'model upgrade: faces left to re-extract before the switch');
        await this.#refreshState();
        continue;
      }
      this.#served = target;
      this.#phase = 'done';
      this.#switchedAt = Date.now();
      if (this.#state) this.#state = { ...this.#state, staged: result.faces, failed: result.failedCount, total: result.faces + result.failedCount };
      for (const { faceToken, reason } of result.failed) {
        this.logger.warn({ faceToken, reason }, 'model upgrade: face kept without a feature (its photo failed with the new model); enrol it again');
      }
      this.logger.warn(
        { from: this.#from, to: target, faces: result.faces, failed: result.failedCount, switchMs: Math.round(performance.now() - started) },
        'model upgrade done: the new features are served; terminals get a RESET',
      );
      for (const listener of this.#switched) {
        try {
          await listener(target);
        } catch (err) {
          this.logger.error({ err }, 'model upgrade: a switch listener failed');
        }
      }
      return;
    }
  }

  async #refreshState(): Promise<void> {
    this.#state = (await this.store.featureUpgrade()) ?? this.#state;
  }

  /** One pass over the faces that still need a new feature, `concurrency` at a time. */
  async #extractAll(target: string): Promise<void> {
    let after: FaceToken | undefined;
    let logged = 0;
    for (;;) {
      if (this.#closed) return;
      const page = await this.store.facesToUpgrade({ ...(after ? { after } : {}), limit: PAGE });
      if (page.length === 0) return;
      after = page[page.length - 1]!.faceToken as FaceToken;
      let next = 0;
      const staged: FaceToken[] = [];
      const worker = async () => {
        while (next < page.length && !this.#closed) {
          const face = page[next++]!;
          const token = face.faceToken as FaceToken;
          if (this.#options.gate) await Promise.race([this.#options.gate(token), this.#closedSignal]);
          if (this.#closed) return;
          const outcome = await this.#extract(face);
          if (!outcome) return; // closed while waiting
          if ('feature' in outcome) {
            if (await this.store.stageFeature(token, target, outcome.feature)) {
              staged.push(token);
              if (this.#state) this.#state = { ...this.#state, staged: this.#state.staged + 1 };
            }
          } else if (await this.store.markUpgradeFailed(token, target, outcome.failed)) {
            if (this.#state) this.#state = { ...this.#state, failed: this.#state.failed + 1 };
            this.logger.warn({ faceToken: token, reason: outcome.failed }, 'model upgrade: no feature of the new model for this face');
          }
          this.#extracted++;
        }
      };
      await Promise.all(Array.from({ length: Math.max(1, this.#options.concurrency) }, worker));
      await this.#refreshState();
      if (staged.length > 0) {
        for (const listener of this.#staged) {
          try {
            await listener(staged);
          } catch (err) {
            this.logger.error({ err }, 'model upgrade: a staged-features listener failed');
          }
        }
      }
      const { done, total } = this.progress;
      // About every 5 % (and every page in small libraries): enough to watch, not a line per face.
      if (done - logged >= Math.max(PAGE, total / 20) || done >= total) {
        logged = done;
        this.logger.info({ done, total, failed: this.#state?.failed ?? 0, from: this.#from, to: target }, 'model upgrade in progress');
      }
    }
  }

  /** The new model's feature of the stored face, or why there is none; undefined if closed meanwhile. */
  async #extract(face: FaceRecord): Promise<Extracted | undefined> {
    const photo = await this.store.getImage(face.imageId);
    if (!photo || photo.bytes.length === 0) return { failed: 'photo missing' };
    let refusals = 0;
    for (let attempt = 1; ; ) {
      try {
        const image = await this.engine.analyze(photo.bytes, { limits: this.limits, feature: true });
        let best = { score: 0, index: -1 };
        image.faces.forEach((detection, index) => {
          const score = rectOverlap(boxToRect(detection.box, image.width, image.height), face.rect);
          if (score > best.score) best = { score, index };
        });
        if (best.score < MIN_OVERLAP) {
          return { failed: `the photo no longer shows the enrolled face (best overlap ${best.score.toFixed(2)}, ${image.faces.length} faces found)` };
        }
        return { feature: image.faces[best.index]!.feature! };
      } catch (err) {
        if (this.#closed) return undefined;
        if (isFaceError(err) && err.code === ErrorCode.Busy) {
          // The pool's queue is full of requests: they go first; wait and retry, never fail.
          this.#retries++;
          await this.#sleep(this.#options.retryMs * 2 ** Math.min(4, refusals++));
          if (this.#closed) return undefined;
          continue;
        }
        const reason = err instanceof Error ? err.message : String(err);
        // A photo the engine rejects stays rejected; anything else may pass.
        if ((isFaceError(err) && err.code !== ErrorCode.Internal) || attempt >= this.#options.attempts) return { failed: reason };
        attempt++;
        this.logger.warn({ faceToken: face.faceToken, err }, 'model upgrade: re-extraction failed; retrying');
        await this.#sleep(this.#options.retryMs);
        if (this.#closed) return undefined;
      }
    }
  }

  /** Waits `ms`, or less when closed meanwhile. */
  #sleep(ms: number): Promise<void> {
    return delay(ms, undefined, { signal: this.#closing.signal }).catch(() => undefined);
  }
}
