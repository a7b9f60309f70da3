import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'chai';
import { ConfigError } from '../../server/config.js';
import { loadConfig, settingNames } from '../../server/config-file.js';
import { PROJECT_ROOT } from '../helpers/paths.js';

describe('configuration file and *_FILE secrets', function () {
  let dir: string;
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const refused = (env: NodeJS.ProcessEnv, message: string | RegExp) => {
    let error: unknown;
    try {
      loadConfig(env);
    } catch (err) {
      error = err;
    }
    expect(error, JSON.stringify(env)).to.be.instanceOf(ConfigError);
    if (typeof message === 'string') expect((error as Error).message).to.contain(message);
    else expect((error as Error).message).to.match(message);
  };

  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'config-file-'));
  });
  afterEach(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads a TOML file with the environment names in any case; the environment overrides it', function () {
    const path = file('server.toml', 'port = 9000\ndata_dir = "/srv/faces"\nLOG_LEVEL = "warn"\nsnapshot_retain_minutes = 3\n');
    const config = loadConfig({ CONFIG: path, LOG_LEVEL: 'debug' });
    expect(config).to.include({ port: 9000, dataDir: '/srv/faces', logLevel: 'debug' });
    expect(config.sync.snapshotRetainMs).to.equal(3 * 60_000);
  });

  it('reads a JSON file', function () {
    const path = file('server.json', JSON.stringify({ host: '127.0.0.1', changelog_keep: 5, auth: 'off' }));
    const config = loadConfig({ CONFIG: path });
    expect(config).to.include({ host: '127.0.0.1', auth: 'off' });
    expect(config.compaction.keepChangesPerGroup).to.equal(5);
  });

  it('takes secrets from *_FILE paths, in the environment or the file, and refuses both spellings at once', function () {
    const admin = file('admin', 'admin-secret-0123456789\n');
    const device = file('device', 'device-secret-0123456789');
    const path = file('server.toml', `device_key_file = "${device}"\n`);
    const config = loadConfig({ CONFIG: path, ADMIN_KEY_FILE: admin });
    expect(config).to.include({ adminKey: 'admin-secret-0123456789', deviceKey: 'device-secret-0123456789' });
    // The environment's plain value overrides the file's _FILE form.
    expect(loadConfig({ CONFIG: path, DEVICE_KEY: 'device-from-env-0123456' }).deviceKey).to.equal('device-from-env-0123456');
    refused({ ADMIN_KEY: 'admin-secret-0123456789', ADMIN_KEY_FILE: admin }, 'ADMIN_KEY and ADMIN_KEY_FILE are both set');
    refused({ ADMIN_KEY_FILE: join(dir, 'missing') }, /^ADMIN_KEY_FILE: cannot read .*missing: ENOENT$/);
    refused({ CONFIG: file('both.toml', `admin_key = "x"\nadmin_key_file = "${admin}"\n`) }, 'are both set');
  });

  it('names the bad key and the file: unknown names, wrong types, bad values, bad syntax', function () {
    refused({ CONFIG: file('a.toml', 'prot = 8300\n') }, 'a.toml: unknown setting "prot"');
    refused({ CONFIG: file('b.toml', 'config = "other.toml"\n') }, 'unknown setting "config"');
    refused({ CONFIG: file('c.toml', 'port = [1, 2]\n') }, 'c.toml: setting "port" must be a string or a number, got an array');
    refused({ CONFIG: file('d.toml', '[port]\nvalue = 3\n') }, 'setting "port" must be a string or a number, got object');
    refused({ CONFIG: file('e.json', '{"auth": true}') }, 'setting "auth" must be a string or a number, got boolean');
    refused({ CONFIG: file('f.toml', 'port = 70000\n') }, /f\.toml: "port": PORT must be an integer in \[0, 65535\], got "70000"$/);
    refused({ CONFIG: file('g.toml', 'log_level = "loud"\n') }, 'g.toml: "log_level": LOG_LEVEL must be one of');
    refused({ CONFIG: file('h.toml', 'port = \n') }, /h\.toml is not valid TOML/);
    refused({ CONFIG: file('i.json', '{"port": 1,}') }, /i\.json is not valid JSON/);
    refused({ CONFIG: file('j.yaml', 'port: 1\n') }, 'must end in .json or .toml');
    refused({ CONFIG: join(dir, 'absent.toml') }, /^CONFIG: cannot read .*absent\.toml: ENOENT$/);
    refused({ CONFIG: file('k.json', '[1]') }, 'must hold one object of settings');
    // A bad value from the environment is named as the variable, as before.
    refused({ CONFIG: file('l.toml', 'port = 1\n'), PORT: 'http' }, /^PORT must be an integer/);
  });

  it('knows exactly the settings the README table documents', function () {
    const readme = readFileSync(resolve(PROJECT_ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('\n## ', readme.indexOf('## Configuration') + 1));
    const documented = new Set([...section.matchAll(/^\| `([A-Z][A-Z0-9_]*)`/gm)].map((m) => m[1]!));
    documented.delete('CONFIG');
    documented.delete('MALLOC_ARENA_MAX'); // read by glibc at process start, not by the server's config
    expect([...settingNames()].sort()).to.deep.equal([...documented].sort());
  });
});
