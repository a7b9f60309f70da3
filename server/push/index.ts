// The push channel server (protocol §12). Public surface for app.ts, tests
// and benchmarks.
//
// Design notes:
// - Coalescing: commits mark the pending notice of each connection holding
//   the group. A connection's first change after a quiet spell goes out as
//   soon as the commit's callbacks have run (a microtask); what follows within `coalesceMs` (default
//   25 ms) of a notice is held and sent when that window ends. Each notice
//   has at most one entry per group with its latest version, so a connection
//   never gets more notices than there were changes, nor more than one per
//   window. One hub-wide timer. Connections whose socket buffer is above
//   `maxBufferedBytes` are skipped and retried (their entries keep merging).
// - Fan-out: a commit's notice is encoded and framed once (wire-frame.ts)
//   and the same Buffer is written to each terminal's socket.
// - Liveness: one hub-wide ping sweep every `heartbeatMs` terminates the
//   connections that did not answer the previous ping; one deadline queue
//   closes connections without a ClientHello after `helloTimeoutMs` (4400).
// - Supersede: a second connection naming the same device id (ClientHello
//   device_id, else X-Device-Id) closes the older one with 4409. Devices
//   known only by their address never supersede (NAT).
// - ClientHello is accepted once (§12); a second one is a bad frame (4400):
//   to change its groups, a terminal reconnects.
// - Frame size: `ws` enforces MAX_PUSH_FRAME_BYTES from the frame header
//   (fragments summed) before buffering; its own 1009 close is turned into
//   PushError + 4413 as §12 says (oversize.ts). decodePushFrame checks the
//   size again (4413) as a second line.
export { PushHub, type PushHubDeps, type PushLogger } from './hub.js';
export { DEFAULT_PUSH_OPTIONS, resolvePushOptions, type PushHubOptions } from './options.js';
export type { NoticeFlushEvent, NoticeSentEvent, PushHubEvents, PushHubStats } from './metrics.js';
