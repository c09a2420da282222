// What tests/oidc/run.sh set up for the node suites: the running payfac
// (its issuer URL), the merchant and its key, the registered clients, and
// a buyer signed in the way a merchant's link signs one in.

import { readFileSync } from 'node:fs';

import { run } from '../browser/serve.mjs';

function need(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run these tests through tests/oidc/run.sh`);
  return value;
}

export const ready = Boolean(process.env.OIDC_ISSUER);
export const skip = ready ? false : 'not run through tests/oidc/run.sh (OIDC_ISSUER is not set)';

export const env = ready
  ? {
    payfac: need('PAYFAC_BIN'),
    issuer: need('OIDC_ISSUER'),
    merchant: need('OIDC_MERCHANT'),
    merchantKey: need('OIDC_MERCHANT_KEY'),
    callback: need('OIDC_CALLBACK'),
    apache: process.env.OIDC_APACHE ?? '',
    apacheLog: process.env.OIDC_APACHE_LOG ?? '',
    // { confidential, other, public, eddsa, apache }: { clientId, clientSecret? }
    clients: JSON.parse(readFileSync(need('OIDC_CLIENTS'), 'utf8')),
  }
  : null;

let serial = 0;

// A signed user-sync for a new buyer (the CLI signs it with the merchant's
// key): { userId, code, userNo, email }.
export async function syncBuyer(prefix = 'B') {
  serial += 1;
  const userNo = `${prefix}${process.pid}-${serial}`;
  const email = `${userNo.toLowerCase()}@example.com`;
  const done = await run(env.payfac, ['user-sync', '--url', env.issuer, '--merchant', env.merchant,
    '--key', env.merchantKey, '--merchant-user-no', userNo, '--email', email,
    '--first-name', 'Zoë', '--last-name', 'Doe']);
  if (done.code !== 0) throw new Error(`payfac user-sync: ${done.stderr}`);
  const { data } = JSON.parse(done.stdout);
  return { userId: String(data.userId), code: data.authorizationCode, userNo, email };
}

// A cookie jar for one origin: what Set-Cookie set, sent back as Cookie.
export class CookieJar {
  #cookies = new Map();

  take(response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const at = pair.indexOf('=');
      const name = pair.slice(0, at).trim();
      const value = pair.slice(at + 1).trim();
      const expired = attributes.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a));
      if (expired || value === '') this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }

  has(name) { return this.#cookies.has(name); }

  header() { return [...this.#cookies].map(([n, v]) => `${n}=${v}`).join('; '); }

  // fetch() with the jar's cookies, no redirect followed, cookies kept.
  async fetch(url, init = {}) {
    const headers = new Headers(init.headers);
    if (this.#cookies.size) headers.set('cookie', this.header());
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    this.take(response);
    return response;
  }
}

// A buyer signed in on payfac: the merchant's code link opened with a
// fresh cookie jar, which then holds the buyer's session.
export async function signedInBuyer(prefix) {
  const buyer = await syncBuyer(prefix);
  const jar = new CookieJar();
  const response = await jar.fetch(`${env.issuer}/?authorizationCode=${encodeURIComponent(buyer.code)}`);
  await response.arrayBuffer();
  if (response.status !== 303 || !jar.has('payfac_session')) {
    throw new Error(`the code link answered ${response.status} without a session cookie`);
  }
  return { ...buyer, jar };
}
