// End to end through the real service: the playground page in headless
// Chromium makes a merchant's first signed call against `payfac serve
// --sandbox`, signs the buyer in with the returned code, and explains a
// replayed nonce and an unregistered key; against `payfac serve
// --playground` (no sandbox) the page says it is the production service.
//
// Needs the built binary: PAYFAC_BIN=target/debug/payfac node --test tests/browser/playground.e2e.test.mjs
// Without PAYFAC_BIN the test reports itself as skipped.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { launchBrowser, watchPage } from './lib.mjs';
import { PAYFAC_BIN, freePort, run, startServer, waitHealthy } from './serve.mjs';
const MERCHANT = 'PGTEST';
const BODY = '{"merchantUserNo":"U1000001","email":"john.doe@example.com","firstName":"John","lastName":"Doe"}';

async function signAndSend(page) {
  await page.click('#sign');
  await page.waitForSelector('#signed-panel:not([hidden])');
  return send(page);
}

async function send(page) {
  await page.evaluate(() => { document.querySelector('#result-code').textContent = ''; });
  await page.click('#send');
  await page.waitForFunction(() => document.querySelector('#result-code').textContent !== '', null, { timeout: 30_000 });
  const code = await page.textContent('#result-code');
  const response = await page.textContent('#response');
  return { code, response, envelope: (() => { try { return JSON.parse(response); } catch { return null; } })() };
}

test('playground against payfac serve --sandbox: sign, send, sign in, explain failures', {
  skip: PAYFAC_BIN ? false : 'PAYFAC_BIN is not set (path to the built payfac binary)',
  timeout: 240_000,
}, async (t) => {
  assert.ok(existsSync(PAYFAC_BIN), `PAYFAC_BIN=${PAYFAC_BIN} does not exist`);
  const dir = mkdtempSync(join(tmpdir(), 'payfac-pg-e2e-'));
  const dbUrl = `sqlite://${dir}/p.db`;
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;

  const server = startServer(['serve', '--listen', `127.0.0.1:${port}`, '--sandbox', '--insecure-cookies', '--database-url', dbUrl]);
  let browser = null;
  t.after(async () => {
    await browser?.close().catch(() => {});
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const context = (msg) => `${msg}\n--- payfac serve output (tail) ---\n${server.log()}`;

  await waitHealthy(origin, server);

  browser = await launchBrowser();
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  const watch = watchPage(page, `127.0.0.1:${port}`);

  // The page, as the real server serves it.
  const resp = await page.goto(`${origin}/playground`, { waitUntil: 'load' });
  assert.equal(resp.status(), 200, context('GET /playground'));
  const csp = resp.headers()['content-security-policy'] ?? '';
  assert.match(csp, /default-src 'self'/, 'the playground is served with a strict CSP');
  await page.waitForSelector('html[data-ready="true"]', { timeout: 10_000 });
  assert.deepEqual(watch.pageErrors, []);
  assert.deepEqual(watch.unexpectedConsoleErrors(), [], 'no console errors on load');

  // 1. A throwaway key pair, registered through the CLI.
  await page.click('#generate-key');
  await page.waitForFunction(() => document.querySelector('#public-key').value.includes('BEGIN PUBLIC KEY'), null, { timeout: 30_000 });
  const pubFile = join(dir, 'pub.pem');
  writeFileSync(pubFile, await page.inputValue('#public-key'));
  const add = await run(PAYFAC_BIN, ['merchant', 'add', MERCHANT, '--public-key', pubFile, '--database-url', dbUrl]);
  assert.equal(add.code, 0, `payfac merchant add failed: ${add.stderr}`);
  assert.match(add.stdout.trim(), /^\S+$/, 'merchant add prints the key id alone on one line');
  const registeredKeyId = add.stdout.trim();
  // The page computes the same id for the key as payfac does.
  const pageKeyId = await page.evaluate(async (pem) => {
    const keys = await import('/assets/playground/keys.mjs');
    return keys.publicKeyId(pem);
  }, await page.inputValue('#private-key'));
  assert.equal(pageKeyId, registeredKeyId, 'the page and payfac agree on the key id');
  // The running server picks up merchant changes within 5 s.
  await sleep(5_500);

  // 2. Sign + Send: 0000 with a one-time code.
  await page.fill('#merchant', MERCHANT);
  assert.equal(await page.inputValue('#body'), BODY);
  const ok = await signAndSend(page);
  assert.equal(ok.code, '0000', context(`expected 0000, got ${ok.response}`));
  assert.match(ok.envelope.data.userId, /^[1-9]\d*$/);
  assert.match(ok.envelope.data.authorizationCode, /^[A-Za-z0-9]{32}$/);
  const href = await page.getAttribute('#signin-link', 'href');
  assert.equal(href, `/account?authorizationCode=${ok.envelope.data.authorizationCode}`);
  assert.equal(await page.getAttribute('#signin-link-item', 'href'),
    `/items/2001591587541073922?authorizationCode=${ok.envelope.data.authorizationCode}`);

  // 3. Follow the sign-in link (it opens a new tab): the buyer is signed in.
  const [landing] = await Promise.all([
    browser.context.waitForEvent('page', { timeout: 15_000 }),
    page.click('#signin-link'),
  ]);
  await landing.waitForLoadState('load');
  const landingUrl = new URL(landing.url());
  assert.equal(landingUrl.origin, origin);
  assert.equal(landingUrl.pathname, '/account');
  assert.equal(landingUrl.searchParams.has('authorizationCode'), false, 'the code is stripped by a redirect');
  const text = await landing.textContent('body');
  assert.ok(text.includes('john.doe@example.com') || /John/.test(text), `landing page shows the buyer: ${text.slice(0, 500)}`);
  const me = await landing.evaluate(async () => {
    const r = await fetch('/api/me', { credentials: 'same-origin' });
    return { status: r.status, body: await r.text() };
  });
  assert.equal(me.status, 200, `GET /api/me: ${me.body}`);
  const meJson = JSON.parse(me.body);
  assert.equal(meJson.merchantUserNo, 'U1000001');
  assert.equal(meJson.merchant, MERCHANT);
  assert.equal(meJson.userId, ok.envelope.data.userId);
  await landing.close();

  // 4. Sending the same signed request again is a replay.
  const replay = await send(page);
  assert.equal(replay.code, '10003', context(`expected a replay to fail: ${replay.response}`));
  assert.match(await page.textContent('#reason'), /nonce_reused/);

  // 5. A different key pair the server does not know: 10003 no_key_matched.
  await page.click('#generate-key');
  await page.waitForFunction(() => document.querySelector('#keygen-status').textContent.startsWith('Done'), null, { timeout: 30_000 });
  const bad = await signAndSend(page);
  assert.equal(bad.code, '10003', context(`expected 10003, got ${bad.response}`));
  assert.equal(bad.envelope.data, null);
  assert.equal(bad.envelope.debug?.reason, 'no_key_matched');
  const reason = await page.textContent('#reason');
  assert.match(reason, /no_key_matched/);
  assert.match(reason, /does not verify with any active public key/);
  // The server verified exactly the string the page signed.
  assert.equal(bad.envelope.debug.signatureString, await page.textContent('#signature-string'));
  assert.equal(await page.locator('#compare-panel.match').count(), 1);
  assert.ok(await page.locator('#clock-panel').isVisible());
  // The sandbox lists the merchant's one active key, which is not the one
  // the page signed with, and the page says so.
  assert.deepEqual(bad.envelope.debug.activeKeyIds, [registeredKeyId]);
  const keyIds = await page.textContent('#key-ids');
  assert.ok(keyIds.includes(`Active key ids of this merchant: ${registeredKeyId}.`), keyIds);
  assert.match(keyIds, /\([0-9a-f]{16}\) is not one of them/);

  assert.deepEqual(watch.offsiteRequests, [], 'no request left 127.0.0.1');
  assert.deepEqual(watch.pageErrors, []);
  assert.deepEqual(watch.unexpectedConsoleErrors(), []);
});

test('playground on a production service (--playground alone) shows the production banner', {
  skip: PAYFAC_BIN ? false : 'PAYFAC_BIN is not set (path to the built payfac binary)',
  timeout: 120_000,
}, async (t) => {
  assert.ok(existsSync(PAYFAC_BIN), `PAYFAC_BIN=${PAYFAC_BIN} does not exist`);
  const dir = mkdtempSync(join(tmpdir(), 'payfac-pg-prod-'));
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const server = startServer(['serve', '--listen', `127.0.0.1:${port}`, '--playground', '--insecure-cookies',
    '--database-url', `sqlite://${dir}/p.db`]);
  let browser = null;
  t.after(async () => {
    await browser?.close().catch(() => {});
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await waitHealthy(origin, server);

  browser = await launchBrowser();
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  const watch = watchPage(page, `127.0.0.1:${port}`);
  const resp = await page.goto(`${origin}/playground`, { waitUntil: 'load' });
  assert.equal(resp.status(), 200, `GET /playground\n${server.log()}`);
  await page.waitForSelector('html[data-ready="true"]', { timeout: 10_000 });
  const banner = page.locator('#production-banner');
  assert.ok(await banner.isVisible(), 'the production banner is visible');
  assert.match(await banner.textContent(), /production payfac service, not the sandbox/);
  assert.match(await banner.textContent(), /only test keys/);
  assert.deepEqual(watch.pageErrors, []);
  assert.deepEqual(watch.unexpectedConsoleErrors(), []);
});
