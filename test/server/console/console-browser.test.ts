// The web console in a real browser (headless Chromium): sign in, create a
// group, drop photos (one refused, its reason shown), bind, thumbnails, the
// face page, a terminal after a device-sim sync, the server page, sign out;
// and the refusals: wrong key, device key, forged CSRF token, expired session.
// A screenshot of each page is written under the test's temp dir (or
// CONSOLE_SCREENSHOT_DIR, kept).
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { createOnnxEngine } from '../../../models/index.js';
import type { FaceEngine } from '../../../models/engine.js';
import { enrollablePhoto, WHITE } from '../../helpers/photos.js';
import { PROJECT_ROOT, readPersonPhoto } from '../../helpers/paths.js';
import { launchChromium } from '../../helpers/chromium.js';
import { newFaceToken, newImageId } from '../../../server/core/tokens.js';
import { startTestServer, TEST_ADMIN_KEY, TEST_DEVICE_KEY, type TestServer } from '../../helpers/test-server.js';

// Functions handed to page.evaluate run in the browser. The project's type
// check has no DOM library (server code must not see browser globals), so the
// few browser names they use are declared here, loosely, for this file only.
declare const document: any;
declare const DataTransfer: any;
declare const DragEvent: any;
declare const File: any;
declare function atob(data: string): string;

const GROUP = 'lobby';
const TERMINAL = 'console-test-door';

/** tools/device-sim.ts --once as a child process; resolves with its exit code and output. */
function deviceSimOnce(url: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const args = ['--import', 'tsx', join(PROJECT_ROOT, 'tools', 'device-sim.ts'), '--url', url, '--key', TEST_DEVICE_KEY, '--group', GROUP, '--device-id', TERMINAL, '--encoding', 'float16', '--once'];
    const child = spawn(process.execPath, args, { cwd: PROJECT_ROOT, timeout: 20_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Drops files on an element the way a desktop drag does: a `drop` event whose DataTransfer holds them. */
async function dropFiles(page: Page, selector: string, files: Array<{ name: string; bytes: Buffer; type: string }>) {
  const payload = files.map((file) => ({ name: file.name, type: file.type, base64: file.bytes.toString('base64') }));
  await page.evaluate(({ selector, payload }) => {
    const transfer = new DataTransfer();
    for (const file of payload) {
      const bytes = Uint8Array.from(atob(file.base64), (c: string) => c.charCodeAt(0));
      transfer.items.add(new File([bytes], file.name, { type: file.type }));
    }
    const target = document.querySelector(selector)!;
    target.dispatchEvent(new DragEvent('dragover', { dataTransfer: transfer, bubbles: true, cancelable: true }));
    target.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
  }, { selector, payload });
}

/** fetch() from inside the page (same origin, the browser's own cookies). */
function pageFetch(page: Page, path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  return page.evaluate(async ({ path, init }) => {
    const res = await fetch(path, { ...init, credentials: 'same-origin' });
    return { status: res.status, body: (await res.json()) as { code: number; message: string; data: Record<string, unknown> } };
  }, { path, init });
}

describe('web console (headless Chromium)', function () {
  this.timeout(60_000);
  let engine: FaceEngine;
  let ts: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let tmp: string;
  let shots: string;
  const taken: string[] = [];

  const shot = async (name: string) => {
    const path = join(shots, `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    taken.push(path);
  };

  before(async function () {
    tmp = mkdtempSync(join(tmpdir(), 'console-browser-'));
    shots = process.env.CONSOLE_SCREENSHOT_DIR || join(tmp, 'screenshots');
    mkdirSync(shots, { recursive: true });
    engine = await createOnnxEngine({ intraOpThreads: 2 });
    ts = await startTestServer(engine);
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
    page = await context.newPage();
  });

  after(async function () {
    await browser?.close();
    await ts?.cleanup();
    await engine?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('refuses a wrong key and the device key at sign-in, in words', async function () {
    await page.goto(`${ts.url}/console`);
    await page.fill('#admin-key', 'not-the-key-at-all-0000');
    await page.click('#signin');
    await page.waitForSelector('#signin-error');
    expect(await page.textContent('#signin-error')).to.include('not the admin key');
    await page.fill('#admin-key', TEST_DEVICE_KEY);
    await page.click('#signin');
    await page.waitForFunction(() => document.querySelector('#signin-error')?.textContent?.includes('device key'));
    expect(await context.cookies()).to.have.length(0);
    await shot('signin');
  });

  it('signs in with the admin key into an HttpOnly, SameSite=Strict, expiring session cookie', async function () {
    await page.fill('#admin-key', TEST_ADMIN_KEY);
    await page.click('#signin');
    await page.waitForSelector('#new-group');
    const [cookie, ...others] = await context.cookies();
    expect(others).to.have.length(0);
    expect(cookie!.httpOnly).to.equal(true);
    expect(cookie!.sameSite).to.equal('Strict');
    expect(cookie!.expires * 1000).to.be.above(Date.now());
    // Script cannot read it.
    expect(await page.evaluate(() => document.cookie)).to.equal('');
  });

  it('creates a group', async function () {
    await page.fill('#new-group', GROUP);
    await page.click('#create-group');
    await page.waitForSelector(`tr[data-group="${GROUP}"]`);
    await shot('groups');
  });

  it('enrols dropped photos with progress, refuses a small face with its reason in words, binds, and shows thumbnails', async function () {
    await page.click(`tr[data-group="${GROUP}"] a`);
    await page.waitForSelector('#dropzone');
    const tiny = await sharp(readPersonPhoto('amy', 2)).resize(80, 80).toBuffer();
    const small = await sharp(tiny).extend({ top: 110, bottom: 110, left: 110, right: 110, background: WHITE }).png().toBuffer();
    await dropFiles(page, '#dropzone', [
      { name: 'amy.png', bytes: await enrollablePhoto('amy', 2), type: 'image/png' },
      { name: 'small.png', bytes: small, type: 'image/png' },
      { name: 'howard.png', bytes: await enrollablePhoto('howard', 1), type: 'image/png' },
    ]);
    await page.waitForFunction(() => document.querySelector('#enrol-count')?.textContent === '3 of 3 done', undefined, { timeout: 45_000 });
    const status = (file: string) => page.getAttribute(`li.result[data-file="${file}"]`, 'data-status');
    expect(await status('amy.png')).to.equal('enrolled');
    expect(await status('howard.png')).to.equal('enrolled');
    expect(await status('small.png')).to.equal('refused');
    const refusal = await page.textContent('li.result[data-file="small.png"] .refusal');
    expect(refusal).to.include('The face is too small').and.include('BAD_QUALITY: FaceMin');
    // The box found is drawn on the enrolled photos.
    expect(await page.locator('li.result[data-file="amy.png"] svg rect').count()).to.equal(1);
    await shot('enrol');

    // Amy is bound as a user (through the Baidu API, with her info), Howard as a bare face (FacePass bind).
    expect(await page.inputValue('li.result[data-file="amy.png"] input.user-id')).to.equal('amy');
    await page.fill('li.result[data-file="amy.png"] input.user-info', 'front desk');
    await page.fill('li.result[data-file="howard.png"] input.user-id', '');
    await page.click('#bind-enrolled');
    await page.waitForFunction(() => document.querySelectorAll('#face-grid li.tile').length === 2);
    // Thumbnails load through the session cookie (an <img> sends no key header).
    await page.waitForFunction(() =>
      [...document.querySelectorAll('#face-grid img')].every((img: any) => img.complete && img.naturalWidth > 0));
    expect(await page.textContent('#group-facts')).to.include('2 faces');
    await page.waitForSelector('#group-users button[data-user="amy"]');
    const tiles = await page.locator('#face-grid li.tile').allTextContents();
    expect(tiles.filter((text) => text.includes('amy') && text.includes('front desk'))).to.have.length(1);
    expect(tiles.filter((text) => text.includes('no user'))).to.have.length(1);
    await shot('group');
  });

  it('shows a face: photo with box and landmarks, quality, groups and history', async function () {
    await page.click('#face-grid li.tile a');
    await page.waitForSelector('#quality');
    await page.waitForFunction(() => (document.querySelector('.photo.large img')?.naturalWidth ?? 0) > 0);
    expect(await page.locator('.photo.large svg rect').count()).to.equal(1);
    expect(await page.locator('.photo.large svg circle.landmark').count()).to.be.above(4);
    expect(await page.textContent('#face-groups')).to.include(GROUP);
    expect(await page.textContent('#face-history')).to.include('Enrolled').and.include(`Bound to ${GROUP}`);
    expect(await page.locator('#quality tbody tr').count()).to.be.at.least(6);
    await shot('face');
  });

  it('lists a terminal after a device-sim --once sync, with its versions against the server', async function () {
    await page.click('#nav-terminals');
    await page.waitForSelector('#no-terminals');
    const run = await deviceSimOnce(ts.url);
    expect(run.code, run.stderr).to.equal(0);
    // The page polls: the row appears without a reload.
    const row = `tr[data-device="${TERMINAL}"]`;
    await page.waitForSelector(row, { timeout: 20_000 });
    const group = (await ts.server.store.getGroup('default' as never, GROUP as never))!;
    const text = (await page.textContent(row))!;
    expect(text).to.include(`${GROUP}: ${group.version} / ${group.version}`).and.include('float16').and.include('offline');
    await shot('terminals');
  });

  it('browses another library: its groups, a group\'s users, and the faces of one user', async function () {
    // Faces belong to one library: acme gets copies of the two enrolled faces (photo and all), as a Baidu client would add them.
    const store = ts.server.store;
    const enrolled = await store.listBindings((await store.getGroup('default' as never, GROUP as never))!.groupId, { limit: 2 });
    const [first, second] = await Promise.all(enrolled.map(async ({ faceToken }) => {
      const face = (await store.getFace(faceToken))!;
      const image = (await store.getImage(face.imageId))!;
      const imageId = newImageId();
      const copy = { ...face, faceToken: newFaceToken(), imageId, library: 'acme' as never };
      await store.addImage({ ...image, imageId }, copy);
      return copy.faceToken;
    }));
    await store.createGroup('acme' as never, 'staff' as never);
    await store.bind('acme' as never, 'staff' as never, first!, { userId: 'carol', userInfo: 'night shift' });
    await store.bind('acme' as never, 'staff' as never, second!, { userId: 'dave' });
    await page.click('#nav-groups');
    await page.click('#libraries a[data-library="acme"]');
    await page.click('tr[data-group="staff"] a');
    await page.waitForSelector('#group-users button[data-user="carol"]');
    expect(await page.locator('#dropzone').count(), 'no FacePass enrolment into a Baidu library').to.equal(0);
    await page.waitForFunction(() => document.querySelectorAll('#face-grid li.tile').length === 2);
    await page.click('#group-users button[data-user="carol"]');
    await page.waitForFunction(() => document.querySelectorAll('#face-grid li.tile').length === 1);
    expect(await page.getAttribute('#face-grid li.tile', 'data-token')).to.equal(first);
    expect(await page.textContent('#face-grid li.tile')).to.include('carol').and.include('night shift');
    await page.waitForFunction(() => (document.querySelector('#face-grid img')?.naturalWidth ?? 0) > 0);
    await shot('library');
  });

  it('shows the server page', async function () {
    await page.click('#nav-server');
    await page.waitForSelector('#server-version');
    expect(await page.textContent('#server-facts')).to.include('Feature model');
    await shot('server');
  });

  it('refuses writes with a forged or missing CSRF token, and accepts the real one', async function () {
    const session = await pageFetch(page, '/console/session');
    const csrf = session.body.data.csrf_token as string;
    const create = (headers: Record<string, string>) =>
      pageFetch(page, '/api/group/v1/create', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ group_name: 'forged' }) });
    const forged = await create({ 'x-csrf-token': 'forged-token-0000000000000000000000000' });
    expect(forged.status).to.equal(401);
    expect((await create({})).status).to.equal(401);
    expect(await ts.server.store.getGroup('default' as never, 'forged' as never)).to.equal(undefined);
    const real = await create({ 'x-csrf-token': csrf });
    expect(real.body.code, real.body.message).to.equal(0);
  });

  it('deletes a group only after a confirmation that names what is lost', async function () {
    await page.click('#nav-groups');
    await page.click('#libraries a[data-library="default"]');
    await page.click('tr[data-group="forged"] button');
    expect(await page.textContent('#confirm-delete')).to.include('Delete group forged?').and.include('0 face');
    expect(await ts.server.store.getGroup('default' as never, 'forged' as never)).to.not.equal(undefined);
    await page.click('#confirm-delete-yes');
    await page.waitForSelector('tr[data-group="forged"]', { state: 'detached' });
    expect(await ts.server.store.getGroup('default' as never, 'forged' as never)).to.equal(undefined);
    expect(await page.locator(`tr[data-group="${GROUP}"]`).count()).to.equal(1);
  });

  it('signs out, and the old session is refused afterwards', async function () {
    const [cookie] = await context.cookies();
    await page.click('#signout');
    await page.waitForSelector('#admin-key');
    expect(await page.textContent('#signin-notice')).to.include('Signed out');
    expect(await context.cookies()).to.have.length(0);
    // The browser holds no session, and the old cookie value no longer opens anything.
    expect((await pageFetch(page, '/api/console/v1/groups')).status).to.equal(401);
    const replay = await fetch(`${ts.url}/api/console/v1/groups`, { headers: { cookie: `${cookie!.name}=${cookie!.value}` } });
    expect(replay.status).to.equal(401);
    const image = await fetch(`${ts.url}/api/group/v1/list`, { headers: { cookie: `${cookie!.name}=${cookie!.value}` } });
    expect(image.status).to.equal(401);
  });

  it('wrote a PNG screenshot of each page', function () {
    expect(taken.map((path) => path.split('/').pop())).to.deep.equal(
      ['signin.png', 'groups.png', 'enrol.png', 'group.png', 'face.png', 'terminals.png', 'library.png', 'server.png']);
    for (const path of taken) expect(readFileSync(path).subarray(1, 4).toString()).to.equal('PNG');
  });

  describe('an expired session', function () {
    let short: TestServer;
    before(async function () {
      short = await startTestServer(engine, { console: { sessionTtlMs: 1000, maxSessions: 10, terminalStaleMs: 60_000 } });
    });
    after(async function () {
      await short?.cleanup();
    });

    it('is refused once its time is up, and the console asks to sign in again', async function () {
      const expiring = await browser.newContext();
      try {
        const tab = await expiring.newPage();
        await tab.goto(`${short.url}/console`);
        await tab.fill('#admin-key', TEST_ADMIN_KEY);
        const signIn = tab.waitForResponse((res) => res.url().endsWith('/console/session') && res.request().method() === 'POST');
        await tab.click('#signin');
        const expiresAt = ((await (await signIn).json()) as { data: { expires_at: number } }).data.expires_at;
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt - Date.now()) + 300));
        const [cookie] = await expiring.cookies();
        // Whether or not the browser still sends the cookie, the server no longer knows the session.
        if (cookie) {
          const res = await fetch(`${short.url}/api/console/v1/groups`, { headers: { cookie: `${cookie.name}=${cookie.value}` } });
          expect(res.status).to.equal(401);
        }
        await tab.reload();
        await tab.waitForSelector('#admin-key');
      } finally {
        await expiring.close();
      }
    });
  });
});
