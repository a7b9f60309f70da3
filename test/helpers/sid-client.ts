// A minimal SID-dialect HTTP client for tests: JSON posts with the app's
// credentials merged into every body, the answer decoded with its status.
export interface SidAnswer {
  status: number;
  info: string;
  result: number;
  [field: string]: any;
}

export class SidClient {
  constructor(
    private readonly baseUrl: string,
    private readonly appId: string,
    private readonly appSecret: string,
  ) {}

  /** POST `body` with app_id and app_secret added (unless the body sets them itself). */
  call(path: string, body: Record<string, unknown>): Promise<SidAnswer> {
    return this.raw(path, JSON.stringify({ app_id: this.appId, app_secret: this.appSecret, ...body }));
  }

  async raw(path: string, body: string): Promise<SidAnswer> {
    const response = await fetch(this.baseUrl + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    return { status: response.status, ...((await response.json()) as { info: string; result: number }) };
  }
}
