// The playground page in headless Chromium against a tiny static server:
// it must load its ES modules under the real CSP with no console errors and
// no request leaving 127.0.0.1, its signer must reproduce
// tests/vectors/signature-vectors.json byte for byte in the browser's own
// WebCrypto, and the Sign/Send flow must send exactly what it signed
// (checked by a mock merchant API that verifies like the server does).
// The modules on their own, in Node, are in modules.test.mjs.
//
// Run: node --test tests/browser/page.test.mjs   (or tests/browser/run.sh)

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, createSign, createVerify } from 'node:crypto';

import {
  PLAYGROUND_MODULES, SORTED_PARAMS_CASES, launchBrowser, loadVectors, referenceSortedParams, startStaticServer, watchPage,
} from './lib.mjs';

const vectors = loadVectors();
const FAKE_CODE = 'Zx9Qk2LmN4pR7sT1vW3yA5bC8dE0fG6h';
// payfac's key id of the test key (first 8 bytes of SHA-256 of its SPKI DER).
const VECTOR_KEY_ID = createHash('sha256')
  .update(createPublicKey(vectors.publicKeyPem).export({ type: 'spki', format: 'der' }))
  .digest('hex').slice(0, 16);

// What the mock merchant API last received.
let lastRequest = null;

function verifySignature(publicKeyPem, text, signatureB64) {
  const v = createVerify('RSA-SHA256');
  v.update(Buffer.from(text, 'utf8'));
  return v.verify(publicKeyPem, Buffer.from(signatureB64, 'base64'));
}

function envelope(code, msg, data, debug) {
  const time = new Date().toISOString().slice(0, 19).replace('T', ' ');
  const env = { code, msg, time, data: data ?? null };
  if (debug) env.debug = debug;
  return JSON.stringify(env);
}

// Mock of POST /pay-fac/{merchant}/v1/user in sandbox mode, for the UI flow.
//   MOCKOK   -> verifies with the test public key: 0000 or 10003 no_key_matched
//               listing the test key's id as the one active key
//   MOCKDIFF -> 10003 no_key_matched with a signatureString that differs
//               (the same key id list)
//   MOCKSKEW -> 10003 clock_skew with the server clock 20 minutes ahead
//   other    -> 10001
function mockApi(req, res, rawBody) {
  const url = new URL(req.url, 'http://127.0.0.1');
  const m = /^\/pay-fac\/([^/]+)\/v1\/user$/.exec(url.pathname);
  if (!m) return false;
  const rawQuery = req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '';
  lastRequest = { method: req.method, merchant: m[1], rawQuery, headers: req.headers, body: rawBody };
  const send = (status, text) => {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(text);
  };
  if (req.method !== 'POST') { send(405, envelope('10001', 'URL parsing error.')); return true; }
  const { timestamp, nonce, signature } = req.headers;
  const serverTime = Math.floor(Date.now() / 1000);
  const sigString = referenceSortedParams(rawQuery) + (timestamp ?? '') + (nonce ?? '') + rawBody.toString('utf8');
  switch (m[1]) {
    case 'MOCKOK':
      if (verifySignature(vectors.publicKeyPem, sigString, signature ?? '')) {
        send(200, envelope('0000', 'Success', { userId: '1739298043323322369', authorizationCode: FAKE_CODE }));
      } else {
        send(401, envelope('10003', 'Request signature error.', null,
          { reason: 'no_key_matched', serverTime, signatureString: sigString, activeKeyIds: [VECTOR_KEY_ID] }));
      }
      return true;
    case 'MOCKDIFF': {
      // As if the server had re-serialized the body: the strings differ.
      const altered = sigString.replace('"email":', '"email" :');
      send(401, envelope('10003', 'Request signature error.', null,
        { reason: 'no_key_matched', serverTime, signatureString: altered, activeKeyIds: [VECTOR_KEY_ID] }));
      return true;
    }
    case 'MOCKSKEW':
      send(401, envelope('10003', 'Request signature error.', null, { reason: 'clock_skew', serverTime: serverTime + 1200, signatureString: sigString }));
      return true;
    default:
      send(404, envelope('10001', 'URL parsing error.'));
      return true;
  }
}

describe('API playground page', () => {
  let site;
  let browser;
  let page;
  let watch;

  // Forgets the previous answer's code before a Send, so that waiting for
  // a code waits for this answer, not the one already on the page.
  const clearResult = () => page.evaluate(() => {
    document.querySelector('#result-code').textContent = '';
  });

  before(async () => {
    site = await startStaticServer({ api: mockApi });
    browser = await launchBrowser();
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    watch = watchPage(page, site.host);
    const resp = await page.goto(`${site.origin}/playground`, { waitUntil: 'load' });
    assert.equal(resp.status(), 200);
    await page.waitForSelector('html[data-ready="true"]', { timeout: 10_000 });
  });

  after(async () => {
    await browser?.close();
    await site?.close();
  });

  test('loads its modules under the CSP with no console errors', async () => {
    assert.equal(await page.title(), 'API Playground · payfac');
    // Every module was fetched from this origin (the page ran: data-ready).
    const paths = watch.requests.map((u) => new URL(u).pathname);
    for (const name of PLAYGROUND_MODULES) {
      assert.ok(paths.includes(`/assets/playground/${name}`), `${name} loaded (requests: ${paths})`);
    }
    assert.equal(await page.locator('script[type="module"][src="assets/playground/ui.mjs"]').count(), 1);
    assert.equal(await page.locator('script:not([src])').count(), 0, 'no inline script');
    for (const id of ['merchant', 'private-key', 'generate-key', 'public-key', 'body', 'query', 'sign', 'send',
      'signature-string', 'curl', 'response', 'reason', 'signin-link']) {
      assert.equal(await page.locator(`#${id}`).count(), 1, `#${id} present once`);
    }
    const openapi = await page.locator('a[href="/openapi.json"]').count();
    assert.ok(openapi >= 1, 'links /openapi.json');
    assert.equal(
      await page.inputValue('#body'),
      '{"merchantUserNo":"U1000001","email":"john.doe@example.com","firstName":"John","lastName":"Doe"}',
    );
    // The stylesheet applied (CSP did not block it): hidden panels are hidden.
    assert.equal(await page.locator('#public-key-panel').isVisible(), false);
    assert.deepEqual(watch.pageErrors, []);
    assert.deepEqual(watch.unexpectedConsoleErrors(), []);
    assert.deepEqual(watch.offsiteRequests, []);
  });

  // The page's own module in Chromium's WebCrypto (imported as the page
  // imports it; the same-origin import is allowed by the CSP).
  const inPage = (fn, arg) => page.evaluate(fn, arg);

  test('reproduces every signature vector byte for byte in the browser', async () => {
    assert.ok(vectors.cases.length > 0);
    for (const c of vectors.cases) {
      const got = await inPage(async ({ c, pem }) => {
        const p = await import('/assets/playground/signing.mjs');
        const signatureString = p.signatureString(c.rawQuery, c.timestamp, c.nonce, c.body);
        const signature = await p.sign(pem, signatureString);
        const signatureOfExpected = await p.sign(pem, c.signatureString);
        return { signatureString, signature, signatureOfExpected };
      }, { c, pem: vectors.privateKeyPem });
      assert.equal(got.signatureString, c.signatureString, `${c.name}: signatureString`);
      assert.equal(Buffer.from(got.signatureString, 'utf8').compare(Buffer.from(c.signatureString, 'utf8')), 0, `${c.name}: bytes`);
      assert.equal(got.signatureOfExpected, c.signature, `${c.name}: signature of the given string`);
      assert.equal(got.signature, c.signature, `${c.name}: signature`);
    }
  });

  test('sorted_params edge cases and nonces in the browser', async () => {
    const got = await inPage(async (cases) => {
      const p = await import('/assets/playground/signing.mjs');
      return { params: cases.map(([q]) => p.sortedParams(q)), nonces: Array.from({ length: 50 }, () => p.randomNonce()) };
    }, SORTED_PARAMS_CASES);
    SORTED_PARAMS_CASES.forEach(([q, want], i) => assert.equal(got.params[i], want, `sortedParams(${JSON.stringify(q)})`));
    for (const n of got.nonces) assert.match(n, /^[A-Za-z0-9]{16}$/);
    assert.equal(new Set(got.nonces).size, got.nonces.length);
  });

  test('generates a 2048-bit RSA key pair and shows the register commands', async () => {
    await page.fill('#merchant', 'PGTEST');
    await page.click('#generate-key');
    await page.waitForFunction(() => document.querySelector('#public-key').value.includes('BEGIN PUBLIC KEY'), null, { timeout: 30_000 });
    const pub = await page.inputValue('#public-key');
    const priv = await page.inputValue('#private-key');
    assert.match(priv, /^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+\n-----END PRIVATE KEY-----\n$/);
    assert.match(pub, /^-----BEGIN PUBLIC KEY-----\n[A-Za-z0-9+/=\n]+\n-----END PUBLIC KEY-----\n$/);
    const key = createPublicKey(pub);
    assert.equal(key.asymmetricKeyType, 'rsa');
    assert.equal(key.asymmetricKeyDetails.modulusLength, 2048);
    assert.equal(key.asymmetricKeyDetails.publicExponent, 65537n);
    // The two halves belong together.
    const sig = createSign('RSA-SHA256').update('hello').sign(priv, 'base64');
    assert.ok(verifySignature(pub, 'hello', sig));
    assert.equal(await page.textContent('#register-command'), 'payfac merchant add PGTEST --public-key pub.pem');
    assert.equal(await page.textContent('#register-key-command'), 'payfac merchant key add PGTEST --public-key pub.pem');
    assert.ok(await page.locator('#public-key-panel').isVisible());
  });

  test('Sign shows the exact string, headers and curl; Send sends those bytes', async () => {
    const body = '{"merchantUserNo":"U1000001","email":"john.doe@example.com","firstName":"Jürgen","lastName":"O\'Neil"}';
    await page.fill('#merchant', 'MOCKOK');
    await page.fill('#private-key', vectors.privateKeyPem);
    await page.fill('#body', body);
    await page.fill('#query', 'z=1&a=%E4%B8%AD&m=x+y');
    const before = Math.floor(Date.now() / 1000);
    await page.click('#sign');
    await page.waitForSelector('#signed-panel:not([hidden])');
    const ts = await page.textContent('#header-timestamp');
    const nonce = await page.textContent('#header-nonce');
    const signature = await page.textContent('#header-signature');
    assert.match(ts, /^\d{10}$/);
    assert.ok(Math.abs(Number(ts) - before) <= 5, 'timestamp is now, in seconds');
    assert.match(nonce, /^[A-Za-z0-9]{16}$/);
    const shown = await page.textContent('#signature-string');
    assert.equal(shown, `a=中&m=x y&z=1${ts}${nonce}${body}`);
    assert.ok(verifySignature(vectors.publicKeyPem, shown, signature), 'signature verifies with the test public key');

    const curl = await page.textContent('#curl');
    assert.ok(curl.startsWith(`curl -sS '${site.origin}/pay-fac/MOCKOK/v1/user?z=1&a=%E4%B8%AD&m=x+y'`), curl);
    assert.ok(curl.includes(`-H 'Content-Type: application/json'`));
    assert.ok(curl.includes(`-H 'timestamp: ${ts}'`));
    assert.ok(curl.includes(`-H 'nonce: ${nonce}'`));
    assert.ok(curl.includes(`-H 'signature: ${signature}'`));
    assert.ok(curl.endsWith(`--data-binary '${body.replace(/'/g, "'\\''")}'`), curl);

    lastRequest = null;
    await page.click('#send');
    await page.waitForSelector('#response-panel:not([hidden])');
    await page.waitForFunction(() => document.querySelector('#result-code').textContent !== '');
    assert.ok(lastRequest, 'the mock got the request');
    assert.equal(lastRequest.method, 'POST');
    assert.equal(lastRequest.merchant, 'MOCKOK');
    assert.equal(lastRequest.rawQuery, 'z=1&a=%E4%B8%AD&m=x+y');
    assert.equal(lastRequest.headers['content-type'], 'application/json');
    assert.equal(lastRequest.headers.timestamp, ts);
    assert.equal(lastRequest.headers.nonce, nonce);
    assert.equal(lastRequest.headers.signature, signature);
    assert.equal(lastRequest.body.compare(Buffer.from(body, 'utf8')), 0, 'body bytes exactly as signed');

    assert.equal(await page.textContent('#result-code'), '0000');
    const env = JSON.parse(await page.textContent('#response'));
    assert.equal(env.code, '0000');
    assert.equal(env.data.authorizationCode, FAKE_CODE);
    assert.equal(await page.getAttribute('#signin-link', 'href'), `/account?authorizationCode=${FAKE_CODE}`);
    assert.equal(await page.getAttribute('#signin-link-item', 'href'), `/items/2001591587541073922?authorizationCode=${FAKE_CODE}`);
    assert.ok(await page.locator('#signin-panel').isVisible());
    assert.match(await page.textContent('#signin-panel'), /single-use/);
    assert.equal(await page.locator('#explanation').isVisible(), false);
  });

  test('Send after an edit re-signs; a differing server string is highlighted', async () => {
    await page.fill('#query', '');
    await page.fill('#merchant', 'MOCKDIFF');
    assert.ok(await page.locator('#stale-warning').isVisible(), 'warns that the signature is stale');
    await clearResult();
    await page.click('#send');
    await page.waitForFunction(() => document.querySelector('#result-code').textContent === '10003');
    const reason = await page.textContent('#reason');
    assert.match(reason, /no_key_matched/);
    assert.match(reason, /does not verify with any active public key/);
    assert.ok(await page.locator('#compare-panel').isVisible());
    assert.ok(await page.locator('#compare-panel.mismatch').count() === 1);
    assert.equal(await page.locator('#server-signature-string mark.diff').count(), 1);
    assert.equal(await page.locator('#page-signature-string mark.diff').count(), 1);
    assert.match(await page.textContent('#compare-verdict'), /differ from character \d+/);
    // Signed with the registered key: the page says the key is right.
    assert.match(await page.textContent('#key-ids'), new RegExp(`Active key ids of this merchant: ${VECTOR_KEY_ID}\\.`));
    assert.match(await page.textContent('#key-ids'), new RegExp(`\\(${VECTOR_KEY_ID}\\) is one of them`));
    assert.equal(lastRequest.merchant, 'MOCKDIFF');
    assert.equal(await page.textContent('#page-signature-string'), await page.textContent('#signature-string'));
    assert.ok(await page.locator('#clock-panel').isVisible());
    assert.equal(await page.locator('#signin-panel').isVisible(), false);
  });

  test('a key that matches no registered key is explained (identical strings)', async () => {
    await page.fill('#merchant', 'MOCKOK');
    await page.click('#generate-key'); // a fresh pair the mock does not know
    await page.waitForFunction(() => document.querySelector('#keygen-status').textContent.startsWith('Done'), null, { timeout: 30_000 });
    await page.click('#sign');
    await clearResult();
    await page.click('#send');
    await page.waitForFunction(() => document.querySelector('#result-code').textContent === '10003');
    assert.match(await page.textContent('#reason'), /no_key_matched/);
    assert.ok(await page.locator('#compare-panel.match').count() === 1);
    assert.match(await page.textContent('#compare-verdict'), /identical/);
    assert.match(await page.textContent('#compare-verdict'), /private key you signed with does not match/);
    assert.match(await page.textContent('#explanation-title'), /^10003/);
    // The fresh key's id is not the one the mock lists.
    const keyIds = await page.textContent('#key-ids');
    assert.match(keyIds, new RegExp(`Active key ids of this merchant: ${VECTOR_KEY_ID}\\.`));
    assert.match(keyIds, /\([0-9a-f]{16}\) is not one of them/);
    assert.doesNotMatch(keyIds, new RegExp(`\\(${VECTOR_KEY_ID}\\)`));
  });

  test('clock skew and unknown merchant are explained', async () => {
    await page.fill('#merchant', 'MOCKSKEW');
    await clearResult();
    await page.click('#send');
    await page.waitForFunction(() => document.querySelector('#result-code').textContent === '10003');
    assert.match(await page.textContent('#reason'), /clock_skew/);
    assert.match(await page.textContent('#clock-verdict'), /behind the server/);
    // Issue 29: the signature was never checked, so the identical strings
    // say nothing about the key.
    assert.ok(await page.locator('#compare-panel.match').count() === 1);
    const verdict = await page.textContent('#compare-verdict');
    assert.match(verdict, /identical/);
    assert.match(verdict, /refused the timestamp before it checked the signature/);
    assert.doesNotMatch(verdict, /private key|does not match/);
    assert.equal(await page.locator('#key-ids').count(), 0, 'no key ids without no_key_matched');

    await page.fill('#merchant', 'NOSUCH');
    await clearResult();
    await page.click('#send');
    await page.waitForFunction(() => document.querySelector('#result-code').textContent === '10001');
    assert.match(await page.textContent('#explanation-text'), /merchant ID/);
    assert.equal(await page.locator('#reason').isVisible(), false);
  });

  test('a bad private key gives a clear message', async () => {
    await page.fill('#private-key', vectors.publicKeyPem);
    await page.click('#sign');
    await page.waitForSelector('#sign-error:not([hidden])');
    assert.match(await page.textContent('#sign-error'), /public key/);
  });

  test('made no request off 127.0.0.1 and logged no errors', () => {
    assert.ok(watch.requests.length >= 3);
    assert.deepEqual(watch.offsiteRequests, []);
    assert.deepEqual(watch.pageErrors, []);
    assert.deepEqual(watch.unexpectedConsoleErrors(), []);
  });
});
