// Shared helpers for the playground browser tests: paths, a headless
// Chromium (Debian's /usr/bin/chromium driven by playwright-core), a tiny
// static server that serves the playground assets at the paths the real
// server uses, and a page watcher that records console errors and any
// request that leaves 127.0.0.1.

import { mkdtempSync, readFileSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(HERE, '..', '..');
export const ASSETS_DIR = join(REPO_ROOT, 'crates', 'server', 'assets');
// The page's ES modules (crates/server/src/playground.rs serves the same).
export const PLAYGROUND_MODULES = readdirSync(join(ASSETS_DIR, 'playground')).filter((n) => n.endsWith('.mjs')).sort();

// Imports one of the page's modules into Node (e.g. 'signing.mjs').
export function importModule(name) {
  return import(pathToFileURL(join(ASSETS_DIR, 'playground', name)).href);
}
// The project's own vectors, made by scripts/gen-vectors.py (Python + openssl).
export const VECTORS_DIR = join(REPO_ROOT, 'tests', 'vectors');

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// The CSP the real server sends with the playground.
export const CSP = "default-src 'self'";

export function loadVectors() {
  const file = join(VECTORS_DIR, 'signature-vectors.json');
  if (!existsSync(file)) {
    throw new Error(`signature vectors not found at ${file} (scripts/gen-vectors.py writes them)`);
  }
  const vectors = JSON.parse(readFileSync(file, 'utf8'));
  const privateKeyPem = readFileSync(join(VECTORS_DIR, vectors.privateKey || 'merchant-test.key.pem'), 'utf8');
  const publicKeyPem = readFileSync(join(VECTORS_DIR, vectors.publicKey || 'merchant-test.pub.pem'), 'utf8');
  return { ...vectors, privateKeyPem, publicKeyPem };
}

// Launch Chromium with a fresh user-data dir. Returns { context, close }.
export async function launchBrowser() {
  const { chromium } = await import('playwright-core');
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`${CHROMIUM_PATH} not found: install it with "apt-get install -y chromium" (tests/browser/run.sh does)`);
  }
  const userDataDir = mkdtempSync(join(tmpdir(), 'payfac-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 60_000,
  });
  return {
    context,
    async close() {
      try { await context.close(); } finally { rmSync(userDataDir, { recursive: true, force: true }); }
    },
  };
}

// Record console errors, uncaught page errors and requests that leave the
// allowed origin. `allowedHost` is host:port of the server under test.
export function watchPage(page, allowedHost) {
  const consoleErrors = [];
  const pageErrors = [];
  const offsiteRequests = [];
  const requests = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') consoleErrors.push({ text: msg.text(), url: msg.location()?.url ?? '' });
  });
  page.on('pageerror', (err) => pageErrors.push(String(err && err.stack ? err.stack : err)));
  page.on('request', (req) => {
    const url = req.url();
    requests.push(url);
    let u;
    try { u = new URL(url); } catch { offsiteRequests.push(url); return; }
    if (u.hostname !== '127.0.0.1' || (allowedHost && u.host !== allowedHost)) offsiteRequests.push(url);
  });
  return {
    consoleErrors,
    pageErrors,
    offsiteRequests,
    requests,
    // Console errors that are the page's fault. Chromium logs every 4xx
    // answer as "Failed to load resource"; two kinds are expected and not
    // errors of the page: the browser's own /favicon.ico probe (the page
    // declares no icon: CSP default-src 'self' forbids a data: one), and the
    // merchant API's 4xx answers that the tests provoke on purpose.
    unexpectedConsoleErrors() {
      return consoleErrors
        .filter((e) => !(/^Failed to load resource: the server responded with a status of 4\d\d/.test(e.text)
          && (/\/favicon\.ico$/.test(e.url) || /\/pay-fac\//.test(e.url))))
        .map((e) => `${e.text} (${e.url})`);
    },
  };
}

// Serve the playground assets like the real server does, with the same
// CSP. `api(req, res, rawBody)` may handle other requests (a mock merchant
// API); it returns true when it answered.
export function startStaticServer({ api } = {}) {
  const routes = {
    '/playground': ['playground.html', 'text/html; charset=utf-8'],
    '/assets/playground.css': ['playground.css', 'text/css; charset=utf-8'],
  };
  for (const name of PLAYGROUND_MODULES) {
    routes[`/assets/playground/${name}`] = [join('playground', name), 'text/javascript; charset=utf-8'];
  }
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks);
      const path = new URL(req.url, 'http://127.0.0.1').pathname;
      const route = req.method === 'GET' ? routes[path] : undefined;
      if (route) {
        // Read on every request so edits show up without a restart.
        const content = readFileSync(join(ASSETS_DIR, route[0]));
        res.writeHead(200, {
          'Content-Type': route[1],
          'Content-Security-Policy': CSP,
          'X-Content-Type-Options': 'nosniff',
          'Cache-Control': 'no-store',
        });
        res.end(content);
        return;
      }
      if (api && api(req, res, rawBody)) return;
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Security-Policy': CSP });
      res.end('not found');
    });
  });
  return new Promise((resolveP, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolveP({
        server,
        port,
        host: `127.0.0.1:${port}`,
        origin: `http://127.0.0.1:${port}`,
        close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }),
      });
    });
  });
}

// Independent Node reference of docs/PROTOCOL.md §2's sorted_params (WHATWG
// URLSearchParams parsing is exactly application/x-www-form-urlencoded),
// used by the mock API to check what the page sends.
export function referenceSortedParams(rawQuery) {
  const pairs = [...new URLSearchParams(rawQuery)];
  pairs.sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])) || Buffer.compare(Buffer.from(a[1]), Buffer.from(b[1])));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

// docs/PROTOCOL.md §2's sorted_params on awkward queries: [rawQuery, want].
// Checked in Node (modules.test.mjs) and in Chromium (page.test.mjs).
export const SORTED_PARAMS_CASES = [
  ['', ''],
  ['&b=1&&a&', 'a=&b=1'],
  ['k=a=b', 'k=a=b'],
  // U+FF21 (EF BC A1) sorts before U+1F600 (F0 9F 98 80) in UTF-8 byte
  // order, after it in JavaScript's UTF-16 order.
  ['k=%F0%9F%98%80&k=%EF%BC%A1', 'k=\uFF21&k=\u{1F600}'],
  ['%F0%9F%98%80=1&%EF%BC%A1=2', '\uFF21=2&\u{1F600}=1'],
  ['a+b=c+d&a%2Bb=%26', 'a b=c d&a+b=&'],
  ['x=100%&y=%zz&z=%4', 'x=100%&y=%zz&z=%4'],
  ['bad=%FF', 'bad=\uFFFD'],
  ['bom=%EF%BB%BFx', 'bom=\uFEFFx'],
  ['B=1&a=1&_=1', 'B=1&_=1&a=1'],
];
