// What /metrics reports about terminal sync and the push channel, read from
// the components' own counters at scrape time.
import type { ServerMetrics } from './http/metrics.js';
import type { PushHub } from './push/index.js';
import type { GroupBodyCache } from './sync/body-cache.js';
import type { SnapshotStore } from './sync/snapshot-store.js';

export function registerSyncMetrics(metrics: ServerMetrics, parts: { push: PushHub; bodies: GroupBodyCache; snapshots: SnapshotStore }): void {
  const { push, bodies, snapshots } = parts;
  const gauges = [
    ['push_connections', 'Open push connections', () => push.stats().connections],
    ['push_ready_connections', 'Push connections past their hello, receiving notices', () => push.stats().ready],
    ['push_watched_groups', 'Group names held by at least one push connection', () => push.stats().watchedGroups],
    ['sync_body_cache_bytes', 'Bytes of encoded group bodies held for reuse', () => bodies.stats().bytes],
    ['sync_body_cache_entries', 'Encoded group bodies held for reuse', () => bodies.stats().entries],
    ['sync_snapshot_files', 'Snapshot files kept for download', () => snapshots.count],
  ] as const;
  const counters = [
    ['push_upgrades_accepted_total', 'Push upgrades accepted', () => push.stats().accepted],
    ['push_upgrades_rejected_total', 'Push upgrades refused before the handshake', () => push.stats().rejected],
    ['push_notices_sent_total', 'VersionNotice frames sent', () => push.stats().noticesSent],
    ['push_notice_entries_sent_total', 'Group versions sent in notices', () => push.stats().noticeEntriesSent],
    ['push_bad_frames_total', 'Push connections closed for a bad or oversized frame', () => push.stats().badFrames],
    ['push_hello_timeouts_total', 'Push connections closed for a missing hello', () => push.stats().helloTimeouts],
    ['push_heartbeat_timeouts_total', 'Push connections dropped for missing pongs', () => push.stats().heartbeatTimeouts],
    ['push_superseded_total', 'Push connections replaced by a newer one of the same device', () => push.stats().superseded],
    ['sync_body_cache_hits_total', 'Group bodies served from the cache (or joined while encoding)', () => bodies.stats().hits],
    ['sync_body_cache_misses_total', 'Group bodies encoded', () => bodies.stats().misses],
    ['sync_snapshot_builds_total', 'Snapshot files written', () => snapshots.builds],
  ] as const;
  for (const [name, help, read] of gauges) metrics.sample('gauge', name, help, read);
  for (const [name, help, read] of counters) metrics.sample('counter', name, help, read);
}
