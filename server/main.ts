// Entry point: the only place that reads the environment and owns the
// process (signals, exit codes).
import { ConfigError } from './config.js';
import { loadConfig } from './config-file.js';
import { FaceServer } from './app.js';
import { createLogger } from './logging.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`configuration error: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger({ level: config.logLevel });
  if (config.auth === 'off') {
    logger.warn('AUTH=off: the admin API, sync and push accept ANY caller without a key. Use this only for legacy FacePass clients on a trusted network.');
  }

  if (process.platform === 'linux' && process.env.MALLOC_ARENA_MAX === undefined) {
    // Read by glibc when the process starts, so only the launcher can set it.
    logger.warn('MALLOC_ARENA_MAX is not set: glibc gives every thread (engine workers, ONNX, libvips) a malloc arena of its own, about 100 MB more resident memory under load. `npm start` and the Docker image set MALLOC_ARENA_MAX=2.');
  }
  const server = await FaceServer.start({ config, logger });
  for (const role of server.keys.generated) {
    // Printed once, on the start that generated it; later starts read the file.
    const key = role === 'admin' ? server.keys.admin : server.keys.device;
    console.log(`Generated ${role} key (kept in ${config.dataDir}/${role}.key): ${key}`);
  }
  logger.info({ url: `http://${config.host}:${server.port}`, dataDir: config.dataDir, searchModel: server.engine.searchModel }, 'serving');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    server.close().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err) => {
  console.error(`failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
