// What the hub reports about itself: counters for /metrics and benchmarks,
// and the event a benchmark listens to for commit -> send latency.
import type { GroupVersion } from '../../device-protocol/index.js';

export interface PushHubStats {
  /** Open connections (any state). */
  connections: number;
  /** Connections that got their ServerHello and receive notices. */
  ready: number;
  /** Distinct group names held by at least one connection. */
  watchedGroups: number;
  /** Connections with a notice waiting for the next flush. */
  pendingNotices: number;
  /** Upgrades accepted (handshake completed) since start. */
  accepted: number;
  /** Upgrades refused before the handshake (401, 404, 503). */
  rejected: number;
  /** Commits seen from the store (all groups). */
  commits: number;
  /** VersionNotice frames sent. */
  noticesSent: number;
  /** GroupVersion entries in those notices. */
  noticeEntriesSent: number;
  /** Connections closed for a bad or oversized frame. */
  badFrames: number;
  /** Connections closed for not sending ClientHello in time. */
  helloTimeouts: number;
  /** Connections terminated for not answering a ping. */
  heartbeatTimeouts: number;
  /** Connections replaced by a newer one with the same device id. */
  superseded: number;
}

/** The mutable counters behind PushHubStats (the gauges are computed on read). */
export type PushCounters = Omit<PushHubStats, 'connections' | 'ready' | 'watchedGroups' | 'pendingNotices'>;

export function newCounters(): PushCounters {
  return {
    accepted: 0,
    rejected: 0,
    commits: 0,
    noticesSent: 0,
    noticeEntriesSent: 0,
    badFrames: 0,
    helloTimeouts: 0,
    heartbeatTimeouts: 0,
    superseded: 0,
  };
}

export interface NoticeSentEvent {
  deviceId: string;
  groups: readonly GroupVersion[];
  /** Changes merged into this notice (coalescing: >= groups.length). */
  changes: number;
  /** The store's timestamp (ChangeRecord.at, epoch ms) of the oldest merged change. */
  firstChangeAt: number;
  /** performance.now() when the oldest merged change reached the hub (onCommit). */
  firstObservedAt: number;
  /** performance.now() just after the frame was handed to the socket. */
  sentAt: number;
}

/**
 * One flush of the batcher that sent notices: a commit's fan-out to every
 * terminal holding the group is one flush. What a benchmark of fan-out latency
 * listens to: one event per flush costs the hub nothing per terminal, where
 * 'notice-sent' builds an event for every terminal inside the fan-out.
 */
export interface NoticeFlushEvent {
  /** Notices sent by this flush (one per terminal, unless a batch needed several frames). */
  notices: number;
  /** performance.now() when the oldest change among them reached the hub (onCommit). */
  firstObservedAt: number;
  /** performance.now() at the start of the flush and just after its last frame was handed to a socket. */
  startedAt: number;
  endedAt: number;
}

export interface PushHubEvents {
  'notice-sent': NoticeSentEvent;
  flush: NoticeFlushEvent;
}
