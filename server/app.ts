// Wires one server: store + engine + core, the dialects' routers on one Koa
// app, and the http.Server. Knows no business rules; owns the lifecycle.
import { mkdirSync } from 'node:fs';
import { createServer, type RequestListener, type Server } from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import Router from '@koa/router';
import type { Logger } from 'pino';
import { createLogger, isClientFault } from './logging.js';
import type { ServerConfig } from './config.js';
import { resolveAccessKeys, type AccessKeys } from './keys.js';
import { Authenticator } from './http/auth.js';
import { ServerMetrics } from './http/metrics.js';
import { discardUnreadBody } from './http/unread-body.js';
import { answerHealth, answerNotReady, Readiness } from './http/health.js';
import { Enrolment } from './core/enrolment.js';
import { FaceLibrary } from './core/face-library.js';
import { ModelUpgrade, type ModelUpgradeOptions } from './core/model-upgrade.js';
import { registerModelUpgradeMetrics, upgradeDetail } from './model-upgrade-report.js';
import { facepassRouter } from './facepass/routes.js';
import { facepassRoute } from './facepass/envelope.js';
import { facepassFallback } from './facepass/fallback.js';
import type { FaceEngine } from '../models/engine.js';
import { createOnnxEngine, createPooledEngine } from '../models/index.js';
import type { FaceStore } from '../storage/store.js';
import { openLmdbDeviceKeys, openLmdbStore, openLmdbSyncStatus, type DeviceKeyStore, type SyncStatusStore } from '../storage/index.js';
import { DeviceRegistry } from './core/device-registry.js';
import { deviceRouter } from './facepass/device-routes.js';
import { SyncService } from './sync/sync-service.js';
import { GroupBodyCache } from './sync/body-cache.js';
import { SnapshotStore } from './sync/snapshot-store.js';
import { WireFaceReader } from './sync/wire-faces.js';
import { registerSyncMetrics } from './sync-metrics.js';
import { registerMemoryMetrics } from './memory-metrics.js';
import { syncRouter } from './facepass/sync-routes.js';
import { SERVER_VERSION } from './version.js';
import { PushHub, type PushHubOptions } from './push/index.js';
import { FaceIndex, SearchService } from './core/search/index.js';
import { Recognition } from './core/recognition.js';
import { Thresholds } from './core/thresholds.js';
import { recognitionRouter } from './facepass/recognition-routes.js';
import { ConsoleSessions } from './console/sessions.js';
import { ConsoleSessionCheck } from './console/session-check.js';
import { ConsoleAssets } from './console/assets.js';
import { consoleRouter } from './console/console-routes.js';
import { consoleApiRouter } from './console/console-api.js';
import { diskBytes } from './console/disk-bytes.js';
import { GroupFaces } from './core/group-faces.js';
import { FaceInspector } from './core/face-inspector.js';
import { TerminalOverview } from './core/terminal-overview.js';
import { DEFAULT_LIBRARY } from './core/ids.js';
import { FaceAnalysis } from './core/face-analysis.js';
import { UserDirectory } from './core/user-directory.js';
import { AccessTokens } from './baidu/access-tokens.js';
import { libraryOps } from './baidu/library-ops.js';
import { visionOps } from './baidu/vision-ops.js';
import { matchOps } from './baidu/match-ops.js';
import { searchOps } from './baidu/search-ops.js';
import { baiduFallback, baiduRouter } from './baidu/routes.js';
import { backupRouter } from './backup/route.js';
import type { GroupName } from './core/ids.js';
import { SidCredentials } from './sid/credentials.js';
import { sidOps } from './sid/ops.js';
import { sidRouter } from './sid/routes.js';
import { removeStaleStaging } from './backup/archive.js';

export interface FaceServerOptions {
  config: ServerConfig;
  /** Defaults to a pino logger at config.logLevel. */
  logger?: Logger;
  /** An engine owned by the caller (not closed by the server); by default the server loads and owns one. */
  engine?: FaceEngine;
  /** Push channel tuning (heartbeat, hello timeout, coalescing); defaults in server/push/options.ts. */
  push?: Partial<PushHubOptions>;
  /** Called once the port is bound, before models load (health checks answer from then on). */
  onListening?: (url: string) => void;
  /** Model upgrade tuning and test hooks; concurrency defaults to config.modelUpgradeConcurrency. */
  modelUpgrade?: ModelUpgradeOptions;
  /**
   * The sync status store instead of the one in dataDir/sync-status (tests:
   * one whose writes can be held). The server closes it like its own.
   */
  syncStatus?: SyncStatusStore;
}

export class FaceServer {
  private closing: Promise<void> | undefined;
  /** The push channel (protocol §12); assigned in start(), closed first in shutdown(). */
  push!: PushHub;
  /** 1:N search over the live groups (server/core/search): what every dialect's recognition calls. */
  search!: SearchService;
  /** The in-memory index behind `search`, following the store's commits; closed in shutdown(). */
  faceIndex!: FaceIndex;
  /** Per-terminal credentials; assigned in start(), closed with the other stores. */
  deviceKeys!: DeviceKeyStore;
  /** What /readyz reports; assigned in start(). */
  readiness!: Readiness;
  /** The background model upgrade (idle unless the engine's model is not the served one); assigned in start(). */
  modelUpgrade!: ModelUpgrade;

  private constructor(
    readonly config: ServerConfig,
    readonly logger: Logger,
    readonly keys: AccessKeys,
    readonly store: FaceStore,
    private readonly syncStatus: SyncStatusStore,
    readonly snapshots: SnapshotStore,
    readonly syncBodies: GroupBodyCache,
    readonly engine: FaceEngine,
    private readonly ownsEngine: boolean,
    readonly httpServer: Server,
    private readonly timers: NodeJS.Timeout[],
    private readonly consoleSessions: ConsoleSessions,
  ) {}

  static async start(options: FaceServerOptions): Promise<FaceServer> {
    const { config } = options;
    const logger = options.logger ?? createLogger({ level: config.logLevel });
    mkdirSync(config.dataDir, { recursive: true });
    const keys = resolveAccessKeys(config.dataDir, config.adminKey, config.deviceKey);

    // Listen first: /healthz and /readyz answer (503 with the reason on
    // /readyz) while models load, the store opens and features migrate, so
    // an orchestrator does not kill a server that is busy starting.
    const readiness = new Readiness();
    let appCallback: RequestListener | undefined;
    const httpServer = createServer((req, res) => {
      if (answerHealth(req, res, readiness)) return;
      if (appCallback) appCallback(req, res);
      else answerNotReady(req, res, readiness);
    });
    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(config.port, config.host, () => {
        httpServer.off('error', reject);
        resolve();
      });
    });
    options.onListening?.(`http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`);
    const stopListening = () => new Promise<void>((resolve) => httpServer.close(() => resolve()));

    let engine: FaceEngine;
    try {
      readiness.notReady('loading models');
      engine = options.engine ?? (config.engineWorkers > 0
        ? await createPooledEngine({ modelDir: config.modelDir, intraOpThreads: config.engineThreads, workers: config.engineWorkers, maxQueue: config.engineQueue, nice: config.engineNice })
        : await createOnnxEngine({ modelDir: config.modelDir, intraOpThreads: config.engineThreads }));
    } catch (err) {
      await stopListening();
      throw err;
    }
    let store: FaceStore | undefined;
    let syncStatus: SyncStatusStore | undefined;
    let deviceKeys: DeviceKeyStore | undefined;
    let snapshots: SnapshotStore;
    let wireFaces: WireFaceReader;
    let faceIndex: FaceIndex | undefined;
    let thresholds: Thresholds;
    let upgrade: ModelUpgrade;
    let searchStore: FaceStore;
    try {
      readiness.notReady('opening store');
      await removeStaleStaging(config.dataDir);
      store = await openLmdbStore({ path: join(config.dataDir, 'store') });
      // A new feature model starts a background upgrade (model-upgrade.ts):
      // terminals are served the old features until its switch, the
      // server's own search (probes of the engine's model) the new ones.
      readiness.notReady('checking the feature model');
      upgrade = await ModelUpgrade.open(engine, store, logger, config.faceAddImage, {
        concurrency: config.modelUpgradeConcurrency,
        ...options.modelUpgrade,
      });
      searchStore = upgrade.searchFeatures(store);
      readiness.notReady('building the search index');
      faceIndex = await FaceIndex.open(searchStore, {
        dimensions: engine.featureLength,
        logger,
        approxMinFaces: config.searchApproxMinFaces > 0 ? config.searchApproxMinFaces : Number.POSITIVE_INFINITY,
        indexDir: join(config.dataDir, 'index'),
        searchModel: engine.searchModel,
      });
      thresholds = await Thresholds.open(store);
      readiness.notReady('opening sync status');
      syncStatus = options.syncStatus ?? (await openLmdbSyncStatus({ path: join(config.dataDir, 'sync-status'), maxDevices: config.sync.statusMaxDevices }));
      deviceKeys = await openLmdbDeviceKeys({ path: join(config.dataDir, 'device-keys') });
      const served = () => upgrade.servedModel;
      wireFaces = new WireFaceReader(store, served, engine.featureLength);
      snapshots = await SnapshotStore.open({
        dir: join(config.dataDir, 'snapshots'),
        store,
        faces: wireFaces,
        servedModel: served,
        featureDim: engine.featureLength,
        retainMs: config.sync.snapshotRetainMs,
        logger,
      });
    } catch (err) {
      await faceIndex?.close();
      await deviceKeys?.close();
      await syncStatus?.close();
      await store?.close();
      if (!options.engine) await engine.close();
      await stopListening();
      throw err;
    }
    const syncBodies = new GroupBodyCache(config.sync.bodyCacheBytes);

    const consoleSessions = new ConsoleSessions({ ttlMs: config.console.sessionTtlMs, maxSessions: config.console.maxSessions });
    const sessionCheck = new ConsoleSessionCheck(consoleSessions);
    const auth = new Authenticator(config.auth, keys, sessionCheck, deviceKeys);
    const metrics = new ServerMetrics();
    const index = faceIndex!;
    const library = new FaceLibrary(store, index);
    const search = new SearchService(index, searchStore, engine.featureLength);
    const recognition = new Recognition(engine, search, thresholds, {
      image: config.recognitionImage,
      maxFacesPerImage: config.maxFacesPerImage,
    });
    const enrolment = new Enrolment(engine, store);

    const app = new Koa();
    app.proxy = false;
    app.silent = true;
    app.use(async (ctx, next) => {
      ctx.state.receivedAt = Date.now();
      await next();
    });
    app.use(metrics.middleware());
    app.use(discardUnreadBody());
    app.use(async (ctx, next) => {
      await next();
      logger.debug({ method: ctx.method, path: ctx.path, status: ctx.status, ms: Date.now() - ctx.state.receivedAt }, 'request');
    });

    const facepass = facepassRouter({
      config,
      auth,
      logger,
      library,
      enrolment,
      version: { server: SERVER_VERSION, detail: async () => ({ feature: engine.searchModel, ...engine.modelVersions, ...upgradeDetail(await upgrade.refreshProgress()) }) },
    });
    const sync = syncRouter({
      config,
      auth,
      logger,
      sync: new SyncService(
        {
          store,
          get searchModel() {
            return upgrade.servedModel;
          },
          featureDim: engine.featureLength,
          faces: wireFaces,
          bodies: syncBodies,
          snapshots,
        },
        { snapshotThreshold: config.sync.snapshotThreshold },
      ),
      snapshots,
      status: syncStatus,
    });
    // Probes come from the engine's model: stored faces used as probes (Baidu match/search by face_token) too.
    const analysis = new FaceAnalysis(engine, searchStore);
    const baidu = baiduRouter({
      config,
      auth,
      logger,
      tokens: new AccessTokens(config.dataDir, config.baiduCredentials),
      ops: {
        ...libraryOps({ analysis, directory: new UserDirectory(store, index), library }),
        ...visionOps({ analysis }),
        ...matchOps({ analysis }),
        ...searchOps({ analysis, search }),
      },
    });
    const sid = sidRouter({
      maxRequestBytes: config.maxRequestBytes,
      logger,
      credentials: new SidCredentials(config.sidCredentials),
      ops: sidOps({
        analysis,
        directory: new UserDirectory(store, index),
        search,
        searchModel: engine.searchModel,
        featureLength: engine.featureLength,
        defaultGroup: config.sidDefaultGroup as GroupName,
      }),
    });
    // Revoking a key also closes the device's push connection; the hub exists by the time anyone can call.
    let revoked: (deviceId: string) => void = () => {};
    const devices = deviceRouter({ config, auth, logger, registry: new DeviceRegistry(deviceKeys), onRevoked: (id) => revoked(id) });
    const ops = new Router();
    // A wrong key gets the envelope and WWW-Authenticate like every other admin call.
    ops.get('/metrics', facepassRoute(auth, 'admin', logger, async () => ({
      file: Buffer.from(await upgrade.refreshProgress().then(() => metrics.registry.metrics())),
      mime: metrics.registry.contentType,
    })));
    const startedAt = Date.now();
    const web = consoleRouter({ config, auth, logger, sessions: consoleSessions, check: sessionCheck, assets: new ConsoleAssets() });
    const consoleApi = consoleApiRouter({
      auth,
      admission: config.admission,
      logger,
      library,
      groupFaces: new GroupFaces(store),
      inspector: new FaceInspector(engine, store, config.faceAddImage),
      users: new UserDirectory(store, index),
      terminals: new TerminalOverview({
        status: syncStatus,
        store,
        library: DEFAULT_LIBRARY,
        connectedDevices: () => push.connectedDevices(),
        staleAfterMs: config.console.terminalStaleMs,
      }),
      server: {
        version: SERVER_VERSION,
        models: { feature: engine.searchModel, ...engine.modelVersions },
        startedAt,
        storeBytes: () => diskBytes(join(config.dataDir, 'store')),
        push: () => push.stats(),
      },
    });
    const recognize = recognitionRouter({ config, auth, logger, recognition, thresholds });
    // No allowedMethods() anywhere: facepassFallback answers wrong methods (405 + Allow) in the envelope.
    app.use(facepass.routes());
    app.use(web.routes());
    app.use(consoleApi.routes());
    app.use(sync.routes());
    app.use(recognize.routes());
    const backup = backupRouter({ auth, logger, sources: { store, syncStatus, dataDir: config.dataDir, serverVersion: SERVER_VERSION } });
    app.use(backup.routes());
    app.use(devices.routes());
    app.use(ops.routes());
    // No allowedMethods(): it answers unknown methods with 501 on every path.
    // A wrong method on a Baidu path gets Baidu's own answer from baiduFallback.
    app.use(baidu.routes());
    // SID paths answer every method themselves (a wrong one in the SID format).
    app.use(sid.routes());
    app.use(baiduFallback());
    // Wrong methods (405 + Allow) and unknown paths (404) of the FacePass-style routers, in the envelope.
    app.use(facepassFallback([facepass, web, consoleApi, sync, recognize, backup, devices, ops]));
    // A client that breaks its own request (bad chunked framing, reset) is not a server failure.
    app.on('error', (err) => (isClientFault(err) ? logger.debug({ err }, 'client broke its request') : logger.error({ err }, 'koa error')));

    // Slow-loris protection: a client must send its headers and body in time.
    httpServer.headersTimeout = 30_000;
    httpServer.requestTimeout = 120_000;
    // Push channel: every upgrade request goes to the hub (auth and path are checked there).
    const push = new PushHub(
      {
        auth,
        store,
        get searchModel() {
          return upgrade.servedModel;
        },
        logger,
      },
      options.push,
    );
    httpServer.on('upgrade', (req, socket, head) => push.handleUpgrade(req, socket, head));
    revoked = (id) => push.disconnectDevice(id);
    registerSyncMetrics(metrics, { push, bodies: syncBodies, snapshots });
    registerModelUpgradeMetrics(metrics, upgrade);
    registerMemoryMetrics(metrics, engine);
    // The index follows the new features as they are stored; at the switch
    // the terminals are asked to reconnect, and sync (RESET) at once.
    upgrade.onStaged((tokens) => index.refreshFeatures(tokens));
    upgrade.onSwitched((model) => {
      const n = push.reconnectAll('feature model changed: sync again');
      logger.info({ model, terminals: n }, 'model upgrade: push connections asked to reconnect and sync');
    });

    const timers: NodeJS.Timeout[] = [];
    const server = new FaceServer(config, logger, keys, store, syncStatus, snapshots, syncBodies, engine, !options.engine, httpServer, timers, consoleSessions);
    server.push = push;
    server.search = search;
    server.faceIndex = index;
    server.deviceKeys = deviceKeys;
    if (config.compaction.intervalMs > 0) {
      const timer = setInterval(() => void server.compact(), config.compaction.intervalMs);
      timer.unref();
      timers.push(timer);
    }
    // Often enough that a superseded snapshot outlives retainMs by at most a quarter of it.
    const sweep = setInterval(() => void server.sweepSnapshots(), Math.max(1000, Math.min(60_000, config.sync.snapshotRetainMs / 4)));
    sweep.unref();
    timers.push(sweep);
    server.readiness = readiness;
    server.modelUpgrade = upgrade;
    appCallback = app.callback();
    readiness.markReady();
    void upgrade.start();
    return server;
  }

  get port(): number {
    return (this.httpServer.address() as AddressInfo).port;
  }

  /** Base URL on the loopback interface, for tests and tools. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private async compact(): Promise<void> {
    try {
      const result = await this.store.compact(this.config.compaction);
      if (result.removedEntries > 0) this.logger.info(result, 'change log compacted');
    } catch (err) {
      this.logger.error({ err }, 'change log compaction failed');
    }
  }

  private async sweepSnapshots(): Promise<void> {
    try {
      const deleted = await this.snapshots.sweep();
      if (deleted > 0) this.logger.info({ deleted }, 'superseded snapshots deleted');
    } catch (err) {
      this.logger.error({ err }, 'snapshot sweep failed');
    }
  }

  /**
   * Stops accepting connections, lets in-flight requests finish (up to
   * shutdownGraceMs), then closes the store and (if owned) the engine.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.readiness.notReady('shutting down');
    for (const timer of this.timers) clearInterval(timer);
    const closed = new Promise<void>((resolve) => this.httpServer.close(() => resolve()));
    this.httpServer.closeIdleConnections();
    const grace = setTimeout(() => this.httpServer.closeAllConnections(), this.config.shutdownGraceMs);
    // Re-extraction stops first (it resumes at the next start).
    await this.modelUpgrade.close();
    // Upgraded WebSocket sockets keep httpServer.close() waiting until they are closed.
    await this.push.close();
    await closed;
    this.consoleSessions.close();
    clearTimeout(grace);
    await this.snapshots.close();
    await this.faceIndex.close();
    await this.syncStatus.close();
    await this.deviceKeys.close();
    await this.store.close();
    if (this.ownsEngine) await this.engine.close();
  }
}
