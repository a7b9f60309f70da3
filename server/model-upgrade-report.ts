// How a model upgrade's progress is reported outside the log: /metrics
// (read at scrape time) and the version answer's `detail`.
import type { ServerMetrics } from './http/metrics.js';
import type { ModelUpgrade, UpgradePhase, UpgradeProgress } from './core/model-upgrade.js';

/** model_upgrade_phase values. */
export const PHASE_CODE: Record<UpgradePhase, number> = { idle: 0, running: 1, switching: 2, done: 3 };

export function registerModelUpgradeMetrics(metrics: ServerMetrics, upgrade: ModelUpgrade): void {
  const gauges = [
    ['model_upgrade_phase', 'Model upgrade: 0 none, 1 re-extracting (old features served), 2 switching, 3 switched since start', () => PHASE_CODE[upgrade.progress.phase]],
    ['model_upgrade_faces_total', 'Model upgrade: live faces to give a feature of the new model', () => upgrade.progress.total],
    ['model_upgrade_faces_done', 'Model upgrade: live faces with a new feature or a failure mark', () => upgrade.progress.done],
    ['model_upgrade_faces_failed', 'Model upgrade: live faces whose photo gave no feature of the new model (kept without one)', () => upgrade.progress.failed],
  ] as const;
  const counters = [
    ['model_upgrade_extracted_total', 'Model upgrade: stored photos re-extracted by this process', () => upgrade.progress.extracted],
    ['model_upgrade_busy_retries_total', 'Model upgrade: re-extractions the busy engine pool refused and that were retried', () => upgrade.progress.retries],
  ] as const;
  for (const [name, help, read] of gauges) metrics.sample('gauge', name, help, read);
  for (const [name, help, read] of counters) metrics.sample('counter', name, help, read);
}

/**
 * Fields added to GET /api/version/v1 `data.detail` (its content is free
 * per the spec; `feature` stays the engine's model): `served_feature`, the
 * model of the features terminals get, and while or after an upgrade,
 * `model_upgrade` with its progress.
 */
export function upgradeDetail(p: UpgradeProgress): Record<string, unknown> {
  const detail: Record<string, unknown> = { served_feature: p.served };
  if (p.phase === 'idle') return detail;
  detail.model_upgrade = {
    state: p.phase,
    from: p.from ?? '',
    to: p.target,
    done: p.done,
    total: p.total,
    failed: p.failed,
    ...(p.startedAt !== undefined ? { started_at: p.startedAt } : {}),
    ...(p.switchedAt !== undefined ? { switched_at: p.switchedAt } : {}),
  };
  return detail;
}
