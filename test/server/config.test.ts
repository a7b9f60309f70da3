import { expect } from 'chai';
import { ConfigError, configFromEnv, defaultConfig } from '../../server/config.js';

describe('configuration from the environment', function () {
  it('uses the documented defaults when nothing is set', function () {
    const config = configFromEnv({});
    const defaults = defaultConfig();
    expect(config.compaction).to.deep.equal(defaults.compaction);
    expect(config.sync).to.deep.equal({ snapshotThreshold: 2000, snapshotRetainMs: 600_000, bodyCacheBytes: 64 * 1024 * 1024, statusMaxDevices: 10_000 });
    expect(config.port).to.equal(8300);
  });

  it('reads the change-log and sync bounds', function () {
    const config = configFromEnv({
      CHANGELOG_KEEP: '500',
      CHANGELOG_MAX_AGE_HOURS: '48',
      COMPACTION_INTERVAL_MINUTES: '0',
      SNAPSHOT_THRESHOLD: '100',
      SNAPSHOT_RETAIN_MINUTES: '30',
      SYNC_CACHE_MB: '0',
      SYNC_STATUS_MAX_DEVICES: '50',
    });
    expect(config.compaction).to.deep.equal({ keepChangesPerGroup: 500, maxAgeMs: 48 * 3600_000, intervalMs: 0 });
    expect(config.sync).to.deep.equal({ snapshotThreshold: 100, snapshotRetainMs: 30 * 60_000, bodyCacheBytes: 0, statusMaxDevices: 50 });
  });

  it('refuses values that are not integers in range, naming the variable', function () {
    const bad: Array<[string, string]> = [['CHANGELOG_KEEP', '-1'], ['SNAPSHOT_RETAIN_MINUTES', '0'], ['SYNC_CACHE_MB', '1.5'], ['SYNC_STATUS_MAX_DEVICES', '0'], ['PORT', 'http']];
    for (const [name, value] of bad) {
      expect(() => configFromEnv({ [name]: value }), name).to.throw(ConfigError, name);
    }
  });

  it('reads SID_CREDENTIALS (appid default when left out) and SID_DEFAULT_GROUP, refusing nonsense', function () {
    const config = configFromEnv({ SID_CREDENTIALS: 'system:12345, door:s3cret:campus', SID_DEFAULT_GROUP: 'xyb01' });
    expect(config.sidCredentials).to.deep.equal([
      { appId: 'system', appSecret: '12345', appid: 'default' },
      { appId: 'door', appSecret: 's3cret', appid: 'campus' },
    ]);
    expect(config.sidDefaultGroup).to.equal('xyb01');
    expect(configFromEnv({}).sidCredentials).to.deep.equal([]);
    expect(configFromEnv({}).sidDefaultGroup).to.equal('default');
    for (const bad of ['system', 'system:', 'a:b:c:d', 'a:b,a:c', 'a:b:bad-appid']) {
      expect(() => configFromEnv({ SID_CREDENTIALS: bad }), bad).to.throw(ConfigError, 'SID_CREDENTIALS');
    }
    expect(() => configFromEnv({ SID_DEFAULT_GROUP: 'no spaces' })).to.throw(ConfigError, 'SID_DEFAULT_GROUP');
  });
});
