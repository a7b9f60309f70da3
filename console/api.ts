// The console's one way to the server: the ordinary HTTP API, with the
// session cookie (sent by the browser) and, on every write, the session's
// CSRF token. Every answer is the FacePass envelope {code, message, data}.

export interface Envelope<T> {
  code: number;
  message: string;
  data: T;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    readonly data: Record<string, unknown>,
  ) {
    super(message);
  }
}

export interface Session {
  csrfToken: string;
  expiresAt: number;
}

type Listener = () => void;

export class Api {
  #csrf = '';
  #onSignedOut: Listener = () => {};

  /** Called when the server says the session is gone (expired, signed out elsewhere, restarted). */
  onSignedOut(listener: Listener): void {
    this.#onSignedOut = listener;
  }

  setSession(session: Session | null): void {
    this.#csrf = session?.csrfToken ?? '';
  }

  async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    let payload: BodyInit | undefined;
    // Multipart and url-encoded bodies go as they are (fetch sets their Content-Type); anything else as JSON.
    if (body instanceof FormData || body instanceof URLSearchParams) payload = body;
    else if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    if (method !== 'GET') headers['X-CSRF-Token'] = this.#csrf;
    const res = await fetch(path, { method, headers, body: payload, credentials: 'same-origin' });
    let envelope: Envelope<T>;
    try {
      envelope = (await res.json()) as Envelope<T>;
    } catch {
      throw new ApiError(res.status, res.status, `the server answered HTTP ${res.status} without a readable body`, {});
    }
    if (res.status === 401 && !path.startsWith('/console/session')) this.#onSignedOut();
    if (envelope.code !== 0) {
      throw new ApiError(res.status, envelope.code, envelope.message, (envelope.data ?? {}) as Record<string, unknown>);
    }
    return envelope.data;
  }

  get<T>(path: string, query: Record<string, string | number | undefined> = {}): Promise<T> {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) if (value !== undefined && value !== '') params.set(name, String(value));
    const qs = params.toString();
    return this.call<T>('GET', qs ? `${path}?${qs}` : path);
  }

  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.call<T>('POST', path, body);
  }

  /**
   * A call to the Baidu dialect (`/face-api/v3/...`, JSON body, session and
   * CSRF token as everywhere): its envelope is {error_code, error_msg, result}.
   */
  async baidu<T>(path: string, body: Record<string, unknown>, library = 'default'): Promise<T> {
    const url = library === 'default' ? path : `${path}?appid=${encodeURIComponent(library)}`;
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': this.#csrf },
      body: JSON.stringify(body),
      credentials: 'same-origin',
    });
    let envelope: { error_code?: number; error_msg?: string; result?: T; code?: number; message?: string };
    try {
      envelope = (await res.json()) as typeof envelope;
    } catch {
      throw new ApiError(res.status, res.status, `the server answered HTTP ${res.status} without a readable body`, {});
    }
    // A refused session is answered before the dialect: in the FacePass envelope, HTTP 401.
    if (res.status === 401) {
      this.#onSignedOut();
      throw new ApiError(401, envelope.code ?? 401, envelope.message ?? 'UNAUTHORIZED', {});
    }
    // Baidu's own "no permission" (error_code 6) is how that dialect refuses a lost session.
    if (envelope.error_code === 6) this.#onSignedOut();
    if (envelope.error_code !== 0) throw new ApiError(res.status, envelope.error_code ?? res.status, envelope.error_msg ?? 'failed', {});
    return envelope.result as T;
  }

  // ---- session ----
  async currentSession(): Promise<Session | null> {
    try {
      const data = await this.get<{ csrf_token: string; expires_at: number }>('/console/session');
      return { csrfToken: data.csrf_token, expiresAt: data.expires_at };
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return null;
      throw err;
    }
  }

  async signIn(key: string): Promise<Session> {
    const data = await this.post<{ csrf_token: string; expires_at: number }>('/console/session', { key });
    return { csrfToken: data.csrf_token, expiresAt: data.expires_at };
  }

  async signOut(): Promise<void> {
    await this.post('/console/session/end');
  }
}

/** Image URLs: loaded by <img> with the session cookie (an <img> cannot send a key header). */
export const faceCropUrl = (token: string) => `/api/image/v1/query?face_token=${encodeURIComponent(token)}`;
export const imageUrl = (imageId: string) => `/api/image/v1/query?image_id=${encodeURIComponent(imageId)}`;

// ---- shapes of the answers the console reads ----
export interface Rect {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

export interface GroupRow {
  group_name: string;
  group_id: number;
  face_count: number;
  version: number;
  created_at: number;
  updated_at: number;
}

export interface GroupFace {
  face_token: string;
  user_id: string | null;
  user_info: string | null;
  bound_at: number;
}

export interface GroupFacesPage {
  group_name: string;
  face_count: number;
  version: number;
  faces: GroupFace[];
  next: string | null;
}

export interface FaceDetail {
  face_token: string;
  image_id: string;
  rect: Rect;
  image: { width: number; height: number };
  landmarks: Array<[number, number]>;
  quality: { yaw: number; pitch: number; roll: number; blur: number; brightness: number; brightnessStd: number; size: number; completeness: number };
  admission: {
    min_face_size: number;
    max_yaw: number;
    max_pitch: number;
    max_roll: number;
    max_blur: number;
    min_brightness: number;
    max_brightness: number;
    max_brightness_std: number;
  };
  model_version: string;
  created_at: number;
  deleted_at: number | null;
  groups: Array<{ library: string; group_name: string; bound_at: number; user_id: string | null; user_info: string | null }>;
}

export interface TerminalRow {
  device: string;
  device_id: string | null;
  ip: string;
  client_version: string;
  last_sync: number;
  search_model: string;
  feature_encoding: string | null;
  bytes: number | null;
  connected: boolean;
  stale: boolean;
  groups: Array<{
    group_name: string;
    device_version: number;
    server_version: number | null;
    lag: number | null;
    result_code: number;
    faces_added: number;
    faces_deleted: number;
  }>;
}

export interface GroupUser {
  user_id: string;
  user_info: string;
  face_count: number;
}

export interface ServerFacts {
  libraries: number;
  version: string;
  models: Record<string, string>;
  started_at: number;
  uptime_s: number;
  store_bytes: number;
  groups: number;
  bindings: number;
  terminals: number;
  push_connections: number;
  push_ready: number;
}

export interface AddedFace {
  face_token: string;
  image_id: string;
  rect: Rect;
}
