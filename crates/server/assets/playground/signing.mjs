// The signature of docs/PROTOCOL.md §2: the signature string
// `sorted_params + timestamp + nonce + body`, signed SHA256withRSA
// (RSASSA-PKCS1-v1_5) with WebCrypto, and the nonce and curl command that
// go with it. No DOM: the tests import this module in Node.

import { RSA_ALG, bytesToBase64, importPrivateKey, requireSubtle } from './keys.mjs';

const utf8 = new TextEncoder();
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function isHex(b) {
  return (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
}

function hexVal(b) {
  if (b <= 0x39) return b - 0x30;
  if (b <= 0x46) return b - 0x41 + 10;
  return b - 0x61 + 10;
}

// application/x-www-form-urlencoded decoding of one key or value, as the
// WHATWG URL standard (and Rust's form_urlencoded) does it: `+` is a space,
// `%XX` is a byte, a malformed `%` stays literally, and the bytes are read
// as UTF-8 with invalid sequences replaced by U+FFFD.
function formDecode(s) {
  const bytes = utf8.encode(s);
  const out = new Uint8Array(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === 0x2b) {
      out[n++] = 0x20;
    } else if (b === 0x25 && i + 2 < bytes.length && isHex(bytes[i + 1]) && isHex(bytes[i + 2])) {
      out[n++] = hexVal(bytes[i + 1]) * 16 + hexVal(bytes[i + 2]);
      i += 2;
    } else {
      out[n++] = b;
    }
  }
  // ignoreBOM: a decoded leading U+FEFF is data, not a byte-order mark.
  return new TextDecoder('utf-8', { ignoreBOM: true }).decode(out.subarray(0, n));
}

function compareBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

// `sorted_params`: split on `&` (empty parts skipped), split each part at
// its first `=`, decode both halves, sort by key then value in UTF-8 byte
// order (NOT JavaScript's UTF-16 order), join as `k1=v1&k2=v2`.
export function sortedParams(rawQuery) {
  const pairs = [];
  for (const part of String(rawQuery ?? '').split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = formDecode(eq < 0 ? part : part.slice(0, eq));
    const value = formDecode(eq < 0 ? '' : part.slice(eq + 1));
    pairs.push({ key, value, kb: utf8.encode(key), vb: utf8.encode(value) });
  }
  pairs.sort((a, b) => compareBytes(a.kb, b.kb) || compareBytes(a.vb, b.vb));
  return pairs.map((p) => `${p.key}=${p.value}`).join('&');
}

export function signatureString(rawQuery, timestamp, nonce, body) {
  return sortedParams(rawQuery) + String(timestamp) + String(nonce) + String(body ?? '');
}

// Signs the UTF-8 bytes of `text`; resolves to standard Base64 with padding.
export async function sign(pkcs8Pem, text) {
  const key = await importPrivateKey(pkcs8Pem);
  const signature = await requireSubtle().sign(RSA_ALG.name, key, utf8.encode(String(text)));
  return bytesToBase64(signature);
}

// A fresh nonce of [A-Za-z0-9] from the CSPRNG, without modulo bias
// (bytes of 248 and above are dropped: 248 = 4 * 62).
export function randomNonce(length = 16) {
  let s = '';
  const buf = new Uint8Array(length * 2);
  while (s.length < length) {
    globalThis.crypto.getRandomValues(buf);
    for (let i = 0; i < buf.length && s.length < length; i++) {
      if (buf[i] < 248) s += ALNUM.charAt(buf[i] % 62);
    }
  }
  return s;
}

function shellQuote(s) {
  return "'" + String(s).replace(/'/g, "'\\''") + "'";
}

// The same request for a terminal, byte for byte (`--data-binary`).
export function curlCommand(url, headers, body) {
  const lines = [`curl -sS ${shellQuote(url)}`];
  for (const [name, value] of Object.entries(headers)) {
    lines.push(`  -H ${shellQuote(`${name}: ${value}`)}`);
  }
  lines.push(`  --data-binary ${shellQuote(body)}`);
  return lines.join(' \\\n');
}
