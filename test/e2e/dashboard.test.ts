/**
 * The dashboard in a real Chromium against the real Worker (wrangler dev), Postgres and three radosgw backends:
 * sign in with the development token, see the fleet, drain a backend from the page (the pulsing "Draining"
 * badge, then progress to done), browse to an object and its copies, upload and download a file byte-exact
 * (large enough to go up in parts), delete a prefix after typing it, and a cross-site page refused. Nothing is
 * mocked. The screenshot docs/images/dashboard.png comes from this test (`npm run screenshot`).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { launchChromium } from '../support/browser.ts';
import { type TestStack, startTestStack } from '../support/stack.ts';

const TOKEN = 'dashboard-test-admin-token-0123';
const MiB = 1024 * 1024;
/** Where the screenshot goes: the README's image when `npm run screenshot` asks for it, else a scratch file. */
const SCREENSHOT = process.env.S3O_DASHBOARD_SCREENSHOT ?? join(tmpdir(), `s3o-dashboard-${process.pid}.png`);

let stack: TestStack;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let evil: Server | undefined;

beforeAll(async () => {
  [stack, browser] = await Promise.all([
    startTestStack({
      name: 'dashboard',
      admin: { token: TOKEN },
      strategy: 'pack',
      backends: [
        { name: 'a', kind: 'radosgw', faultProxy: true, quotaBytes: 16 * MiB },
        { name: 'b', kind: 'radosgw', quotaBytes: 32 * MiB },
        { name: 'c', kind: 'radosgw', quotaBytes: 32 * MiB },
      ],
    }),
    launchChromium(),
  ]);
  context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 }, colorScheme: 'light' });
  // Generous: on a busy machine a poll, a drain step or a multipart upload can take many seconds.
  context.setDefaultTimeout(90_000);
  page = await context.newPage();
});

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await new Promise<void>((resolve) => (evil ? evil.close(() => resolve()) : resolve()));
  await stack?.expectExactAccounting();
  await stack?.stop();
});

const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const backendCard = (name: string) => page.locator(`article.backend[data-backend="${name}"]`);

async function put(key: string, body: Uint8Array | string): Promise<void> {
  await stack.client().send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: body }));
}

async function keysUnder(prefix: string): Promise<string[]> {
  const listed = await stack.client().send(new ListObjectsV2Command({ Bucket: stack.bucket, Prefix: prefix }));
  return (listed.Contents ?? []).map((c) => c.Key ?? '');
}

describe('dashboard in a real browser', () => {
  it('sends a browser without a session to the sign-in form, refuses a wrong token, and signs in with the right one', async () => {
    const first = await page.goto(`${stack.endpoint}/admin/`);
    expect(page.url()).toBe(`${stack.endpoint}/admin/login`);
    expect(first?.headers()['content-security-policy']).toContain("script-src 'self'");
    await page.fill('#token', 'not-the-token');
    await page.click('#login button[type=submit]');
    await expect.poll(() => page.locator('#login-error').textContent()).toContain('invalid admin token');

    await page.fill('#token', TOKEN);
    await page.click('#login button[type=submit]');
    await page.waitForURL(`${stack.endpoint}/admin/`);
    await expect.poll(() => page.locator('article.backend').count()).toBe(3);
    expect(await page.locator('article.backend h3').allTextContents()).toEqual(['a', 'b', 'c']);
    const [cookie] = await context.cookies();
    expect(cookie).toMatchObject({ name: 's3o_session', httpOnly: true, sameSite: 'Strict', path: '/admin' });
  });

  it('fits a phone, follows the dark setting, and works from the keyboard', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await page.setViewportSize({ width: 1280, height: 900 });
    const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const light = await background();
    await page.emulateMedia({ colorScheme: 'dark' });
    expect(await background()).not.toBe(light);
    await page.emulateMedia({ colorScheme: 'light' });
    // Keyboard only: reach c's Drain button, open the dialog with Enter, leave it with Escape: nothing happens.
    await backendCard('c').getByRole('button', { name: 'Drain…' }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('#confirm').evaluate((d) => (d as HTMLDialogElement).open)).toBe(true);
    await page.keyboard.press('Escape');
    await expect.poll(() => page.locator('#confirm').evaluate((d) => (d as HTMLDialogElement).open)).toBe(false);
    expect((await stack.admin('GET', '/admin/api/backends/c/drain')).body).toMatchObject({ mode: 'active' });
  });

  it('drains a backend from the page: a pulsing Draining badge with live progress, then Drained', async () => {
    for (let i = 0; i < 24; i++) await put(`drain/object-${i}`, randomBytes(256 * 1024));
    // The drain's reads of a are held (the backend answers, the answer waits) until the page has shown the drain.
    stack.fault('a').setMode('hold-answer', 0, { methods: ['GET'] });
    await backendCard('a').getByRole('button', { name: 'Drain…' }).click();
    await expect.poll(() => page.locator('#confirm-title').textContent()).toBe('Drain a?');
    await page.click('#confirm-ok');

    const badge = backendCard('a').locator('[data-badge="draining"]');
    await badge.waitFor({ timeout: 60_000 });
    expect(await badge.evaluate((el) => getComputedStyle(el).animationName)).toBe('pulse');
    await expect.poll(() => backendCard('a').locator('.drain').textContent()).toContain('24 (');
    await page.locator('#jobs').getByText('Drain of a').waitFor();
    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: false, animations: 'disabled' });

    stack.fault('a').setMode('pass');
    await backendCard('a').locator('[data-badge="drained"]').waitFor({ timeout: 180_000 });
    const progress = backendCard('a').locator('.drain progress');
    expect(await progress.evaluate((el) => [(el as HTMLProgressElement).value, (el as HTMLProgressElement).max])).toEqual([24, 24]);
    expect(await backendCard('a').locator('.drain').textContent()).toContain('0 (0 B) remaining');
    expect((await stack.admin('GET', '/admin/api/backends/a/drain')).body).toMatchObject({ mode: 'drained', objects_remaining: 0 });
    // The drain is in the fleet's activity, by the signed-in caller.
    await expect.poll(() => page.locator('#activity tbody tr').first().textContent()).toMatch(/development token \(dashboard session\)admin\.drainbackend=a202 success/);
  });

  it('browses a bucket to an object and shows its copies; hostile names stay text', async () => {
    await put('photos/2026/cat.txt', 'meow');
    await put('photos/2026/<img src=x onerror=alert(1)>.txt', 'not markup');
    await put('photos/readme.txt', 'hello');
    await page.reload();
    await page.locator(`[data-bucket="${stack.bucket}"]`).click();
    await page.locator('[data-prefix="photos/"]').click();
    await expect.poll(() => page.locator('table.tree tbody tr').count()).toBe(2);
    await page.locator('[data-prefix="photos/2026/"]').click();
    await page.locator('[data-key="photos/2026/cat.txt"]').click();
    await expect.poll(() => page.locator('#object-details h3').textContent()).toBe('photos/2026/cat.txt');
    expect(await page.locator('#object-details [data-copy]').count()).toBe(1);
    expect(['b', 'c']).toContain(await page.locator('#object-details [data-copy]').getAttribute('data-copy'));
    await expect.poll(() => page.locator('[data-key="photos/2026/<img src=x onerror=alert(1)>.txt"]').textContent()).toBe('<img src=x onerror=alert(1)>.txt');
    expect(await page.locator('#browser img').count()).toBe(0);
  });

  it('uploads a file in parts and downloads it byte-exact', async () => {
    const bytes = randomBytes(12 * MiB + 12345);
    await page.setInputFiles('#upload-files', { name: 'big.bin', mimeType: 'application/octet-stream', buffer: bytes });
    await page.locator('[data-upload="photos/2026/big.bin"][data-state="done"]').waitFor({ timeout: 180_000 });
    const stored = await stack.client().send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'photos/2026/big.bin' }));
    const storedBytes = await stored.Body!.transformToByteArray();
    expect(sha(storedBytes)).toBe(sha(bytes));
    // Multipart: the ETag of an upload in parts ends in -<parts>.
    expect(stored.ETag).toMatch(/-2"$/);

    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('[data-download="photos/2026/big.bin"]').first().click()]);
    expect(download.suggestedFilename()).toBe('big.bin');
    const path = await download.path();
    expect(sha(readFileSync(path))).toBe(sha(bytes));
  });

  it('deletes a prefix only after the prefix is typed, and only that prefix', async () => {
    await put('photos2/keep.txt', 'sibling prefix');
    await page.locator('.crumbs button', { hasText: 'photos' }).click();
    await page.getByRole('button', { name: 'Delete prefix…' }).click();
    const phrase = `${stack.bucket}/photos/`;
    await page.fill('#confirm-typed', `${stack.bucket}/photos`);
    expect(await page.locator('#confirm-ok').isDisabled()).toBe(true);
    await page.fill('#confirm-typed', phrase);
    await page.click('#confirm-ok');
    await expect.poll(() => keysUnder('photos/'), { timeout: 60_000 }).toEqual([]);
    expect(await keysUnder('photos2/')).toEqual(['photos2/keep.txt']);
    expect((await keysUnder('drain/')).length).toBe(24);
  });

  it('shows the configuration history and a diff between versions', async () => {
    const doc = stack.deployedConfig();
    const server = (doc.server ?? {}) as Record<string, unknown>;
    doc.server = { ...server, log_level: server.log_level === 'debug' ? 'info' : 'debug' };
    const pushed = await stack.admin('POST', '/admin/api/config/versions', { yaml: stringify(doc), note: 'from the dashboard test' });
    expect(pushed.status).toBe(201);
    await page.reload();
    await page.locator('#config-view').getByText('from the dashboard test').waitFor();
    await page.locator('#config-view').getByRole('button', { name: `Diff with ${Number(pushed.body.version) - 1}` }).click();
    await expect.poll(() => page.locator('#config-diff pre.diff .added').allTextContents()).toEqual([expect.stringContaining('log_level:')]);
    expect(await stack.admin('GET', '/admin/api/config/versions/0')).toMatchObject({ status: 400 });
    expect(await stack.admin('GET', '/admin/api/config/versions/1e3')).toMatchObject({ status: 400 });
    expect(await stack.admin('GET', '/admin/api/config/versions/999')).toMatchObject({ status: 404, body: { error: 'no configuration version 999' } });
  });

  it('runs a scrub pass from the page and shows it among the jobs', async () => {
    await page.getByRole('button', { name: 'Scrub now' }).click();
    const row = page.locator('.job[data-status="complete"]', { hasText: 'Scrub pass' });
    await row.waitFor();
    expect(await row.textContent()).toMatch(/\d+ copies checked, 0 mismatches/);
  });

  it('refuses a state change from another origin that holds the session cookie (CSRF)', async () => {
    const target = `${stack.endpoint}/admin/api/backends/b/drain`;
    evil = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<!doctype html><form id="f" method="POST" action="${target}" enctype="text/plain"><input name='{"x":"' value='"}'></form>
<script>fetch(${JSON.stringify(target)}, { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: '{}' }).finally(() => document.getElementById('f').submit());</script>`);
    });
    await new Promise<void>((resolve) => evil!.listen(0, '127.0.0.1', resolve));
    const evilUrl = `http://127.0.0.1:${(evil.address() as AddressInfo).port}/`;
    const statuses: number[] = [];
    page.on('response', (r) => {
      if (r.url() === target) statuses.push(r.status());
    });
    await page.goto(evilUrl);
    await expect.poll(() => statuses.length, { timeout: 30_000 }).toBe(2);
    expect(statuses).toEqual([403, 403]);
    expect((await stack.admin('GET', '/admin/api/backends/b/drain')).body).toMatchObject({ mode: 'active', active: false });
  });
});
