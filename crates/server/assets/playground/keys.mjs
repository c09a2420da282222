// Keys: PEM parsing and import into WebCrypto, and throwaway key pairs.
//
// Only what WebCrypto needs crosses into it: the PEM is decoded here so that
// the usual mistakes (a public key, an encrypted key, a truncated paste) get
// a message that says what to do instead of WebCrypto's generic DataError.
// Works in the browser and in Node (>= 20), which the tests rely on.

export const RSA_ALG = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };

// WebCrypto, or an error that says why the browser withholds it.
export function requireSubtle() {
  const subtle = globalThis.crypto && globalThis.crypto.subtle;
  if (!subtle) {
    throw new Error('WebCrypto is not available here. Browsers offer it only on secure origins: ' +
      'open this page over HTTPS, or on http://127.0.0.1 / http://localhost.');
  }
  return subtle;
}

export function bytesToBase64(buf) {
  const bytes = new Uint8Array(buf);
  let s = '';
  // Chunked: String.fromCharCode.apply has an argument-count limit.
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

function base64ToBytes(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function toPem(label, der) {
  const lines = bytesToBase64(der).match(/.{1,64}/g) || [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

function derLength(n) {
  if (n < 0x80) return [n];
  const b = [];
  while (n > 0) { b.unshift(n & 0xff); n = Math.floor(n / 256); }
  return [0x80 | b.length, ...b];
}

function derTlv(tag, content) {
  const head = [tag, ...derLength(content.length)];
  const out = new Uint8Array(head.length + content.length);
  out.set(head, 0);
  out.set(content, head.length);
  return out;
}

function concatBytes(list) {
  const out = new Uint8Array(list.reduce((n, a) => n + a.length, 0));
  let off = 0;
  for (const a of list) { out.set(a, off); off += a.length; }
  return out;
}

// Wraps a PKCS#1 RSAPrivateKey in a PKCS#8 PrivateKeyInfo: WebCrypto only
// imports PKCS#8, and `openssl genrsa` still writes PKCS#1.
function pkcs1ToPkcs8(pkcs1) {
  const version = new Uint8Array([0x02, 0x01, 0x00]);
  const rsaEncryption = new Uint8Array([0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00]);
  return derTlv(0x30, concatBytes([version, rsaEncryption, derTlv(0x04, pkcs1)]));
}

// PEM (or bare Base64 DER) -> PKCS#8 DER bytes; throws a helpful Error for
// the usual mistakes.
export function privateKeyDer(pem) {
  const text = String(pem || '').trim();
  if (!text) throw new Error('Paste a private key, or click "Generate throwaway key pair".');
  const m = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/.exec(text);
  const label = m ? m[1] : null;
  const inner = m ? m[2] : text;
  if (label === 'PUBLIC KEY' || label === 'RSA PUBLIC KEY' || label === 'CERTIFICATE') {
    throw new Error(`That is a public key (${label}). Signing needs the private key; the public key is what you register with the platform.`);
  }
  if (label === 'ENCRYPTED PRIVATE KEY' || /Proc-Type:\s*4,ENCRYPTED/.test(inner)) {
    throw new Error('This private key is password-protected. Export an unencrypted PKCS#8 copy of your test key, e.g. ' +
      '"openssl pkcs8 -topk8 -nocrypt -in key.pem -out key.pk8.pem".');
  }
  if (m && label !== 'PRIVATE KEY' && label !== 'RSA PRIVATE KEY') {
    throw new Error(`Unsupported PEM block "${label}": expected "-----BEGIN PRIVATE KEY-----" (PKCS#8).`);
  }
  if (!m && /-----BEGIN/.test(text)) {
    throw new Error('The PEM is incomplete: its "-----END …-----" line is missing or does not match the BEGIN line.');
  }
  let der;
  try {
    der = base64ToBytes(inner.replace(/\s+/g, ''));
  } catch {
    throw new Error('The key is not valid Base64 between its BEGIN and END lines.');
  }
  if (der.length === 0) throw new Error('The PEM block is empty.');
  return label === 'RSA PRIVATE KEY' ? pkcs1ToPkcs8(der) : der;
}

// A non-extractable signing key. Input errors reject; they never throw, so
// callers handle one failure path.
export async function importPrivateKey(pem) {
  const subtle = requireSubtle();
  const der = privateKeyDer(pem);
  try {
    return await subtle.importKey('pkcs8', der, RSA_ALG, false, ['sign']);
  } catch (e) {
    throw new Error('Could not import the private key: it is not an RSA PKCS#8 key WebCrypto accepts (' +
      (e && e.message ? e.message : e) + ').');
  }
}

// A fresh 2048-bit pair as PEM: PKCS#8 private, SPKI public (the half the
// platform registers).
export async function generateKeyPair() {
  const subtle = requireSubtle();
  const pair = await subtle.generateKey({
    ...RSA_ALG,
    modulusLength: 2048,
    publicExponent: new Uint8Array([0x01, 0x00, 0x01]),
  }, true, ['sign', 'verify']);
  const [pkcs8, spki] = await Promise.all([
    subtle.exportKey('pkcs8', pair.privateKey),
    subtle.exportKey('spki', pair.publicKey),
  ]);
  return { privateKeyPem: toPem('PRIVATE KEY', pkcs8), publicKeyPem: toPem('PUBLIC KEY', spki) };
}

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

// The key id payfac gives the public half of this private key
// (`VerifyingKey::key_id`: the first 8 bytes of SHA-256 over the SPKI DER,
// in hex), so a sandbox `no_key_matched` that lists the merchant's active
// key ids can say whether this key is one of them. WebCrypto cannot derive
// a public key from a private one, so the modulus and exponent are taken
// from a JWK export of an extractable copy that never leaves this function.
// Rejects like importPrivateKey on a bad PEM.
export async function publicKeyId(pem) {
  const subtle = requireSubtle();
  const der = privateKeyDer(pem);
  let jwk;
  try {
    const key = await subtle.importKey('pkcs8', der, RSA_ALG, true, ['sign']);
    jwk = await subtle.exportKey('jwk', key);
  } catch (e) {
    throw new Error('Could not import the private key: it is not an RSA PKCS#8 key WebCrypto accepts (' +
      (e && e.message ? e.message : e) + ').');
  }
  const pub = await subtle.importKey('jwk', { kty: 'RSA', n: jwk.n, e: jwk.e, alg: 'RS256', ext: true }, RSA_ALG, true, ['verify']);
  const spki = await subtle.exportKey('spki', pub);
  const digest = await subtle.digest('SHA-256', spki);
  return hex(new Uint8Array(digest).subarray(0, 8));
}
