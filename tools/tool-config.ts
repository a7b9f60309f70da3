// The server's settings as the operator tools see them (data dir, port,
// admin key), from the same source as the server; a bad setting stops the
// tool with the same message the server would give.
import { ConfigError, type ServerConfig } from '../server/config.js';
import { loadConfig } from '../server/config-file.js';

export function loadToolConfig(env: NodeJS.ProcessEnv = process.env): ServerConfig {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`configuration error: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}
