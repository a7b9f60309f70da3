// POSTs to the server with the admin key and parses the JSON answer,
// retrying a few times on a network error or a 5xx (a server starting or
// restarting). Any other status is returned to the caller with its body.
export interface HttpJsonOptions {
  url: string;
  key: string;
  /** Attempts per call (default 4). */
  attempts?: number;
  /** First retry delay, doubled each time (default 500 ms). */
  retryDelayMs?: number;
}

export class HttpJson {
  private readonly attempts: number;
  private readonly retryDelayMs: number;

  constructor(private readonly options: HttpJsonOptions) {
    this.attempts = options.attempts ?? 4;
    this.retryDelayMs = options.retryDelayMs ?? 500;
  }

  /** `body` is a JSON string, or a function making a fresh FormData per attempt. */
  async post<T>(path: string, body: string | (() => FormData)): Promise<{ status: number; body: Partial<T> }> {
    let lastError = '';
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, this.retryDelayMs * 2 ** (attempt - 2)));
      let res: Response;
      try {
        res = await fetch(new URL(path, this.options.url), {
          method: 'POST',
          headers: { authorization: `Bearer ${this.options.key}`, ...(typeof body === 'string' ? { 'content-type': 'application/json' } : {}) },
          body: typeof body === 'string' ? body : body(),
        });
      } catch (err) {
        lastError = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
        continue;
      }
      const text = await res.text();
      if (res.status >= 500) {
        lastError = `HTTP ${res.status}: ${text.slice(0, 200)}`;
        continue;
      }
      try {
        return { status: res.status, body: JSON.parse(text) as Partial<T> };
      } catch {
        throw new Error(`${path}: HTTP ${res.status}, not a JSON answer: ${text.slice(0, 200)}`);
      }
    }
    throw new Error(`${path}: ${lastError}`);
  }
}
