// Settings from a file and from `*_FILE` secrets, layered under the
// environment, all ending in the one `configFromEnv` (config.ts), which
// stays the only place a setting is defined, defaulted and checked.
//
//   CONFIG=path        a JSON (.json) or TOML (.toml) file of settings; keys are the
//                      environment names, any case (`port = 8300`, `"DATA_DIR": "/data"`)
//   NAME_FILE=path     the value of NAME is that file's content (one trailing newline
//                      dropped): Docker/Kubernetes secrets; also as a file key `name_file`
//
// Precedence: the environment over the file; within one of them, NAME and
// NAME_FILE together are a contradiction (refused). Relative paths in
// values are relative to the working directory, as in the environment.
//
// The schema is the set of names configFromEnv reads, found by running it
// once over a recording environment: so the list of settings cannot drift
// from the code that reads them, and adding a setting stays one entry.
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { ConfigError, configFromEnv, type ServerConfig } from './config.js';

export const CONFIG_VARIABLE = 'CONFIG';
const FILE_SUFFIX = '_FILE';

/** Every setting name configFromEnv reads (upper case). */
export function settingNames(): Set<string> {
  const names = new Set<string>();
  const recorder = new Proxy({} as NodeJS.ProcessEnv, {
    get(_target, property) {
      if (typeof property === 'string') names.add(property);
      return undefined;
    },
  });
  configFromEnv(recorder);
  return names;
}

type Layer = Map<string, string>;

function readSecret(path: string, source: string): string {
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new ConfigError(`${source}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** A layer's NAME_FILE entries replaced by NAME with the file's content. */
function resolveSecrets(raw: Layer, describe: (name: string) => string): Layer {
  const layer: Layer = new Map();
  for (const name of raw.keys()) {
    const base = name.slice(0, -FILE_SUFFIX.length);
    if (name.endsWith(FILE_SUFFIX) && raw.has(base)) {
      throw new ConfigError(`${describe(base)} and ${describe(name)} are both set: give one of them`);
    }
  }
  for (const [name, value] of raw) {
    if (name.endsWith(FILE_SUFFIX)) layer.set(name.slice(0, -FILE_SUFFIX.length), readSecret(value, describe(name)));
    else layer.set(name, value);
  }
  return layer;
}

/** The environment's settings (and their _FILE forms); everything else in it is ignored. */
function environmentLayer(env: NodeJS.ProcessEnv, names: Set<string>): Layer {
  const raw: Layer = new Map();
  for (const name of names) {
    for (const key of [name, name + FILE_SUFFIX]) {
      const value = env[key];
      if (value !== undefined && value !== '') raw.set(key, value);
    }
  }
  return resolveSecrets(raw, (name) => name);
}

function parseFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${CONFIG_VARIABLE}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const kind = extname(path).toLowerCase();
  let value: unknown;
  try {
    if (kind === '.json') value = JSON.parse(text);
    else if (kind === '.toml') value = parseToml(text);
    else throw new ConfigError(`${CONFIG_VARIABLE}: ${path} must end in .json or .toml`);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`${path} is not valid ${kind === '.json' ? 'JSON' : 'TOML'}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(`${path} must hold one object of settings`);
  return value as Record<string, unknown>;
}

/** The config file's settings, checked against the schema: known names only, scalar values. */
function fileLayer(path: string, names: Set<string>): { layer: Layer; keyOf: Map<string, string> } {
  const raw: Layer = new Map();
  const keyOf = new Map<string, string>();
  for (const [key, value] of Object.entries(parseFile(path))) {
    const name = key.toUpperCase();
    const base = name.endsWith(FILE_SUFFIX) ? name.slice(0, -FILE_SUFFIX.length) : name;
    if (!names.has(base) || base === CONFIG_VARIABLE) {
      throw new ConfigError(`${path}: unknown setting "${key}" (settings are the README's variables, e.g. "port" or "data_dir")`);
    }
    if (raw.has(name)) throw new ConfigError(`${path}: setting "${key}" is given twice`);
    if (typeof value === 'string') raw.set(name, value);
    else if (typeof value === 'number' && Number.isFinite(value)) raw.set(name, String(value));
    else throw new ConfigError(`${path}: setting "${key}" must be a string or a number, got ${Array.isArray(value) ? 'an array' : typeof value}`);
    keyOf.set(name, key);
  }
  const describe = (name: string) => `${path}: "${keyOf.get(name) ?? name.toLowerCase()}"`;
  return { layer: resolveSecrets(raw, describe), keyOf };
}

/**
 * The server's configuration from the environment, `CONFIG` and `*_FILE`
 * secrets. Throws ConfigError naming the bad key and where it came from.
 */
export function loadConfig(env: NodeJS.ProcessEnv): ServerConfig {
  const names = settingNames();
  const fromEnv = environmentLayer(env, names);
  const path = env[CONFIG_VARIABLE];
  const fromFile = path ? fileLayer(path, names) : { layer: new Map<string, string>(), keyOf: new Map<string, string>() };
  const merged: NodeJS.ProcessEnv = Object.fromEntries([...fromFile.layer, ...fromEnv]);
  try {
    return configFromEnv(merged);
  } catch (err) {
    // configFromEnv names the setting first; say where a file's value came from.
    const name = err instanceof ConfigError ? /^[A-Z][A-Z0-9_]*/.exec(err.message)?.[0] : undefined;
    if (name && path && fromFile.layer.has(name) && !fromEnv.has(name)) {
      const key = fromFile.keyOf.get(name) ?? fromFile.keyOf.get(name + FILE_SUFFIX) ?? name.toLowerCase();
      throw new ConfigError(`${path}: "${key}": ${(err as Error).message}`);
    }
    throw err;
  }
}
