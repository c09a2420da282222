#!/usr/bin/env node
// payfac merchant-side signing sample (Node 20: built-in crypto + global fetch, no npm packages).
//
// Usage:
//   node payfac_sign.mjs vectors VECTORS_JSON_PATH
//   node payfac_sign.mjs call BASE_URL MERCHANT_ID PRIVATE_KEY_PEM MERCHANT_USER_NO EMAIL
//
// The private key must be PKCS#8 PEM ("BEGIN PRIVATE KEY"). Convert a PKCS#1
// key ("BEGIN RSA PRIVATE KEY") with:
//   openssl pkcs8 -topk8 -nocrypt -in merchant.rsa.pem -out merchant.key.pem
import { createPrivateKey, createPublicKey, randomInt, sign, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

// application/x-www-form-urlencoded decoding: '+' is a space, then %XX (UTF-8).
const formDecode = (s) => decodeURIComponent(s.replace(/\+/g, ' '));

// docs/PROTOCOL.md §2 sorted_params: split on '&' (skip empty parts), split at the first '=',
// decode, sort by key then value in UTF-8 byte order (NOT JS's UTF-16 order).
function sortedParams(rawQuery) {
  const pairs = rawQuery.split('&').filter((p) => p !== '').map((part) => {
    const i = part.indexOf('=');
    return i < 0 ? [formDecode(part), ''] : [formDecode(part.slice(0, i)), formDecode(part.slice(i + 1))];
  });
  const bytes = (s) => Buffer.from(s, 'utf8');
  pairs.sort(([ka, va], [kb, vb]) => Buffer.compare(bytes(ka), bytes(kb)) || Buffer.compare(bytes(va), bytes(vb)));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

// No separators; the body is appended as the exact bytes that are sent.
const signatureString = (rawQuery, timestamp, nonce, body) =>
  Buffer.concat([Buffer.from(sortedParams(rawQuery) + timestamp + nonce, 'utf8'), body]);

// RSASSA-PKCS1-v1_5 (the default padding for RSA keys) with SHA-256, standard base64.
const signB64 = (key, data) => sign('sha256', data, key).toString('base64');

function vectors(path) {
  const doc = JSON.parse(readFileSync(path, 'utf8'));
  const privateKey = createPrivateKey(readFileSync(join(dirname(path), doc.privateKey)));
  const publicKey = createPublicKey(readFileSync(join(dirname(path), doc.publicKey)));
  let failed = 0;
  for (const c of doc.cases) {
    let why = null;
    const data = signatureString(c.rawQuery, c.timestamp, c.nonce, Buffer.from(c.body, 'utf8'));
    const sig = signB64(privateKey, data);
    if (data.toString('utf8') !== c.signatureString) {
      why = `signature string ${JSON.stringify(data.toString('utf8'))} != ${JSON.stringify(c.signatureString)}`;
    } else if (sig !== c.signature) {
      why = `signature ${sig} != expected`;
    } else if (!verify('sha256', data, publicKey, Buffer.from(sig, 'base64'))) {
      why = 'public key does not verify';
    }
    if (why) failed++;
    console.log(why ? `FAIL ${c.name}: ${why}` : `ok ${c.name}`);
  }
  return failed ? 1 : 0;
}

async function call(baseUrl, merchantId, keyPath, merchantUserNo, email) {
  const privateKey = createPrivateKey(readFileSync(keyPath));
  // Serialize the body ONCE; sign and send these very bytes.
  const body = Buffer.from(JSON.stringify({ merchantUserNo, email }), 'utf8');
  const timestamp = String(Math.floor(Date.now() / 1000)); // seconds, not milliseconds
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const nonce = Array.from({ length: 24 }, () => alphabet[randomInt(alphabet.length)]).join('');
  const signature = signB64(privateKey, signatureString('', timestamp, nonce, body));
  const resp = await fetch(`${baseUrl.replace(/\/+$/, '')}/pay-fac/${merchantId}/v1/user`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', timestamp, nonce, signature },
    body,
  });
  const text = await resp.text(); // errors (4xx/5xx) carry the JSON envelope too
  console.log(text);
  try {
    return JSON.parse(text).code === '0000' ? 0 : 1;
  } catch {
    return 1;
  }
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'vectors' && args.length === 1) {
  process.exitCode = vectors(args[0]);
} else if (mode === 'call' && args.length === 5) {
  process.exitCode = await call(...args);
} else {
  console.error('usage: payfac_sign.mjs vectors VECTORS_JSON_PATH\n' +
    '       payfac_sign.mjs call BASE_URL MERCHANT_ID PRIVATE_KEY_PEM MERCHANT_USER_NO EMAIL');
  process.exitCode = 2;
}
