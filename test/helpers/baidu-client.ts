// A minimal Baidu-dialect HTTP client for tests: JSON posts to the private
// paths (admin key, ?appid=) or the cloud paths (?access_token=), the
// envelope decoded with its HTTP status.
import { expect } from 'chai';
import { TEST_ADMIN_KEY } from './test-server.js';

export interface BaiduEnvelope<T = Record<string, any>> {
  status: number;
  error_code: number;
  error_msg: string;
  log_id: number;
  timestamp: number;
  cached: number;
  result: T;
}

export class BaiduClient {
  constructor(
    private readonly baseUrl: string,
    /** null sends no key at all. */
    private readonly key: string | null = TEST_ADMIN_KEY,
  ) {}

  /** POST to a private path, e.g. `/face-api/v3/group/add`; appid null leaves the parameter out. */
  async call<T = Record<string, any>>(path: string, body: unknown, appid: string | null = 'default'): Promise<BaiduEnvelope<T>> {
    const query = appid === null ? '' : `?appid=${encodeURIComponent(appid)}`;
    return this.raw<T>(path + query, typeof body === 'string' ? body : JSON.stringify(body));
  }

  async raw<T = Record<string, any>>(pathAndQuery: string, body: string, contentType = 'application/json'): Promise<BaiduEnvelope<T>> {
    const headers: Record<string, string> = { 'content-type': contentType };
    if (this.key) headers.authorization = `Bearer ${this.key}`;
    const response = await fetch(this.baseUrl + pathAndQuery, { method: 'POST', headers, body });
    return { status: response.status, ...((await response.json()) as Omit<BaiduEnvelope<T>, 'status'>) };
  }
}

export const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

/** The result of a call that must succeed (error_code 0). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const ok = <T = any>(res: BaiduEnvelope<T>): T => {
  expect(res.error_code, `${res.error_code} ${res.error_msg}`).to.equal(0);
  return res.result;
};

/** A refusal as Baidu answers it: HTTP 200 with the error code in the body. */
export const fails = (res: BaiduEnvelope<unknown>, code: number): void => {
  expect(res.status).to.equal(200);
  expect(res.error_code, res.error_msg).to.equal(code);
};
