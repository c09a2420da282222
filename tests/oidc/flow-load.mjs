// An outside load generator for the OIDC code flow (scripts/oidc-flows.sh):
// `--connections` loops, each a signed-in browser with its own keep-alive
// connection, repeating the whole flow for `--duration` seconds against
// any provider found by discovery: authorize with the session cookie →
// token (client_secret_basic, PKCE S256) → userinfo. A flow counts when
// the redirect carries a code, the token answer an access token and an ID
// token, and userinfo answers 200. Prints one JSON line.
//
//   node tests/oidc/flow-load.mjs --issuer URL --client-id ID --client-secret SECRET \
//     --redirect-uri URI --cookies FILE [--connections 16] [--duration 10]
//
// FILE is a JSON array of Cookie header values, one per signed-in browser.

import { readFileSync } from 'node:fs';
import { request, Agent } from 'node:http';
import { parseArgs } from 'node:util';

const { values: a } = parseArgs({
  options: {
    issuer: { type: 'string' }, 'client-id': { type: 'string' }, 'client-secret': { type: 'string' },
    'redirect-uri': { type: 'string' }, cookies: { type: 'string' },
    connections: { type: 'string', default: '16' }, duration: { type: 'string', default: '10' },
  },
});
const cookies = JSON.parse(readFileSync(a.cookies, 'utf8'));
const metadata = await (await fetch(`${a.issuer}/.well-known/openid-configuration`)).json();
// RFC 7636 Appendix B's pair; the provider's work does not depend on it.
const VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';
const form = (value) => encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const basic = `Basic ${Buffer.from(`${form(a['client-id'])}:${form(a['client-secret'])}`).toString('base64')}`;

// One HTTP/1.1 exchange on the loop's own keep-alive agent.
function exchange(agent, method, url, headers, body) {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function flow(agent, cookie, serial) {
  const authorize = new URL(metadata.authorization_endpoint);
  authorize.search = new URLSearchParams({
    response_type: 'code', client_id: a['client-id'], redirect_uri: a['redirect-uri'],
    scope: 'openid profile email', state: `s${serial}`, nonce: `n${serial}`,
    code_challenge: CHALLENGE, code_challenge_method: 'S256',
  }).toString();
  const first = await exchange(agent, 'GET', authorize, { cookie });
  const code = first.status >= 300 && first.status < 400
    ? new URL(first.headers.location, authorize).searchParams.get('code') : null;
  if (!code) return false;
  const token = await exchange(agent, 'POST', metadata.token_endpoint, {
    authorization: basic, 'content-type': 'application/x-www-form-urlencoded',
  }, new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: a['redirect-uri'], code_verifier: VERIFIER }).toString());
  if (token.status !== 200) return false;
  const tokens = JSON.parse(token.body.toString('utf8'));
  if (!tokens.id_token || !tokens.access_token) return false;
  const userinfo = await exchange(agent, 'GET', metadata.userinfo_endpoint, { authorization: `Bearer ${tokens.access_token}` });
  return userinfo.status === 200;
}

const connections = Number(a.connections);
const deadline = Date.now() + Number(a.duration) * 1000;
let serial = 0;
const started = process.hrtime.bigint();
const loops = Array.from({ length: connections }, async (_, index) => {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const cookie = cookies[index % cookies.length];
  let flows = 0;
  let errors = 0;
  while (Date.now() < deadline) {
    serial += 1;
    try {
      if (await flow(agent, cookie, serial)) flows += 1; else errors += 1;
    } catch {
      errors += 1;
    }
  }
  agent.destroy();
  return { flows, errors };
});
const results = await Promise.all(loops);
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
const flows = results.reduce((n, r) => n + r.flows, 0);
const errors = results.reduce((n, r) => n + r.errors, 0);
process.stdout.write(`${JSON.stringify({ issuer: a.issuer, connections, seconds, flows, errors, flowsPerSecond: flows / seconds })}\n`);
