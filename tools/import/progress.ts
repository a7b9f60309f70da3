// Import progress: a cli-progress bar on a terminal, else a plain line every
// few seconds (logs, CI, `| tee`). Both show faces per second (enrolled this
// run / elapsed) and the time left (from the rate photos are handled at).
import cliProgress from 'cli-progress';

export interface Counts {
  done: number;
  total: number;
  enrolled: number;
  refused: number;
  failed: number;
  skipped: number;
}

export interface Progress {
  update(counts: Counts): void;
  stop(counts: Counts): void;
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(rest).padStart(2, '0')}s` : `${rest}s`;
}

/** Rates over the photos handled in this run (skipped ones cost nothing and are left out). */
export function rates(counts: Counts, elapsedMs: number): { facesPerSecond: number; etaSeconds: number } {
  const seconds = Math.max(elapsedMs, 1) / 1000;
  const handled = counts.done - counts.skipped;
  const perSecond = handled / seconds;
  const left = counts.total - counts.done;
  return { facesPerSecond: counts.enrolled / seconds, etaSeconds: left === 0 ? 0 : perSecond > 0 ? left / perSecond : Infinity };
}

export function plainLine(counts: Counts, elapsedMs: number): string {
  const { facesPerSecond, etaSeconds } = rates(counts, elapsedMs);
  const percent = counts.total === 0 ? 100 : Math.floor((100 * counts.done) / counts.total);
  return (
    `import: ${counts.done}/${counts.total} (${percent}%) enrolled ${counts.enrolled}, refused ${counts.refused}, ` +
    `failed ${counts.failed}, skipped ${counts.skipped}; ${facesPerSecond.toFixed(1)} faces/s, ${duration(etaSeconds)} left`
  );
}

export function createProgress(stream: NodeJS.WriteStream, total: number, plainEveryMs = 5000): Progress {
  const started = performance.now();
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream,
        format: '{bar} {value}/{total} | {rate} faces/s | {left} left | enrolled {enrolled} refused {refused} failed {failed} skipped {skipped}',
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    const payload = (counts: Counts) => {
      const { facesPerSecond, etaSeconds } = rates(counts, performance.now() - started);
      return { ...counts, rate: facesPerSecond.toFixed(1), left: duration(etaSeconds) };
    };
    bar.start(total, 0, payload({ done: 0, total, enrolled: 0, refused: 0, failed: 0, skipped: 0 }));
    return {
      update: (counts) => bar.update(counts.done, payload(counts)),
      stop: (counts) => {
        bar.update(counts.done, payload(counts));
        bar.stop();
      },
    };
  }
  let last = started;
  return {
    update(counts) {
      const now = performance.now();
      if (now - last < plainEveryMs) return;
      last = now;
      stream.write(plainLine(counts, now - started) + '\n');
    },
    stop(counts) {
      stream.write(plainLine(counts, performance.now() - started) + '\n');
    },
  };
}
