// The second security review's browser findings, replayed in Chromium
// against a real `payfac serve` (docs/SECURITY.md cites each test):
//
// - a page on another site that auto-submits a form to payfac's logout
//   must not sign the buyer out, so the attacker's code link afterwards
//   asks "switch account?" instead of signing the victim in as the attacker;
// - the gateway's rewrite of a storefront redirect to its own address must
//   not produce a path the browser follows to another origin (`/\host`).
//
// Needs the built binary: PAYFAC_BIN=target/debug/payfac node --test tests/browser/security.e2e.test.mjs
// Without PAYFAC_BIN the tests report themselves as skipped.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { launchBrowser } from './lib.mjs';
import { PAYFAC_BIN, freePort, run, startServer, waitHealthy } from './serve.mjs';

const skip = PAYFAC_BIN ? false : 'PAYFAC_BIN is not set (path to the built payfac binary)';

// A plain HTTP server on 127.0.0.1 answering with `handle(req, res)`;
// records every request's path.
async function httpServer(handle) {
  const seen = [];
  const server = createServer((req, res) => { seen.push(req.url); handle(req, res); });
  const port = await freePort();
  await new Promise((res) => server.listen(port, '127.0.0.1', res));
  return { port, seen, close: () => new Promise((res) => server.close(res)) };
}

// payfac on a temp SQLite database with merchant SEC registered.
async function payfacWith(t, extraArgs) {
  assert.ok(existsSync(PAYFAC_BIN), `PAYFAC_BIN=${PAYFAC_BIN} does not exist`);
  const dir = mkdtempSync(join(tmpdir(), 'payfac-sec-e2e-'));
  const dbUrl = `sqlite://${dir}/s.db`;
  for (const args of [['keygen', '--out', `${dir}/m`], ['merchant', 'add', 'SEC', '--public-key', `${dir}/m.pub.pem`, '--database-url', dbUrl]]) {
    const done = await run(PAYFAC_BIN, args);
    assert.equal(done.code, 0, `payfac ${args[0]}: ${done.stderr}`);
  }
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const server = startServer(['serve', '--listen', `127.0.0.1:${port}`, '--insecure-cookies', '--database-url', dbUrl, ...extraArgs]);
  t.after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await waitHealthy(origin, server);
  const code = async (userNo) => {
    const done = await run(PAYFAC_BIN, ['user-sync', '--url', origin, '--merchant', 'SEC', '--key', `${dir}/m.key.pem`,
      '--merchant-user-no', userNo, '--email', `${userNo.toLowerCase()}@example.com`]);
    assert.equal(done.code, 0, `payfac user-sync: ${done.stderr}`);
    return JSON.parse(done.stdout).data.authorizationCode;
  };
  return { origin, server, code };
}

test('a cross-site logout neither signs the buyer out nor opens the way to a silent account switch', { skip, timeout: 120_000 }, async (t) => {
  const { origin, server, code } = await payfacWith(t, []);
  const attacker = await httpServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(`<!doctype html><form id="f" method="post" action="${origin}/_payfac/logout"></form>
      <script>document.getElementById('f').submit()</script>`);
  });
  t.after(() => attacker.close());
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  const me = () => page.evaluate(async () => (await fetch('/api/me')).json().catch(() => null));

  await page.goto(`${origin}/account?authorizationCode=${await code('VICTIM')}`);
  assert.equal(new URL(page.url()).pathname, '/account');
  assert.equal((await me())?.merchantUserNo, 'VICTIM', server.log());

  // The attacker's page posts the logout form from its own origin.
  const answer = page.waitForResponse((r) => r.url() === `${origin}/_payfac/logout`);
  await page.goto(`http://127.0.0.1:${attacker.port}/`);
  assert.equal((await answer).status(), 403, 'the cross-site logout is refused');
  assert.equal((await answer).headers()['set-cookie'], undefined, 'and clears no cookie');

  // The attacker's own code link: the browser is still the victim's, so
  // payfac asks first.
  await page.goto(`${origin}/account?authorizationCode=${await code('ATTACKER')}`);
  assert.equal(new URL(page.url()).pathname, '/_payfac/sign-in/confirm', 'the switch asks for consent');
  // The consent form works from payfac's own page (its Origin is null
  // under no-referrer; Sec-Fetch-Site says same-origin).
  await Promise.all([page.waitForURL(`${origin}/account`), page.click('#stay')]);
  assert.equal((await me())?.merchantUserNo, 'VICTIM', 'still signed in as the victim');

  // The same form on payfac's own origin signs out.
  await page.evaluate(() => {
    const form = Object.assign(document.createElement('form'), { method: 'post', action: '/_payfac/logout' });
    document.body.append(form);
    form.submit();
  });
  await page.waitForURL(`${origin}/`);
  assert.equal(await page.evaluate(async () => (await fetch('/api/me')).status), 401, 'a same-origin logout signs out');
});

test('a storefront redirect to its own address never sends the browser to another origin', { skip, timeout: 120_000 }, async (t) => {
  const evil = await httpServer((req, res) => { res.writeHead(200, { 'Content-Type': 'text/plain' }); res.end('evil'); });
  t.after(() => evil.close());
  const evilHost = `127.0.0.1:${evil.port}`;
  let upstreamPort = 0;
  const upstream = await httpServer((req, res) => {
    const own = `http://127.0.0.1:${upstreamPort}`;
    const targets = {
      '/backslash': `${own}/\\${evilHost}/landed`,
      '/tab': `${own}/\t/${evilHost}/landed`,
      '/slashes': `${own}//${evilHost}/landed`,
    };
    if (targets[req.url]) {
      res.writeHead(302, { Location: targets[req.url] });
      res.end();
    } else {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end(`storefront ${req.url}`);
    }
  });
  upstreamPort = upstream.port;
  t.after(() => upstream.close());
  const { origin } = await payfacWith(t, ['--upstream', `http://127.0.0.1:${upstream.port}`]);
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());

  for (const path of ['/backslash', '/tab', '/slashes']) {
    await page.goto(`${origin}${path}`);
    assert.equal(new URL(page.url()).origin, origin, `${path} stays on payfac: ${page.url()}`);
    assert.match(await page.textContent('body'), /^storefront \//, path);
  }
  assert.deepEqual(evil.seen, [], 'the other origin was never reached');
});
