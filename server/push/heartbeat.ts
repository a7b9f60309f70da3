// One hub-wide ping sweep instead of a timer per connection. Each sweep
// terminates the peers that did not answer the previous sweep's ping and
// pings the rest, so a dead connection (peer gone without a FIN, NAT entry
// expired) is dropped after one to two intervals. WebSocket libraries answer
// pings automatically, so terminals need no code for this.

export interface HeartbeatPeer {
  /** Cleared by the sweep when it pings; set again when the pong arrives. */
  alive: boolean;
  ping(): void;
  terminate(): void;
}

export class Heartbeat {
  #timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly intervalMs: number,
    private readonly peers: () => Iterable<HeartbeatPeer>,
    private readonly onTerminate: (peer: HeartbeatPeer) => void = () => {},
  ) {}

  start(): void {
    if (this.#timer || this.intervalMs <= 0) return;
    this.#timer = setInterval(() => this.sweep(), this.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** One sweep; public so tests and tools can drive it without waiting. */
  sweep(): void {
    // Copy first: terminate() may remove the peer from the live collection.
    for (const peer of [...this.peers()]) {
      try {
        if (!peer.alive) {
          peer.terminate();
          this.onTerminate(peer);
          continue;
        }
        peer.alive = false;
        peer.ping();
      } catch {
        // A socket failing mid-sweep closes itself; the sweep goes on.
      }
    }
  }
}
