// The playground page: reads the form, signs with ./signing.mjs, sends the
// request and renders the answer with ./explanations.mjs. The page's only
// script (`<script type="module">`, served under `default-src 'self'`: no
// inline scripts or styles, nothing external). It sets
// `<html data-ready="true">` once wired, which the browser tests wait for.

import { explainCode, explainReason, identicalStringsVerdict, keyIdsNote } from './explanations.mjs';
import { generateKeyPair, publicKeyId } from './keys.mjs';
import { curlCommand, randomNonce, sign, signatureString, sortedParams } from './signing.mjs';

const utf8 = new TextEncoder();
const MERCHANT_ID_RE = /^[A-Za-z0-9_-]{1,32}$/;

// ---------------------------------------------------------------------
// DOM helpers
// ---------------------------------------------------------------------

const $ = (id) => document.getElementById(id);

function show(el, visible) {
  if (typeof el === 'string') el = $(el);
  if (el) el.hidden = !visible;
}

function setText(id, text) {
  const el = $(id);
  if (el) el.textContent = text == null ? '' : String(text);
}

function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
}

function span(cls, text) {
  const s = document.createElement('span');
  s.className = cls;
  s.textContent = text;
  return s;
}

function errorMessage(e) {
  return e && e.message ? e.message : String(e);
}

function formatUnix(sec) {
  const n = Number(sec);
  if (!isFinite(n)) return String(sec);
  const d = new Date(n * 1000);
  if (isNaN(d.getTime())) return String(sec);
  return sec + '  (' + d.toISOString().replace('T', ' ').replace('.000Z', ' UTC') + ')';
}

// ---------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------

const state = {
  signed: null, // the request as last signed
  busy: false,
};

function currentInputs() {
  let rawQuery = $('query').value.trim();
  if (rawQuery.charAt(0) === '?') rawQuery = rawQuery.slice(1);
  return {
    merchant: $('merchant').value.trim(),
    privateKeyPem: $('private-key').value,
    body: $('body').value,
    query: rawQuery,
  };
}

function sameInputs(a, b) {
  return a.merchant === b.merchant && a.privateKeyPem === b.privateKeyPem && a.body === b.body && a.query === b.query;
}

// The URL exactly as the browser will send it. The query is taken from the
// browser's own URL serialisation, so what is signed is what goes out.
function requestUrl(merchant, query) {
  const path = '/pay-fac/' + encodeURIComponent(merchant) + '/v1/user';
  const url = new URL(path + (query ? '?' + query : ''), window.location.origin);
  url.hash = '';
  return { href: url.href, path: url.pathname + url.search, sentQuery: url.search.replace(/^\?/, '') };
}

function validateInputs(inp) {
  let merchantWarn = '';
  if (!inp.merchant) merchantWarn = 'Enter your merchant ID.';
  else if (!MERCHANT_ID_RE.test(inp.merchant)) {
    merchantWarn = 'Merchant IDs are 1–32 characters of A–Z a–z 0–9 _ -; the server will most likely answer 10001.';
  }
  setText('merchant-warning', merchantWarn);
  show('merchant-warning', !!merchantWarn);

  let bodyWarn = '';
  if (inp.body !== '') {
    try {
      const parsed = JSON.parse(inp.body);
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        bodyWarn = 'The body is valid JSON but not an object; the server will answer 10002.';
      }
    } catch (e) {
      bodyWarn = 'The body is not valid JSON (' + errorMessage(e) + '); the server will answer 10002. You can still sign and send it.';
    }
  }
  setText('body-warning', bodyWarn);
  show('body-warning', !!bodyWarn);

  let queryWarn = '';
  if (inp.query.indexOf('#') >= 0) {
    queryWarn = 'Everything after "#" is a fragment: browsers and HTTP clients never send it, so it is not part of the query.';
  }
  setText('query-warning', queryWarn);
  show('query-warning', !!queryWarn);
}

function renderCommands() {
  const merchant = $('merchant').value.trim();
  const id = merchant || '<MERCHANT_ID>';
  setText('register-command', 'payfac merchant add ' + id + ' --public-key pub.pem');
  setText('register-key-command', 'payfac merchant key add ' + id + ' --public-key pub.pem');
  const url = requestUrl(merchant || 'MERCHANT', currentInputs().query);
  setText('request-url', merchant ? url.path : url.path.replace('/pay-fac/MERCHANT/', '/pay-fac/{merchant}/'));
}

function markStale() {
  const inp = currentInputs();
  validateInputs(inp);
  renderCommands();
  if (state.signed) show('stale-warning', !sameInputs(state.signed.inputs, inp));
}

// ---------------------------------------------------------------------
// Sign
// ---------------------------------------------------------------------

function renderSignatureString(el, params, timestamp, nonce, body) {
  clear(el);
  if (params) el.appendChild(span('part part-params', params));
  el.appendChild(span('part part-timestamp', timestamp));
  el.appendChild(span('part part-nonce', nonce));
  if (body) el.appendChild(span('part part-body', body));
}

async function signInputs() {
  const inp = currentInputs();
  validateInputs(inp);
  const url = requestUrl(inp.merchant, inp.query);
  const timestamp = String(Math.floor(Date.now() / 1000));
  const nonce = randomNonce(16);
  const params = sortedParams(url.sentQuery);
  const text = signatureString(url.sentQuery, timestamp, nonce, inp.body);
  const signature = await sign(inp.privateKeyPem, text);
  // Only to compare with a sandbox answer's activeKeyIds: a failure here
  // leaves the comparison out and never blocks the signing.
  const keyId = await publicKeyId(inp.privateKeyPem).catch(() => null);
  const headers = {
    'Content-Type': 'application/json',
    'timestamp': timestamp,
    'nonce': nonce,
    'signature': signature,
  };
  state.signed = {
    inputs: inp,
    url,
    timestamp,
    nonce,
    params,
    signatureString: text,
    signature,
    keyId,
    headers,
    bodyBytes: utf8.encode(inp.body),
    sent: false,
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
}

async function onSign() {
  if (state.busy) return;
  state.busy = true;
  setText('sign-status', 'Signing…');
  try {
    const signed = await signInputs();
    setText('sign-status', 'Signed at ' + formatUnix(signed.timestamp) + '.');
  } catch (e) {
    setText('sign-status', '');
    setText('sign-error', errorMessage(e));
    show('sign-error', true);
    show('signed-panel', false);
    state.signed = null;
  } finally {
    state.busy = false;
  }
}

// ---------------------------------------------------------------------
// Send and explain the answer
// ---------------------------------------------------------------------

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

// Puts the server's and the page's signature strings side by side and
// marks where they first differ (by code point, as a person reads them).
// What identical strings prove depends on the sandbox reason (`debug`).
function renderCompare(serverString, pageString, debug, signed) {
  const serverEl = $('server-signature-string');
  const pageEl = $('page-signature-string');
  const panel = $('compare-panel');
  clear(serverEl);
  clear(pageEl);
  const a = Array.from(serverString);
  const b = Array.from(pageString);
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  if (i === a.length && i === b.length) {
    serverEl.textContent = serverString;
    pageEl.textContent = pageString;
    panel.classList.remove('mismatch');
    panel.classList.add('match');
    setText('compare-verdict', identicalStringsVerdict(debug.reason, debug.activeKeyIds, signed.keyId));
    return;
  }
  panel.classList.remove('match');
  panel.classList.add('mismatch');
  const fill = (el, chars) => {
    el.appendChild(document.createTextNode(chars.slice(0, i).join('')));
    const rest = chars.slice(i).join('');
    const mark = document.createElement('mark');
    mark.className = 'diff';
    mark.textContent = rest === '' ? '⟨end⟩' : rest;
    el.appendChild(mark);
  };
  fill(serverEl, a);
  fill(pageEl, b);
  const describe = (ch) => {
    if (ch === undefined) return 'the end of the string';
    const cp = ch.codePointAt(0);
    const hex = 'U+' + cp.toString(16).toUpperCase().padStart(4, '0');
    return (cp < 0x20 || cp === 0x7f ? hex : '"' + ch + '" (' + hex + ')');
  };
  setText('compare-verdict', 'The strings differ from character ' + (i + 1) + ' on: the server has ' + describe(a[i]) +
    ', this page has ' + describe(b[i]) + '. Whatever signs your requests must build exactly the string the server verifies.');
}

function renderClock(serverTime, sentTimestamp) {
  const local = Math.floor(Date.now() / 1000);
  setText('server-time', formatUnix(serverTime));
  setText('local-time', formatUnix(local));
  setText('sent-time', sentTimestamp == null ? '—' : formatUnix(sentTimestamp));
  const parts = [];
  const st = Number(serverTime);
  if (isFinite(st)) {
    const drift = local - st;
    parts.push(Math.abs(drift) <= 2
      ? 'Your clock agrees with the server\'s.'
      : 'Your clock is ' + Math.abs(drift) + ' s ' + (drift > 0 ? 'ahead of' : 'behind') + ' the server\'s.');
    const ts = Number(sentTimestamp);
    if (sentTimestamp != null && isFinite(ts)) {
      const age = st - ts;
      parts.push('The timestamp sent was ' + Math.abs(age) + ' s ' + (age >= 0 ? 'old' : 'in the future') + ' when the server checked it.');
    }
  }
  setText('clock-verdict', parts.join(' '));
  show('clock-panel', true);
}

function renderSignIn(code) {
  const q = '?authorizationCode=' + encodeURIComponent(code);
  const account = '/account' + q;
  const item = '/items/2001591587541073922' + q;
  $('signin-link').href = account;
  setText('signin-link', account);
  $('signin-link-item').href = item;
  setText('signin-link-item', item);
  show('signin-panel', true);
}

function renderReason(debug, envelope, signed) {
  const reasonEl = $('reason');
  clear(reasonEl);
  if (debug && debug.reason) {
    const why = explainReason(debug.reason);
    const head = document.createElement('p');
    head.className = 'reason-head';
    head.appendChild(document.createTextNode('Sandbox diagnosis: '));
    const codeEl = document.createElement('code');
    codeEl.textContent = debug.reason;
    head.appendChild(codeEl);
    if (why) head.appendChild(document.createTextNode(' — ' + why.title + '.'));
    reasonEl.appendChild(head);
    const body = document.createElement('p');
    body.textContent = why
      ? why.text.replace('<ID>', (signed && signed.inputs.merchant) || '<ID>')
      : 'The server gave a reason this page does not know yet.';
    reasonEl.appendChild(body);
    const keys = debug.reason === 'no_key_matched' ? keyIdsNote(debug.activeKeyIds, signed && signed.keyId) : null;
    if (keys) {
      const note = document.createElement('p');
      note.id = 'key-ids';
      note.textContent = keys;
      reasonEl.appendChild(note);
    }
    if (debug.reason === 'nonce_reused' && signed && signed.sentBefore) {
      const again = document.createElement('p');
      again.textContent = 'You clicked Send twice for one signature: that is exactly a replay. Click Sign for a fresh nonce.';
      reasonEl.appendChild(again);
    }
    show('reason', true);
  } else if (envelope.code === '10003') {
    const p = document.createElement('p');
    p.textContent = 'The server is not running in sandbox mode, so it does not say which check failed (production never does). ' +
      'Against a test server started with "payfac serve --sandbox" this page can show the exact reason and the string the server verified.';
    reasonEl.appendChild(p);
    show('reason', true);
  }
}

function renderEnvelope(status, envelope, rawText, signed) {
  show('response-panel', true);
  setText('http-status', '(HTTP ' + status + ')');
  setText('response', envelope ? JSON.stringify(envelope, null, 2) : rawText);

  const banner = $('result-banner');
  banner.classList.remove('ok', 'fail');
  if (!envelope || typeof envelope.code !== 'string') {
    banner.classList.add('fail');
    setText('result-code', 'HTTP ' + status);
    setText('result-summary', 'The answer is not a payfac envelope. Is this the payfac server, and is the path right?');
    return;
  }
  const ok = envelope.code === '0000';
  banner.classList.add(ok ? 'ok' : 'fail');
  setText('result-code', envelope.code);
  setText('result-summary', envelope.msg || '');

  if (ok) {
    const code = envelope.data && envelope.data.authorizationCode;
    if (code) renderSignIn(code);
    return;
  }

  const info = explainCode(envelope.code);
  setText('explanation-title', info.title);
  setText('explanation-text', info.text);
  show('explanation', true);

  const debug = envelope.debug && typeof envelope.debug === 'object' ? envelope.debug : null;
  renderReason(debug, envelope, signed);
  if (debug && typeof debug.signatureString === 'string' && signed) {
    renderCompare(debug.signatureString, signed.signatureString, debug, signed);
    show('compare-panel', true);
  }
  if (debug && debug.serverTime != null) {
    renderClock(debug.serverTime, signed ? signed.timestamp : null);
  }
}

// Sends the signed request, re-signing first when the inputs changed since.
async function onSend() {
  if (state.busy) return;
  state.busy = true;
  resetResponse();
  try {
    let signed = state.signed;
    if (!signed || !sameInputs(signed.inputs, currentInputs())) {
      setText('send-status', 'Signing first…');
      signed = await signInputs();
      setText('sign-status', 'Signed by Send at ' + formatUnix(signed.timestamp) + '.');
    }
    setText('send-status', 'Sending…');
    signed.sentBefore = signed.sent;
    signed.sent = true;
    const res = await fetch(signed.url.href, {
      method: 'POST',
      headers: signed.headers,
      body: signed.bodyBytes,
      cache: 'no-store',
      credentials: 'same-origin',
    });
    const text = await res.text();
    let envelope = null;
    try {
      const parsed = JSON.parse(text);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) envelope = parsed;
    } catch { /* not JSON */ }
    renderEnvelope(res.status, envelope, text, signed);
    setText('send-status', 'Answered at ' + formatUnix(Math.floor(Date.now() / 1000)) + '.');
  } catch (e) {
    show('response-panel', true);
    const banner = $('result-banner');
    banner.classList.remove('ok');
    banner.classList.add('fail');
    setText('result-code', 'Not sent');
    setText('result-summary', errorMessage(e));
    setText('http-status', '');
    setText('response', '');
    setText('send-status', '');
  } finally {
    state.busy = false;
  }
}

// ---------------------------------------------------------------------
// Keys and copying
// ---------------------------------------------------------------------

async function onGenerate() {
  const btn = $('generate-key');
  btn.disabled = true;
  setText('keygen-status', 'Generating a 2048-bit RSA key pair…');
  try {
    const pair = await generateKeyPair();
    $('private-key').value = pair.privateKeyPem;
    $('public-key').value = pair.publicKeyPem;
    show('public-key-panel', true);
    setText('keygen-status', 'Done. The private key is filled in above; register the public key below.');
    markStale();
  } catch (e) {
    setText('keygen-status', 'Could not generate a key pair: ' + errorMessage(e));
  } finally {
    btn.disabled = false;
  }
}

function onCopy(ev) {
  const btn = ev.currentTarget;
  const target = $(btn.getAttribute('data-copy'));
  if (!target) return;
  const text = target.tagName === 'TEXTAREA' || target.tagName === 'INPUT' ? target.value : target.textContent;
  const label = btn.textContent;
  const done = (msg) => {
    btn.textContent = msg;
    setTimeout(() => { btn.textContent = label; }, 1500);
  };
  if (navigator.clipboard && navigator.clipboard.writeText) {
    navigator.clipboard.writeText(text).then(() => done('Copied'), () => done('Copy failed — select and copy'));
  } else {
    done('Select and copy');
  }
}

// ---------------------------------------------------------------------
// Wiring
// ---------------------------------------------------------------------

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
  for (const id of ['merchant', 'private-key', 'body', 'query']) {
    $(id).addEventListener('input', markStale);
  }
  for (const b of document.querySelectorAll('[data-copy]')) {
    b.addEventListener('click', onCopy);
  }
  renderCommands();
  document.documentElement.setAttribute('data-ready', 'true');
}

// Module scripts run after the document is parsed, so the DOM is complete.
init();
