// The playground's signing, key and explanation modules, imported straight
// into Node (which has the same WebCrypto as the browser): the signature
// string and signature must reproduce tests/vectors/signature-vectors.json
// byte for byte, PEM mistakes must get a message that says what to do, and
// every sandbox reason must have an explanation. The page itself, and the
// same vectors in Chromium, are in page.test.mjs.
//
// Run: node --test tests/browser/modules.test.mjs   (or tests/browser/run.sh)

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, createPublicKey, createVerify } from 'node:crypto';

import { SORTED_PARAMS_CASES, importModule, loadVectors, referenceSortedParams } from './lib.mjs';

const vectors = loadVectors();
const signing = await importModule('signing.mjs');
const keys = await importModule('keys.mjs');
const explanations = await importModule('explanations.mjs');

// payfac's key id (`VerifyingKey::key_id`), computed by Node: the first 8
// bytes of SHA-256 over the SPKI DER, in hex.
function nodeKeyId(pem) {
  const spki = createPublicKey(pem).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('hex').slice(0, 16);
}

function verifySignature(publicKeyPem, text, signatureB64) {
  const v = createVerify('RSA-SHA256');
  v.update(Buffer.from(text, 'utf8'));
  return v.verify(publicKeyPem, Buffer.from(signatureB64, 'base64'));
}

describe('signing.mjs', () => {
  test('reproduces every signature vector byte for byte', async () => {
    assert.ok(vectors.cases.length > 0);
    for (const c of vectors.cases) {
      const text = signing.signatureString(c.rawQuery, c.timestamp, c.nonce, c.body);
      assert.equal(text, c.signatureString, `${c.name}: signatureString`);
      assert.equal(Buffer.from(text, 'utf8').compare(Buffer.from(c.signatureString, 'utf8')), 0, `${c.name}: bytes`);
      assert.equal(await signing.sign(vectors.privateKeyPem, c.signatureString), c.signature, `${c.name}: signature of the given string`);
      assert.equal(await signing.sign(vectors.privateKeyPem, text), c.signature, `${c.name}: signature`);
      // And the mock API's Node reference agrees, so page.test.mjs's mock
      // judges the UI fairly.
      assert.equal(referenceSortedParams(c.rawQuery) + c.timestamp + c.nonce + c.body, c.signatureString, `${c.name}: node reference`);
    }
  });

  test('sorted_params edge cases (UTF-8 byte order, lenient decoding)', () => {
    for (const [q, want] of SORTED_PARAMS_CASES) {
      assert.equal(signing.sortedParams(q), want, `sortedParams(${JSON.stringify(q)})`);
    }
  });

  test('nonces are 16 fresh characters of [A-Za-z0-9]', () => {
    const nonces = Array.from({ length: 50 }, () => signing.randomNonce());
    for (const n of nonces) assert.match(n, /^[A-Za-z0-9]{16}$/);
    assert.equal(new Set(nonces).size, nonces.length);
    assert.match(signing.randomNonce(32), /^[A-Za-z0-9]{32}$/);
  });

  test('the curl command quotes for the shell and sends the body verbatim', () => {
    const cmd = signing.curlCommand('http://127.0.0.1:1/pay-fac/M/v1/user?a=1', { nonce: 'abc', signature: 'x/y+' }, '{"n":"O\'Neil"}');
    assert.equal(cmd, [
      "curl -sS 'http://127.0.0.1:1/pay-fac/M/v1/user?a=1'",
      "  -H 'nonce: abc'",
      "  -H 'signature: x/y+'",
      "  --data-binary '{\"n\":\"O'\\''Neil\"}'",
    ].join(' \\\n'));
  });
});

describe('keys.mjs', () => {
  test('generates a 2048-bit RSA pair whose halves belong together', async () => {
    const pair = await keys.generateKeyPair();
    assert.match(pair.privateKeyPem, /^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+\n-----END PRIVATE KEY-----\n$/);
    assert.match(pair.publicKeyPem, /^-----BEGIN PUBLIC KEY-----\n[A-Za-z0-9+/=\n]+\n-----END PUBLIC KEY-----\n$/);
    const pub = createPublicKey(pair.publicKeyPem);
    assert.equal(pub.asymmetricKeyDetails.modulusLength, 2048);
    assert.equal(pub.asymmetricKeyDetails.publicExponent, 65537n);
    const sig = await signing.sign(pair.privateKeyPem, 'hello');
    assert.ok(verifySignature(pair.publicKeyPem, 'hello', sig));
  });

  test('a PKCS#1 private key is accepted and signs like its PKCS#8 form', async () => {
    const pkcs1 = createPrivateKey(vectors.privateKeyPem).export({ type: 'pkcs1', format: 'pem' });
    assert.match(pkcs1, /BEGIN RSA PRIVATE KEY/);
    const c = vectors.cases[0];
    assert.equal(await signing.sign(pkcs1, c.signatureString), c.signature);
  });

  test('publicKeyId is the key id payfac gives the public half', async () => {
    // The vector key's id, as `payfac merchant add` prints it.
    assert.equal(await keys.publicKeyId(vectors.privateKeyPem), '12c2f9a139f2ddda');
    assert.equal(nodeKeyId(vectors.publicKeyPem), '12c2f9a139f2ddda');
    const pkcs1 = createPrivateKey(vectors.privateKeyPem).export({ type: 'pkcs1', format: 'pem' });
    assert.equal(await keys.publicKeyId(pkcs1), '12c2f9a139f2ddda');
    const pair = await keys.generateKeyPair();
    assert.equal(await keys.publicKeyId(pair.privateKeyPem), nodeKeyId(pair.publicKeyPem));
    await assert.rejects(keys.publicKeyId(vectors.publicKeyPem), /public key \(PUBLIC KEY\)/);
    await assert.rejects(keys.publicKeyId('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----'), /Could not import/);
  });

  test('the usual PEM mistakes get a message that says what to do', async () => {
    const encrypted = createPrivateKey(vectors.privateKeyPem)
      .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'x' });
    const truncated = vectors.privateKeyPem.replace(/-----END PRIVATE KEY-----\s*$/, '');
    const cases = [
      ['', /Paste a private key/],
      [vectors.publicKeyPem, /public key \(PUBLIC KEY\)/],
      [encrypted, /password-protected/],
      ['-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----', /Unsupported PEM block "EC PRIVATE KEY"/],
      [truncated, /incomplete/],
      ['-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----', /not valid Base64/],
      ['-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----', /Could not import the private key/],
    ];
    for (const [pem, message] of cases) {
      await assert.rejects(signing.sign(pem, 'x'), message, `sign(${JSON.stringify(pem.slice(0, 40))})`);
    }
  });
});

describe('explanations.mjs', () => {
  // The server's reasons; crates/server/src/playground.rs checks that
  // REASONS has exactly these keys against SignatureFailure itself.
  test('every sandbox reason has a title and an actionable text', () => {
    const reasons = Object.keys(explanations.REASONS);
    for (const r of ['missing_header', 'bad_timestamp', 'clock_skew', 'bad_nonce', 'nonce_reused', 'bad_signature_encoding', 'no_key_matched']) {
      assert.ok(reasons.includes(r), `REASONS has ${r}`);
    }
    for (const r of reasons) {
      const e = explanations.explainReason(r);
      assert.ok(e && e.title && e.text && e.text.length > 40, `explanation for ${r}`);
    }
    assert.equal(explanations.explainReason('no_such_reason'), null);
    assert.equal(explanations.explainReason('toString'), null, 'inherited names are not reasons');
  });

  // Issue 29: identical strings blame the key only when the server
  // checked the signature (no_key_matched); clock_skew and the header
  // reasons were decided before it.
  test('identical strings blame the key only on no_key_matched', () => {
    const blamesKey = /private key you signed with does not match/;
    assert.match(explanations.identicalStringsVerdict('no_key_matched', null, null), blamesKey);
    assert.match(explanations.identicalStringsVerdict('no_key_matched', ['aaaaaaaaaaaaaaaa'], 'bbbbbbbbbbbbbbbb'), blamesKey);
    assert.match(explanations.identicalStringsVerdict('no_key_matched', ['aaaaaaaaaaaaaaaa'], null), blamesKey);
    const registered = explanations.identicalStringsVerdict('no_key_matched', ['aaaaaaaaaaaaaaaa'], 'aaaaaaaaaaaaaaaa');
    assert.doesNotMatch(registered, blamesKey);
    assert.match(registered, /signature header must have changed/);
    for (const reason of Object.keys(explanations.REASONS).filter((r) => r !== 'no_key_matched').concat(['no_such_reason', undefined])) {
      const verdict = explanations.identicalStringsVerdict(reason, null, null);
      assert.match(verdict, /^The strings are identical/, String(reason));
      assert.doesNotMatch(verdict, /key you signed with|does not match/, String(reason));
    }
    assert.match(explanations.identicalStringsVerdict('clock_skew', null, null), /before it checked the signature/);
    assert.match(explanations.identicalStringsVerdict('bad_nonce', null, null), /before it checked the signature/);
    assert.match(explanations.identicalStringsVerdict('nonce_reused', null, null), /signature verified/);
  });

  test('the active key ids tell a wrong key from different bytes', () => {
    const ids = ['12c2f9a139f2ddda', '9f00aa11bb22cc33'];
    assert.equal(explanations.keyIdsNote(undefined, '12c2f9a139f2ddda'), null);
    assert.equal(explanations.keyIdsNote('12c2f9a139f2ddda', '12c2f9a139f2ddda'), null, 'not a list');
    const mine = explanations.keyIdsNote(ids, '12c2f9a139f2ddda');
    assert.match(mine, /^Active key ids of this merchant: 12c2f9a139f2ddda, 9f00aa11bb22cc33\./);
    assert.match(mine, /\(12c2f9a139f2ddda\) is one of them/);
    const other = explanations.keyIdsNote(ids, '0123456789abcdef');
    assert.match(other, /\(0123456789abcdef\) is not one of them/);
    const unknown = explanations.keyIdsNote(ids, null);
    assert.match(unknown, /12c2f9a139f2ddda, 9f00aa11bb22cc33/);
    assert.match(unknown, /payfac merchant list/);
    assert.match(explanations.keyIdsNote([], 'x'), /: none\./);
  });

  test('every failure code is explained, unknown ones too', () => {
    for (const code of ['10001', '10002', '10003', '10004']) {
      assert.match(explanations.explainCode(code).title, new RegExp(`^${code} — `));
    }
    assert.match(explanations.explainCode('19999').title, /^19999 — unexpected code$/);
  });
});
