// A minimal FacePass HTTP client for tests: JSON posts, multipart uploads,
// and the envelope decoded with its HTTP status.
import { TEST_ADMIN_KEY } from './test-server.js';

export interface Envelope<T = Record<string, unknown>> {
  status: number;
  code: number;
  message: string;
  timestamp: number;
  timecost: number;
  data: T;
}

export class FacePassClient {
  constructor(
    private readonly baseUrl: string,
    /** null sends no key at all. */
    private readonly key: string | null = TEST_ADMIN_KEY,
  ) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.key ? { authorization: `Bearer ${this.key}`, ...extra } : extra;
  }

  private async envelope<T>(response: Response): Promise<Envelope<T>> {
    const body = (await response.json()) as Omit<Envelope<T>, 'status'>;
    return { status: response.status, ...body };
  }

  async post<T = Record<string, unknown>>(path: string, body: unknown): Promise<Envelope<T>> {
    const payload = typeof body === 'string' ? body : JSON.stringify(body);
    const response = await fetch(this.baseUrl + path, {
      method: 'POST',
      headers: this.headers({ 'content-type': 'application/json' }),
      body: payload,
    });
    return this.envelope<T>(response);
  }

  async get<T = Record<string, unknown>>(path: string): Promise<Envelope<T>> {
    return this.envelope<T>(await fetch(this.baseUrl + path, { headers: this.headers() }));
  }

  async getRaw(path: string): Promise<Response> {
    return fetch(this.baseUrl + path, { headers: this.headers() });
  }

  async addFace(image: Uint8Array, filename = 'face.png', type = 'image/png', field = 'image') {
    const form = new FormData();
    form.append(field, new Blob([image], { type }), filename);
    const response = await fetch(this.baseUrl + '/api/face/v1/add', { method: 'POST', headers: this.headers(), body: form });
    return this.envelope<{ face_token?: string; image_id?: string; rect?: Record<string, number> }>(response);
  }
}
