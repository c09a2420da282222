// Apache mod_auth_openidc (Debian's libapache2-mod-auth-openidc), set up
// by discovery against payfac (tests/oidc/httpd.conf), in front of
// claims.cgi, with a buyer in headless Chromium: the merchant's code link
// signs the buyer in on payfac, the app's page sends the browser through
// payfac's authorization endpoint and back, and the page shows the claims
// mod_auth_openidc handed it. Then what the module refuses (no payfac
// session, an authorization response with another iss or state) and
// RP-initiated logout through the module.
//
// Run through tests/oidc/run.sh, which starts payfac and Apache.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { launchBrowser } from '../browser/lib.mjs';
import { env, skip, syncBuyer } from './fixture.mjs';

const apacheSkip = skip || (env.apache ? false : 'OIDC_APACHE is not set');

// A browser, closed when the test ends; every URL it requested.
async function browser(t) {
  const b = await launchBrowser();
  t.after(() => b.close());
  const page = b.context.pages()[0] ?? (await b.context.newPage());
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  return { page, requests };
}

// The merchant's code link, opened in the browser: the buyer is signed in
// on payfac.
async function openCodeLink(page) {
  const buyer = await syncBuyer('APA');
  const answer = await page.goto(`${env.issuer}/?authorizationCode=${encodeURIComponent(buyer.code)}`);
  assert.equal(answer.status(), 200, 'the code link lands on a payfac page');
  assert.equal(new URL(page.url()).search, '', 'the code is gone from the address bar');
  return buyer;
}

async function shownClaims(page) {
  const text = await page.locator('#claims').textContent({ timeout: 5_000 });
  return JSON.parse(text);
}

// The app's sign-in up to payfac's redirect back, followed by hand with
// the browser's own cookie jar (Playwright's route handler never sees a
// redirected request), then that redirect with `change` applied to its
// query (what a mixed-up provider or an attacker in the middle sends)
// opened in the browser.
async function openAlteredAuthorizationResponse(page, change) {
  const toPayfac = await page.request.get(`${env.apache}/app/claims`, { maxRedirects: 0 });
  const authorize = toPayfac.headers().location;
  assert.ok(authorize?.startsWith(`${env.issuer}/_payfac/oidc/authorize?`), `the app sent the browser to ${authorize}`);
  const back = await page.request.get(authorize, { maxRedirects: 0 });
  const location = new URL(back.headers().location);
  assert.ok(location.searchParams.get('code'), 'payfac answered with a code');
  change(location.searchParams);
  return page.goto(location.href);
}

// mod_auth_openidc 2.4.12 (Debian 12) reads any request to its redirect
// URI that carries `iss` and no code as a third-party-initiated login, so
// an error response with RFC 9207's `iss` shows its "target_link_uri"
// page instead of the provider's error: the buyer is refused either way.
async function assertRefused(page) {
  assert.equal(await page.locator('#claims').count(), 0, 'no claims page');
  assert.match(await page.title(), /error/i);
}

test('mod_auth_openidc: from the merchant\'s code link to the app\'s page, which shows the buyer\'s claims', { skip: apacheSkip, timeout: 120_000 }, async (t) => {
  const { page, requests } = await browser(t);
  const buyer = await openCodeLink(page);
  const answer = await page.goto(`${env.apache}/app/claims`);
  assert.equal(answer.status(), 200);
  assert.equal(new URL(page.url()).pathname, '/app/claims', 'back on the page asked for');
  const { remoteUser, claims } = await shownClaims(page);
  assert.equal(claims.sub, buyer.userId, 'sub = the userId the user-sync answered');
  assert.equal(remoteUser, buyer.userId, 'REMOTE_USER from sub');
  assert.equal(claims.iss, env.issuer);
  assert.equal(claims.merchant, env.merchant);
  assert.equal(claims.merchant_user_no, buyer.userNo);
  assert.equal(claims.email, buyer.email);
  const authorize = requests.find((u) => u.startsWith(`${env.issuer}/_payfac/oidc/authorize?`));
  assert.ok(authorize, 'the browser went through payfac\'s authorization endpoint');
  const sent = new URL(authorize).searchParams;
  assert.equal(sent.get('code_challenge_method'), 'S256', 'the module used PKCE S256');
  assert.equal(sent.get('client_id'), env.clients.apache.clientId);
  const back = requests.find((u) => u.startsWith(`${env.apache}/app/redirect_uri?`));
  assert.equal(new URL(back).searchParams.get('iss'), env.issuer, 'the response carried iss');

  // Signed in on the app now: no second trip to payfac.
  const before = requests.length;
  await page.goto(`${env.apache}/app/claims`);
  assert.equal((await shownClaims(page)).claims.sub, buyer.userId);
  assert.ok(!requests.slice(before).some((u) => u.startsWith(env.issuer)), 'the app\'s own session answered');
});

test('mod_auth_openidc: without a payfac session the app shows login_required, not a page', { skip: apacheSkip, timeout: 120_000 }, async (t) => {
  const { page, requests } = await browser(t);
  await page.goto(`${env.apache}/app/claims`);
  assert.ok(requests.some((u) => u.startsWith(`${env.issuer}/_payfac/oidc/authorize?`)));
  const back = requests.find((u) => u.startsWith(`${env.apache}/app/redirect_uri?`));
  assert.equal(new URL(back).searchParams.get('error'), 'login_required');
  assert.equal(new URL(back).searchParams.get('iss'), env.issuer);
  await assertRefused(page);
});

test('mod_auth_openidc refuses an authorization response with another iss (RFC 9207)', { skip: apacheSkip, timeout: 120_000 }, async (t) => {
  const { page } = await browser(t);
  await openCodeLink(page);
  await openAlteredAuthorizationResponse(page, (q) => q.set('iss', 'http://127.0.0.1:1'));
  await assertRefused(page);
  // And for that reason (its error page does not say).
  assert.match(readFileSync(env.apacheLog, 'utf8'),
    /configured issuer \(http:\/\/127\.0\.0\.1:\d+\) does not match the issuer provided in the response by the OP \(http:\/\/127\.0\.0\.1:1\)/);
});

test('mod_auth_openidc refuses an authorization response with another state', { skip: apacheSkip, timeout: 120_000 }, async (t) => {
  const { page } = await browser(t);
  await openCodeLink(page);
  const answer = await openAlteredAuthorizationResponse(page, (q) => q.set('state', 'not-the-state'));
  assert.equal(await page.locator('#claims').count(), 0, `no claims page (answered ${answer.status()})`);
  // The buyer is still signed in on payfac: a fresh sign-in through the
  // module goes through.
  const again = await page.goto(`${env.apache}/app/claims`);
  assert.equal(again.status(), 200);
});

test('mod_auth_openidc logout ends the payfac session through end_session_endpoint', { skip: apacheSkip, timeout: 120_000 }, async (t) => {
  const { page, requests } = await browser(t);
  const buyer = await openCodeLink(page);
  await page.goto(`${env.apache}/app/claims`);
  assert.equal((await shownClaims(page)).claims.sub, buyer.userId);

  const signedOut = `${env.apache}/signed-out.html`;
  await page.goto(`${env.apache}/app/redirect_uri?logout=${encodeURIComponent(signedOut)}`);
  const logout = requests.find((u) => u.startsWith(`${env.issuer}/_payfac/oidc/logout?`));
  assert.ok(logout, 'the module sent the browser to payfac\'s end_session_endpoint');
  assert.ok(new URL(logout).searchParams.get('id_token_hint'), 'with id_token_hint');
  assert.equal(page.url(), signedOut, 'and payfac sent it back to the registered post-logout URI');

  // Signed out of payfac too: the app's next sign-in is login_required.
  await page.goto(`${env.apache}/app/claims`);
  const again = requests.filter((u) => u.startsWith(`${env.apache}/app/redirect_uri?`)).at(-1);
  assert.equal(new URL(again).searchParams.get('error'), 'login_required', 'signed out of payfac too');
  await assertRefused(page);
});
