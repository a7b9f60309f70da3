// The three FacePass calls an import makes, over the server's own HTTP API
// (so it works against a remote server), each retried a few times on a
// network error or a 5xx/503 (a server still starting, or restarting).
export interface Envelope {
  status: number;
  code: number;
  message: string;
  data: { face_token?: string; image_id?: string };
}

export interface ApiOptions {
  url: string;
  key: string;
  /** Attempts per call for network errors and 5xx (default 4). */
  attempts?: number;
  /** First retry delay, doubled each time (default 500 ms). */
  retryDelayMs?: number;
}

/** FacePass codes an import treats as final answers about a photo. */
export const FACE_NOT_FOUND = 104200;
export const BAD_QUALITY = 104201;
export const GROUP_NAME_CONFLICT = 104300;

export class FacePassApi {
  private readonly attempts: number;
  private readonly retryDelayMs: number;

  constructor(private readonly options: ApiOptions) {
    this.attempts = options.attempts ?? 4;
    this.retryDelayMs = options.retryDelayMs ?? 500;
  }

  addFace(bytes: Uint8Array, filename: string): Promise<Envelope> {
    const mime = /\.png$/i.test(filename) ? 'image/png' : 'image/jpeg';
    return this.call('/api/face/v1/add', () => {
      const form = new FormData();
      form.append('image', new Blob([bytes], { type: mime }), filename);
      return form;
    });
  }

  bind(group: string, faceToken: string): Promise<Envelope> {
    return this.call('/api/group/v1/bind', () => JSON.stringify({ group_name: group, face_token: faceToken }));
  }

  createGroup(group: string): Promise<Envelope> {
    return this.call('/api/group/v1/create', () => JSON.stringify({ group_name: group }));
  }

  private async call(path: string, body: () => FormData | string): Promise<Envelope> {
    let lastError: unknown;
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, this.retryDelayMs * 2 ** (attempt - 2)));
      try {
        const payload = body();
        const res = await fetch(new URL(path, this.options.url), {
          method: 'POST',
          headers: {
            authorization: `Bearer ${this.options.key}`,
            ...(typeof payload === 'string' ? { 'content-type': 'application/json' } : {}),
          },
          body: payload,
        });
        const text = await res.text();
        if (res.status >= 500) {
          lastError = new Error(`HTTP ${res.status}: ${text.slice(0, 200)}`);
          continue;
        }
        let parsed: Partial<Envelope>;
        try {
          parsed = JSON.parse(text) as Partial<Envelope>;
        } catch {
          throw new Error(`HTTP ${res.status}: not a FacePass answer: ${text.slice(0, 200)}`);
        }
        return { status: res.status, code: parsed.code ?? -1, message: parsed.message ?? '', data: parsed.data ?? {} };
      } catch (err) {
        if (err instanceof Error && err.message.startsWith('HTTP ')) throw err;
        lastError = err;
      }
    }
    throw new Error(`${path}: ${lastError instanceof Error ? (lastError.cause instanceof Error ? lastError.cause.message : lastError.message) : String(lastError)}`);
  }
}
