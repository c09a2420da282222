// payfac API Playground.
//
// Builds the signature string of SPEC §2, signs it with WebCrypto
// (RSASSA-PKCS1-v1_5 / SHA-256) using a key that never leaves the page,
// sends the request and explains the answer. Served under a strict CSP
// (`default-src 'self'`): no inline scripts or styles, nothing external.
//
// The pure parts are exposed as `window.payfacPlayground` for tests:
//   sortedParams(rawQuery)                           -> string
//   signatureString(rawQuery, timestamp, nonce, body) -> string
//   sign(pkcs8Pem, text)                             -> Promise<base64 string>
//   generateKeyPair()              -> Promise<{privateKeyPem, publicKeyPem}>
//   randomNonce(length = 16)                         -> string
//   curlCommand(url, headers, body)                  -> string
//   explainReason(reason)                            -> {title, text} | null
(function () {
  'use strict';

  var utf8 = new TextEncoder();
  var ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  var RSA_ALG = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  var DEFAULT_MERCHANT_ID_RE = /^[A-Za-z0-9_-]{1,32}$/;

  // ---------------------------------------------------------------------
  // Signature string (SPEC §2)
  // ---------------------------------------------------------------------

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
    var bytes = utf8.encode(s);
    var out = new Uint8Array(bytes.length);
    var n = 0;
    for (var i = 0; i < bytes.length; i++) {
      var b = bytes[i];
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

  // Byte-wise comparison of two Uint8Arrays.
  function compareBytes(a, b) {
    var n = Math.min(a.length, b.length);
    for (var i = 0; i < n; i++) {
      if (a[i] !== b[i]) return a[i] - b[i];
    }
    return a.length - b.length;
  }

  // `sorted_params`: split on `&` (empty parts skipped), split each part at
  // its first `=`, decode both halves, sort by key then value in UTF-8 byte
  // order (NOT JavaScript's UTF-16 order), join as `k1=v1&k2=v2`.
  function sortedParams(rawQuery) {
    var pairs = [];
    var parts = String(rawQuery == null ? '' : rawQuery).split('&');
    for (var i = 0; i < parts.length; i++) {
      var part = parts[i];
      if (part === '') continue;
      var eq = part.indexOf('=');
      var key = formDecode(eq < 0 ? part : part.slice(0, eq));
      var value = formDecode(eq < 0 ? '' : part.slice(eq + 1));
      pairs.push({ key: key, value: value, kb: utf8.encode(key), vb: utf8.encode(value) });
    }
    pairs.sort(function (a, b) {
      return compareBytes(a.kb, b.kb) || compareBytes(a.vb, b.vb);
    });
    return pairs.map(function (p) { return p.key + '=' + p.value; }).join('&');
  }

  function signatureString(rawQuery, timestamp, nonce, body) {
    return sortedParams(rawQuery) + String(timestamp) + String(nonce) + String(body == null ? '' : body);
  }

  // ---------------------------------------------------------------------
  // Keys and signing
  // ---------------------------------------------------------------------

  function requireSubtle() {
    if (!window.crypto || !window.crypto.subtle) {
      throw new Error('WebCrypto is not available here. Browsers offer it only on secure origins: ' +
        'open this page over HTTPS, or on http://127.0.0.1 / http://localhost.');
    }
    return window.crypto.subtle;
  }

  function bytesToBase64(buf) {
    var bytes = new Uint8Array(buf);
    var s = '';
    for (var i = 0; i < bytes.length; i += 0x8000) {
      s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(s);
  }

  function base64ToBytes(b64) {
    var bin = atob(b64);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function toPem(label, der) {
    var b64 = bytesToBase64(der);
    var lines = b64.match(/.{1,64}/g) || [];
    return '-----BEGIN ' + label + '-----\n' + lines.join('\n') + '\n-----END ' + label + '-----\n';
  }

  function derLength(n) {
    if (n < 0x80) return [n];
    var b = [];
    while (n > 0) { b.unshift(n & 0xff); n = Math.floor(n / 256); }
    return [0x80 | b.length].concat(b);
  }

  function derTlv(tag, content) {
    var head = [tag].concat(derLength(content.length));
    var out = new Uint8Array(head.length + content.length);
    out.set(head, 0);
    out.set(content, head.length);
    return out;
  }

  function concatBytes(list) {
    var total = list.reduce(function (n, a) { return n + a.length; }, 0);
    var out = new Uint8Array(total);
    var off = 0;
    list.forEach(function (a) { out.set(a, off); off += a.length; });
    return out;
  }

  // Wrap a PKCS#1 RSAPrivateKey in a PKCS#8 PrivateKeyInfo (WebCrypto only
  // imports PKCS#8).
  function pkcs1ToPkcs8(pkcs1) {
    var version = new Uint8Array([0x02, 0x01, 0x00]);
    var algId = new Uint8Array([0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00]);
    return derTlv(0x30, concatBytes([version, algId, derTlv(0x04, pkcs1)]));
  }

  // PEM (or bare Base64 DER) -> PKCS#8 DER bytes, with clear errors for the
  // usual mistakes.
  function privateKeyDer(pem) {
    var text = String(pem || '').trim();
    if (!text) throw new Error('Paste a private key, or click "Generate throwaway key pair".');
    var m = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/.exec(text);
    var label = m ? m[1] : null;
    var inner = m ? m[2] : text;
    if (label === 'PUBLIC KEY' || label === 'RSA PUBLIC KEY' || label === 'CERTIFICATE') {
      throw new Error('That is a public key (' + label + '). Signing needs the private key; the public key is what you register with the platform.');
    }
    if (label === 'ENCRYPTED PRIVATE KEY' || /Proc-Type:\s*4,ENCRYPTED/.test(inner)) {
      throw new Error('This private key is password-protected. Export an unencrypted PKCS#8 copy of your test key, e.g. ' +
        '"openssl pkcs8 -topk8 -nocrypt -in key.pem -out key.pk8.pem".');
    }
    if (m && label !== 'PRIVATE KEY' && label !== 'RSA PRIVATE KEY') {
      throw new Error('Unsupported PEM block "' + label + '": expected "-----BEGIN PRIVATE KEY-----" (PKCS#8).');
    }
    if (!m && /-----BEGIN/.test(text)) {
      throw new Error('The PEM is incomplete: its "-----END …-----" line is missing or does not match the BEGIN line.');
    }
    var der;
    try {
      der = base64ToBytes(inner.replace(/\s+/g, ''));
    } catch (e) {
      throw new Error('The key is not valid Base64 between its BEGIN and END lines.');
    }
    if (der.length === 0) throw new Error('The PEM block is empty.');
    return label === 'RSA PRIVATE KEY' ? pkcs1ToPkcs8(der) : der;
  }

  // Always answers a promise (input errors reject, they never throw).
  function importPrivateKey(pem) {
    return Promise.resolve().then(function () {
      var subtle = requireSubtle();
      var der = privateKeyDer(pem);
      return subtle.importKey('pkcs8', der, RSA_ALG, false, ['sign']).catch(function (e) {
        throw new Error('Could not import the private key: it is not an RSA PKCS#8 key WebCrypto accepts (' +
          (e && e.message ? e.message : e) + ').');
      });
    });
  }

  // Sign the UTF-8 bytes of `text`; resolves to standard Base64 with padding.
  function sign(pkcs8Pem, text) {
    return importPrivateKey(pkcs8Pem).then(function (key) {
      return requireSubtle().sign(RSA_ALG.name, key, utf8.encode(String(text)));
    }).then(bytesToBase64);
  }

  function generateKeyPair() {
    var subtle;
    try { subtle = requireSubtle(); } catch (e) { return Promise.reject(e); }
    return subtle.generateKey({
      name: 'RSASSA-PKCS1-v1_5',
      modulusLength: 2048,
      publicExponent: new Uint8Array([0x01, 0x00, 0x01]),
      hash: 'SHA-256'
    }, true, ['sign', 'verify']).then(function (pair) {
      return Promise.all([
        subtle.exportKey('pkcs8', pair.privateKey),
        subtle.exportKey('spki', pair.publicKey)
      ]);
    }).then(function (exported) {
      return { privateKeyPem: toPem('PRIVATE KEY', exported[0]), publicKeyPem: toPem('PUBLIC KEY', exported[1]) };
    });
  }

  // Fresh nonce of [A-Za-z0-9] from the CSPRNG, without modulo bias.
  function randomNonce(length) {
    length = length || 16;
    var s = '';
    var buf = new Uint8Array(length * 2);
    while (s.length < length) {
      window.crypto.getRandomValues(buf);
      for (var i = 0; i < buf.length && s.length < length; i++) {
        if (buf[i] < 248) s += ALNUM.charAt(buf[i] % 62);
      }
    }
    return s;
  }

  // ---------------------------------------------------------------------
  // curl
  // ---------------------------------------------------------------------

  function shellQuote(s) {
    return "'" + String(s).replace(/'/g, "'\\''") + "'";
  }

  function curlCommand(url, headers, body) {
    var lines = ['curl -sS ' + shellQuote(url)];
    Object.keys(headers).forEach(function (name) {
      lines.push('  -H ' + shellQuote(name + ': ' + headers[name]));
    });
    lines.push('  --data-binary ' + shellQuote(body));
    return lines.join(' \\\n');
  }

  // ---------------------------------------------------------------------
  // Explanations
  // ---------------------------------------------------------------------

  var REASONS = {
    missing_header: {
      title: 'A signing header is missing',
      text: 'The request did not carry all three signing headers: timestamp, nonce and signature. ' +
        'Every call to the merchant API needs all of them (plus Content-Type: application/json). ' +
        'Check that your HTTP client sends them with exactly these names.'
    },
    bad_timestamp: {
      title: 'The timestamp header is malformed',
      text: 'The timestamp must be Unix time in seconds, written as ASCII digits only (at most 12). ' +
        'The most common cause is milliseconds (13 digits, e.g. Date.now() or System.currentTimeMillis()): divide by 1000.'
    },
    clock_skew: {
      title: 'The timestamp is outside the allowed window',
      text: 'The server accepts a timestamp only within its window (300 seconds either way by default) of its own clock. ' +
        'Either your clock is off, or the request was signed too long before it was sent. ' +
        'Sign again right before sending, and keep the merchant server\'s clock synchronised (NTP).'
    },
    bad_nonce: {
      title: 'The nonce header is malformed',
      text: 'The nonce must be 6 to 32 characters of A-Z, a-z and 0-9 only: no dashes, underscores or other symbols (a UUID with dashes is refused).'
    },
    nonce_reused: {
      title: 'The nonce was already used (replay)',
      text: 'This merchant already sent a request with this nonce while its timestamp is still inside the window, ' +
        'so the server treats this one as a replay. Generate a fresh random nonce for every request: click Sign again.'
    },
    bad_signature_encoding: {
      title: 'The signature header is not valid Base64',
      text: 'The signature must be the raw RSA signature encoded as standard Base64 (alphabet A-Z a-z 0-9 + /, padding optional). ' +
        'URL-safe Base64 (- and _), hex, or a value with line breaks or a "Bearer"-style prefix is refused.'
    },
    no_key_matched: {
      title: 'The signature matched none of the merchant\'s keys',
      text: 'The signature is well-formed but does not verify with any active public key registered for this merchant. ' +
        'Either the private key you signed with does not belong to a registered public key (register it with ' +
        '"payfac merchant key add <ID> --public-key pub.pem", or check that the key was not removed), ' +
        'or you signed a different string than the server verified: compare the two signature strings below ' +
        '(query order and decoding, the exact body bytes, the timestamp and nonce as sent).'
    }
  };

  function explainReason(reason) {
    return Object.prototype.hasOwnProperty.call(REASONS, reason) ? REASONS[reason] : null;
  }

  var CODES = {
    '10001': {
      title: '10001 — URL parsing error: the server does not know this merchant or path',
      text: 'The path must be /pay-fac/{merchant}/v1/user. Check the merchant ID: it must be registered ' +
        '(payfac merchant add / payfac merchant list) and enabled, and it is case-sensitive. ' +
        'The version segment must be v1. A merchant registered a moment ago becomes visible to a running server within 5 seconds.'
    },
    '10002': {
      title: '10002 — JSON parsing error: the body was refused',
      text: 'The signature was fine, but the body is not acceptable: it must be a JSON object (Content-Type: application/json) ' +
        'with merchantUserNo (a string of 1–64 characters) and email (a valid address); firstName and lastName are optional strings. ' +
        'The body is limited to 64 KiB. The server\'s message above may name the offending field.'
    },
    '10003': {
      title: '10003 — Request signature error',
      text: 'The server could not authenticate the request: a signing header is missing or malformed, the timestamp is outside ' +
        'the window, the nonce was used before, or the signature does not verify with any active key of this merchant.'
    },
    '10004': {
      title: '10004 — Server error',
      text: 'Something failed inside the platform (for example storage) and nothing of the request was stored. ' +
        'It is safe to retry the identical request later (the nonce was not used up). If the server answered 503, wait as long as its Retry-After header says.'
    }
  };

  // ---------------------------------------------------------------------
  // UI
  // ---------------------------------------------------------------------

  function $(id) { return document.getElementById(id); }

  function show(el, visible) {
    if (typeof el === 'string') el = $(el);
    if (el) el.hidden = !visible;
  }

  function setText(id, text) {
    var el = $(id);
    if (el) el.textContent = text == null ? '' : String(text);
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
  }

  function span(cls, text) {
    var s = document.createElement('span');
    s.className = cls;
    s.textContent = text;
    return s;
  }

  function errorMessage(e) {
    return e && e.message ? e.message : String(e);
  }

  function formatUnix(sec) {
    var n = Number(sec);
    if (!isFinite(n)) return String(sec);
    var d = new Date(n * 1000);
    if (isNaN(d.getTime())) return String(sec);
    return sec + '  (' + d.toISOString().replace('T', ' ').replace('.000Z', ' UTC') + ')';
  }

  var state = {
    signed: null, // the request as last signed
    busy: false
  };

  function currentInputs() {
    var rawQuery = $('query').value.trim();
    if (rawQuery.charAt(0) === '?') rawQuery = rawQuery.slice(1);
    return {
      merchant: $('merchant').value.trim(),
      privateKeyPem: $('private-key').value,
      body: $('body').value,
      query: rawQuery
    };
  }

  function sameInputs(a, b) {
    return a.merchant === b.merchant && a.privateKeyPem === b.privateKeyPem && a.body === b.body && a.query === b.query;
  }

  // The URL exactly as the browser will send it. The query is taken from the
  // browser's own URL serialisation, so what is signed is what goes out.
  function requestUrl(merchant, query) {
    var path = '/pay-fac/' + encodeURIComponent(merchant) + '/v1/user';
    var url = new URL(path + (query ? '?' + query : ''), window.location.origin);
    url.hash = '';
    return { href: url.href, path: url.pathname + url.search, sentQuery: url.search.replace(/^\?/, '') };
  }

  function validateInputs(inp) {
    var merchantWarn = '';
    if (!inp.merchant) merchantWarn = 'Enter your merchant ID.';
    else if (!DEFAULT_MERCHANT_ID_RE.test(inp.merchant)) {
      merchantWarn = 'Merchant IDs are 1–32 characters of A–Z a–z 0–9 _ -; the server will most likely answer 10001.';
    }
    setText('merchant-warning', merchantWarn);
    show('merchant-warning', !!merchantWarn);

    var bodyWarn = '';
    if (inp.body !== '') {
      try {
        var parsed = JSON.parse(inp.body);
        if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
          bodyWarn = 'The body is valid JSON but not an object; the server will answer 10002.';
        }
      } catch (e) {
        bodyWarn = 'The body is not valid JSON (' + errorMessage(e) + '); the server will answer 10002. You can still sign and send it.';
      }
    }
    setText('body-warning', bodyWarn);
    show('body-warning', !!bodyWarn);

    var queryWarn = '';
    if (inp.query.indexOf('#') >= 0) {
      queryWarn = 'Everything after "#" is a fragment: browsers and HTTP clients never send it, so it is not part of the query.';
    }
    setText('query-warning', queryWarn);
    show('query-warning', !!queryWarn);
  }

  function renderSignatureString(el, params, timestamp, nonce, body) {
    clear(el);
    if (params) el.appendChild(span('part part-params', params));
    el.appendChild(span('part part-timestamp', timestamp));
    el.appendChild(span('part part-nonce', nonce));
    if (body) el.appendChild(span('part part-body', body));
  }

  function renderCommands() {
    var id = $('merchant').value.trim() || '<MERCHANT_ID>';
    setText('register-command', 'payfac merchant add ' + id + ' --public-key pub.pem');
    setText('register-key-command', 'payfac merchant key add ' + id + ' --public-key pub.pem');
    var merchant = $('merchant').value.trim();
    var url = requestUrl(merchant || 'MERCHANT', currentInputs().query);
    setText('request-url', merchant ? url.path : url.path.replace('/pay-fac/MERCHANT/', '/pay-fac/{merchant}/'));
  }

  function markStale() {
    var inp = currentInputs();
    validateInputs(inp);
    renderCommands();
    if (state.signed) show('stale-warning', !sameInputs(state.signed.inputs, inp));
  }

  function doSign() {
    return Promise.resolve().then(signInputs);
  }

  function signInputs() {
    var inp = currentInputs();
    validateInputs(inp);
    var url = requestUrl(inp.merchant, inp.query);
    var timestamp = String(Math.floor(Date.now() / 1000));
    var nonce = randomNonce(16);
    var params = sortedParams(url.sentQuery);
    var text = signatureString(url.sentQuery, timestamp, nonce, inp.body);
    return sign(inp.privateKeyPem, text).then(function (signature) {
      var headers = {
        'Content-Type': 'application/json',
        'timestamp': timestamp,
        'nonce': nonce,
        'signature': signature
      };
      state.signed = {
        inputs: inp,
        url: url,
        timestamp: timestamp,
        nonce: nonce,
        params: params,
        signatureString: text,
        signature: signature,
        headers: headers,
        bodyBytes: utf8.encode(inp.body),
        sent: false
      };
      renderSignatureString($('signature-string'), params, timestamp, nonce, inp.body);
      setText('header-timestamp', timestamp);
      setText('header-nonce', nonce);
      setText('header-signature', signature);
      setText('curl', curlCommand(url.href, headers, inp.body));
      show('stale-warning', false);
      show('sign-error', false);
      show('signed-panel', true);
      renderCommands();
      return state.signed;
    });
  }

  function onSign() {
    if (state.busy) return;
    state.busy = true;
    setText('sign-status', 'Signing…');
    doSign().then(function (signed) {
      setText('sign-status', 'Signed at ' + formatUnix(signed.timestamp) + '.');
    }, function (e) {
      setText('sign-status', '');
      setText('sign-error', errorMessage(e));
      show('sign-error', true);
      show('signed-panel', false);
      state.signed = null;
    }).then(function () { state.busy = false; });
  }

  function resetResponse() {
    show('response-panel', false);
    show('explanation', false);
    show('reason', false);
    show('compare-panel', false);
    show('clock-panel', false);
    show('signin-panel', false);
    clear($('reason'));
    setText('response', '');
  }

  function renderCompare(serverString, pageString) {
    var serverEl = $('server-signature-string');
    var pageEl = $('page-signature-string');
    clear(serverEl);
    clear(pageEl);
    var a = Array.from(serverString);
    var b = Array.from(pageString);
    var i = 0;
    while (i < a.length && i < b.length && a[i] === b[i]) i++;
    var equal = i === a.length && i === b.length;
    if (equal) {
      serverEl.textContent = serverString;
      pageEl.textContent = pageString;
      $('compare-panel').classList.remove('mismatch');
      $('compare-panel').classList.add('match');
      setText('compare-verdict', 'The strings are identical, so the string is not the problem: the private key you signed with ' +
        'does not match any active public key registered for this merchant.');
      return;
    }
    $('compare-panel').classList.remove('match');
    $('compare-panel').classList.add('mismatch');
    function fill(el, chars) {
      el.appendChild(document.createTextNode(chars.slice(0, i).join('')));
      var rest = chars.slice(i).join('');
      var mark = document.createElement('mark');
      mark.className = 'diff';
      mark.textContent = rest === '' ? '⟨end⟩' : rest;
      el.appendChild(mark);
    }
    fill(serverEl, a);
    fill(pageEl, b);
    function describe(ch) {
      if (ch === undefined) return 'the end of the string';
      var cp = ch.codePointAt(0);
      var hex = 'U+' + cp.toString(16).toUpperCase().padStart(4, '0');
      return (cp < 0x20 || cp === 0x7f ? hex : '"' + ch + '" (' + hex + ')');
    }
    setText('compare-verdict', 'The strings differ from character ' + (i + 1) + ' on: the server has ' + describe(a[i]) +
      ', this page has ' + describe(b[i]) + '. Whatever signs your requests must build exactly the string the server verifies.');
  }

  function renderClock(serverTime, sentTimestamp) {
    var local = Math.floor(Date.now() / 1000);
    setText('server-time', formatUnix(serverTime));
    setText('local-time', formatUnix(local));
    setText('sent-time', sentTimestamp == null ? '—' : formatUnix(sentTimestamp));
    var parts = [];
    var st = Number(serverTime);
    if (isFinite(st)) {
      var drift = local - st;
      parts.push(Math.abs(drift) <= 2
        ? 'Your clock agrees with the server\'s.'
        : 'Your clock is ' + Math.abs(drift) + ' s ' + (drift > 0 ? 'ahead of' : 'behind') + ' the server\'s.');
      var ts = Number(sentTimestamp);
      if (sentTimestamp != null && isFinite(ts)) {
        var age = st - ts;
        parts.push('The timestamp sent was ' + Math.abs(age) + ' s ' + (age >= 0 ? 'old' : 'in the future') + ' when the server checked it.');
      }
    }
    setText('clock-verdict', parts.join(' '));
    show('clock-panel', true);
  }

  function renderEnvelope(status, envelope, rawText, signed) {
    show('response-panel', true);
    setText('http-status', '(HTTP ' + status + ')');
    setText('response', envelope ? JSON.stringify(envelope, null, 2) : rawText);

    var banner = $('result-banner');
    banner.classList.remove('ok', 'fail');
    if (!envelope || typeof envelope.code !== 'string') {
      banner.classList.add('fail');
      setText('result-code', 'HTTP ' + status);
      setText('result-summary', 'The answer is not a payfac envelope. Is this the payfac server, and is the path right?');
      return;
    }
    var ok = envelope.code === '0000';
    banner.classList.add(ok ? 'ok' : 'fail');
    setText('result-code', envelope.code);
    setText('result-summary', envelope.msg || '');

    if (ok) {
      var data = envelope.data || {};
      var code = data.authorizationCode;
      if (code) {
        var q = '?authorizationCode=' + encodeURIComponent(code);
        var account = '/account' + q;
        var item = '/items/2001591587541073922' + q;
        $('signin-link').href = account;
        setText('signin-link', account);
        $('signin-link-item').href = item;
        setText('signin-link-item', item);
        show('signin-panel', true);
      }
      return;
    }

    var info = CODES[envelope.code] || {
      title: envelope.code + ' — unexpected code',
      text: 'This code is not one of the documented ones (0000, 10001–10004).'
    };
    setText('explanation-title', info.title);
    setText('explanation-text', info.text);
    show('explanation', true);

    var debug = envelope.debug && typeof envelope.debug === 'object' ? envelope.debug : null;
    var reasonEl = $('reason');
    clear(reasonEl);
    if (debug && debug.reason) {
      var why = explainReason(debug.reason);
      var head = document.createElement('p');
      head.className = 'reason-head';
      head.appendChild(document.createTextNode('Sandbox diagnosis: '));
      var codeEl = document.createElement('code');
      codeEl.textContent = debug.reason;
      head.appendChild(codeEl);
      if (why) head.appendChild(document.createTextNode(' — ' + why.title + '.'));
      reasonEl.appendChild(head);
      var body = document.createElement('p');
      body.textContent = why
        ? why.text.replace('<ID>', (signed && signed.inputs.merchant) || '<ID>')
        : 'The server gave a reason this page does not know yet.';
      reasonEl.appendChild(body);
      if (debug.reason === 'nonce_reused' && signed && signed.sentBefore) {
        var again = document.createElement('p');
        again.textContent = 'You clicked Send twice for one signature: that is exactly a replay. Click Sign for a fresh nonce.';
        reasonEl.appendChild(again);
      }
      show('reason', true);
    } else if (envelope.code === '10003') {
      var p = document.createElement('p');
      p.textContent = 'The server is not running in sandbox mode, so it does not say which check failed (production never does). ' +
        'Against a test server started with "payfac serve --sandbox" this page can show the exact reason and the string the server verified.';
      reasonEl.appendChild(p);
      show('reason', true);
    }

    if (debug && typeof debug.signatureString === 'string' && signed) {
      renderCompare(debug.signatureString, signed.signatureString);
      show('compare-panel', true);
    }
    if (debug && debug.serverTime != null) {
      renderClock(debug.serverTime, signed ? signed.timestamp : null);
    }
  }

  function onSend() {
    if (state.busy) return;
    state.busy = true;
    resetResponse();
    var inp = currentInputs();
    var ready;
    if (state.signed && sameInputs(state.signed.inputs, inp)) {
      ready = Promise.resolve(state.signed);
    } else {
      setText('send-status', 'Signing first…');
      ready = doSign().then(function (signed) {
        setText('sign-status', 'Signed by Send at ' + formatUnix(signed.timestamp) + '.');
        return signed;
      });
    }
    ready.then(function (signed) {
      setText('send-status', 'Sending…');
      signed.sentBefore = signed.sent;
      signed.sent = true;
      return fetch(signed.url.href, {
        method: 'POST',
        headers: signed.headers,
        body: signed.bodyBytes,
        cache: 'no-store',
        credentials: 'same-origin'
      }).then(function (res) {
        return res.text().then(function (text) {
          var envelope = null;
          try {
            var parsed = JSON.parse(text);
            if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) envelope = parsed;
          } catch (e) { /* not JSON */ }
          renderEnvelope(res.status, envelope, text, signed);
          setText('send-status', 'Answered at ' + formatUnix(Math.floor(Date.now() / 1000)) + '.');
        });
      });
    }).catch(function (e) {
      show('response-panel', true);
      var banner = $('result-banner');
      banner.classList.remove('ok');
      banner.classList.add('fail');
      setText('result-code', 'Not sent');
      setText('result-summary', errorMessage(e));
      setText('http-status', '');
      setText('response', '');
      setText('send-status', '');
    }).then(function () { state.busy = false; });
  }

  function onGenerate() {
    var btn = $('generate-key');
    btn.disabled = true;
    setText('keygen-status', 'Generating a 2048-bit RSA key pair…');
    generateKeyPair().then(function (pair) {
      $('private-key').value = pair.privateKeyPem;
      $('public-key').value = pair.publicKeyPem;
      show('public-key-panel', true);
      setText('keygen-status', 'Done. The private key is filled in above; register the public key below.');
      markStale();
    }, function (e) {
      setText('keygen-status', 'Could not generate a key pair: ' + errorMessage(e));
    }).then(function () { btn.disabled = false; });
  }

  function onCopy(ev) {
    var target = $(ev.currentTarget.getAttribute('data-copy'));
    if (!target) return;
    var text = target.tagName === 'TEXTAREA' || target.tagName === 'INPUT' ? target.value : target.textContent;
    var btn = ev.currentTarget;
    var label = btn.textContent;
    var done = function (msg) {
      btn.textContent = msg;
      setTimeout(function () { btn.textContent = label; }, 1500);
    };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(function () { done('Copied'); }, function () { done('Copy failed — select and copy'); });
    } else {
      done('Select and copy');
    }
  }

  function init() {
    if (!window.isSecureContext || !window.crypto || !window.crypto.subtle) {
      setText('env-warning', 'This page is not on a secure origin, so the browser does not offer WebCrypto and the page cannot sign. ' +
        'Open it over HTTPS, or on http://127.0.0.1 or http://localhost.');
      show('env-warning', true);
      $('sign').disabled = true;
      $('send').disabled = true;
      $('generate-key').disabled = true;
    }
    $('generate-key').addEventListener('click', onGenerate);
    $('sign').addEventListener('click', onSign);
    $('send').addEventListener('click', onSend);
    ['merchant', 'private-key', 'body', 'query'].forEach(function (id) {
      $(id).addEventListener('input', markStale);
    });
    Array.prototype.forEach.call(document.querySelectorAll('[data-copy]'), function (b) {
      b.addEventListener('click', onCopy);
    });
    renderCommands();
    document.documentElement.setAttribute('data-ready', 'true');
  }

  window.payfacPlayground = Object.freeze({
    sortedParams: sortedParams,
    signatureString: signatureString,
    sign: sign,
    generateKeyPair: generateKeyPair,
    randomNonce: randomNonce,
    curlCommand: curlCommand,
    explainReason: explainReason
  });

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
