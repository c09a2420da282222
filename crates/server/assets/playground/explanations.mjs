// What an answer means, in words a merchant's engineer can act on: the
// sandbox `debug.reason` of a 10003 and the envelope codes. No DOM.

// One entry per reason the server gives (`SignatureFailure::as_str` in
// crates/server/src/api/verify.rs), and no other: a Rust test in
// crates/server/src/playground.rs reads the keys of this object and fails
// when the two lists differ. Keep one `name: {` entry per line.
export const REASONS = Object.freeze({
  missing_header: {
    title: 'A signing header is missing',
    text: 'The request did not carry all three signing headers: timestamp, nonce and signature. ' +
      'Every call to the merchant API needs all of them (plus Content-Type: application/json). ' +
      'Check that your HTTP client sends them with exactly these names.',
  },
  bad_timestamp: {
    title: 'The timestamp header is malformed',
    text: 'The timestamp must be Unix time in seconds, written as ASCII digits only (at most 12). ' +
      'The most common cause is milliseconds (13 digits, e.g. Date.now() or System.currentTimeMillis()): divide by 1000.',
  },
  clock_skew: {
    title: 'The timestamp is outside the allowed window',
    text: 'The server accepts a timestamp only within its window (300 seconds either way by default) of its own clock. ' +
      'Either your clock is off, or the request was signed too long before it was sent. ' +
      'Sign again right before sending, and keep the merchant server\'s clock synchronised (NTP).',
  },
  bad_nonce: {
    title: 'The nonce header is malformed',
    text: 'The nonce must be 6 to 32 characters of A-Z, a-z and 0-9 only: no dashes, underscores or other symbols (a UUID with dashes is refused).',
  },
  nonce_reused: {
    title: 'The nonce was already used (replay)',
    text: 'This merchant already sent a request with this nonce while its timestamp is still inside the window, ' +
      'so the server treats this one as a replay. Generate a fresh random nonce for every request: click Sign again.',
  },
  bad_signature_encoding: {
    title: 'The signature header is not valid Base64',
    text: 'The signature must be the raw RSA signature encoded as standard Base64 (alphabet A-Z a-z 0-9 + /, padding optional). ' +
      'URL-safe Base64 (- and _), hex, or a value with line breaks or a "Bearer"-style prefix is refused.',
  },
  no_key_matched: {
    title: 'The signature matched none of the merchant\'s keys',
    text: 'The signature is well-formed but does not verify with any active public key registered for this merchant. ' +
      'Either the private key you signed with does not belong to a registered public key (register it with ' +
      '"payfac merchant key add <ID> --public-key pub.pem", or check that the key was not removed), ' +
      'or you signed a different string than the server verified: compare the two signature strings below ' +
      '(query order and decoding, the exact body bytes, the timestamp and nonce as sent).',
  },
});

// `{title, text}` for a sandbox reason, or null for one this page does not
// know (a newer server).
export function explainReason(reason) {
  return Object.hasOwn(REASONS, reason) ? REASONS[reason] : null;
}

// What a sandbox `debug.activeKeyIds` (sent with `no_key_matched` only)
// says about the key this page signed with: the ids, and whether
// `pageKeyId` (null when the page could not compute it) is among them.
// Null when the server sent no list.
export function keyIdsNote(activeKeyIds, pageKeyId) {
  if (!Array.isArray(activeKeyIds)) return null;
  const ids = activeKeyIds.map(String);
  const listed = ids.length ? ids.join(', ') : 'none';
  const head = 'Active key ids of this merchant: ' + listed + '.';
  if (!pageKeyId) {
    return head + ' If the id of your key ("payfac merchant key add" printed it; "payfac merchant list" shows the registered ones) ' +
      'is not among them, the server does not have your public key; if it is, you signed different bytes than the server verified.';
  }
  if (ids.includes(pageKeyId)) {
    return head + ' The key this page signed with (' + pageKeyId + ') is one of them, so the key is right: ' +
      'the bytes signed are not the bytes the server verified.';
  }
  return head + ' The key this page signed with (' + pageKeyId + ') is not one of them: the server does not have its public key. ' +
    'Register it, or sign with the private key of a registered one.';
}

// The verdict when the server's signature string and the page's are
// identical. What that proves depends on the reason: only `no_key_matched`
// checked the signature, so only it can blame the key; `clock_skew` and
// the header reasons were decided before the signature was looked at.
// `pageKeyId` and `activeKeyIds` as for keyIdsNote (either may be null).
export function identicalStringsVerdict(reason, activeKeyIds, pageKeyId) {
  const same = 'The strings are identical, so the string is not the problem';
  switch (reason) {
    case 'no_key_matched':
      if (pageKeyId && Array.isArray(activeKeyIds) && activeKeyIds.includes(pageKeyId)) {
        return same + ', and the key this page signed with is registered: the signature header must have changed ' +
          'between signing and the server (something on the way rewrote it).';
      }
      return same + ': the private key you signed with does not match any active public key registered for this merchant.';
    case 'clock_skew':
      return 'The strings are identical. The server refused the timestamp before it checked the signature, ' +
        'so nothing is known about your key yet: fix the clock (see below) and send again.';
    case 'nonce_reused':
      return same + ', and the signature verified: only the nonce was refused.';
    case 'missing_header':
    case 'bad_timestamp':
    case 'bad_nonce':
    case 'bad_signature_encoding':
      return 'The strings are identical. The server refused a signing header before it checked the signature, ' +
        'so nothing is known about your key yet.';
    default:
      return 'The strings are identical.';
  }
}

const CODES = Object.freeze({
  '10001': {
    title: '10001 — URL parsing error: the server does not know this merchant or path',
    text: 'The path must be /pay-fac/{merchant}/v1/user. Check the merchant ID: it must be registered ' +
      '(payfac merchant add / payfac merchant list) and enabled, and it is case-sensitive. ' +
      'The version segment must be v1. A merchant registered a moment ago becomes visible to a running server within 5 seconds.',
  },
  '10002': {
    title: '10002 — JSON parsing error: the body was refused',
    text: 'The signature was fine, but the body is not acceptable: it must be a JSON object (Content-Type: application/json) ' +
      'with merchantUserNo (a string of 1–64 characters) and email (a valid address); firstName and lastName are optional strings. ' +
      'The body is limited to 64 KiB. The server\'s message above may name the offending field.',
  },
  '10003': {
    title: '10003 — Request signature error',
    text: 'The server could not authenticate the request: a signing header is missing or malformed, the timestamp is outside ' +
      'the window, the nonce was used before, or the signature does not verify with any active key of this merchant.',
  },
  '10004': {
    title: '10004 — Server error',
    text: 'Something failed inside the platform (for example storage) and nothing of the request was stored. ' +
      'It is safe to retry the identical request later (the nonce was not used up). If the server answered 503, wait as long as its Retry-After header says.',
  },
});

// `{title, text}` for a failure code of the envelope; never null.
export function explainCode(code) {
  if (Object.hasOwn(CODES, code)) return CODES[code];
  return {
    title: `${code} — unexpected code`,
    text: 'This code is not one of the documented ones (0000, 10001–10004).',
  };
}
